package main

import (
	"context"
	"fmt"

	"github.com/tcpreap/tcpreap/cmd/tcpreap/internal/render"
	"github.com/tcpreap/tcpreap/doctor"
	"github.com/tcpreap/tcpreap/host"
	"github.com/tcpreap/tcpreap/sockdiag"
	"github.com/urfave/cli/v3"
)

// doctorCommand is tcpreap doctor: the facts behind the runbooks, measured here.
func doctorCommand(args []string, io streams) *cli.Command {
	f := &doctorFlags{}
	return &cli.Command{
		Name:  "doctor",
		Usage: "what this kernel can do, what the sysctls mean, port pressure, leaks",
		Description: `Says, each with the number it rests on: whether this kernel lists and destroys TCP and
UDP sockets (asked of the kernel, with no privilege needed; a TCP connection and a UDP
socket of its own on 127.0.0.1 must show in a dump, or a diag module is missing), TIME_WAIT
and orphan destroys, MPTCP; what tcp_fin_timeout, tcp_tw_reuse, tcp_max_tw_buckets,
ip_local_port_range, tcp_retries2 and keepalive really do (and that tcp_tw_recycle is gone
since 4.12); which destinations hold more than half of the local ports; and which processes
leak CLOSE_WAIT sockets. Destroys nothing. Exit 0 when nothing warns, 1 when something does.

Examples:
  tcpreap doctor                          the report
  tcpreap doctor --json | jq '.findings[] | select(.warn)'`,
		Flags:  []cli.Flag{netnsFlag(&f.netns), jsonFlag(&f.json)},
		Action: action(&f.command, args, func(ctx context.Context) error { return diagnose(ctx, f, io) }),
	}
}

// doctorFlags are doctor's.
type doctorFlags struct {
	command
	netns string
	json  bool
}

// doctorSysctls are the settings the doctor reads, under /proc/sys/net.
var doctorSysctls = []string{"ipv4.tcp_fin_timeout", "ipv4.tcp_tw_reuse", "ipv4.tcp_tw_recycle", "ipv4.tcp_max_tw_buckets",
	"ipv4.tcp_retries2", "ipv4.tcp_keepalive_time", "ipv4.tcp_keepalive_intvl", "ipv4.tcp_keepalive_probes", "mptcp.enabled"}

func diagnose(ctx context.Context, o *doctorFlags, io streams) error {
	if len(o.words) > 0 {
		return usagef("doctor takes no arguments (it looks at every socket): %q", o.words[0])
	}
	// Every TCP and UDP socket, listeners too.
	sel, err := newSelection(ctx, &selectFlags{netns: o.netns, tcp: true, udp: true}, nil, false)
	if err != nil {
		return selectionError(err)
	}
	sel.Filter.States = sockdiag.AllStates
	run, c, err := takeCensus(ctx, sel, 10, io, o.json)
	if err != nil {
		return err
	}
	defer run.Close()
	// The settings are the namespace's own: read from a thread in it; the
	// doctor's own sockets after the census, which they are not to be in,
	// on the namespace's loopback (sockets are made by the thread that asks).
	var facts doctor.Facts
	err = run.Do(func(conn *sockdiag.Conn) (err error) {
		facts.Sysctls = host.Sysctls(doctorSysctls...)
		if facts.PortRange, err = host.LocalPortRange(); err != nil {
			return fmt.Errorf("cannot read net.ipv4.ip_local_port_range: %v", err)
		}
		facts.Own = doctor.CheckOwn(ctx, conn)
		facts.Support, facts.Orphans = conn.Probe(ctx), conn.DestroysOrphans(ctx)
		return nil
	})
	if err != nil {
		return err
	}
	facts.Census = c
	findings := doctor.Examine(facts)
	if err := render.Doctor(io.Out, findings, o.json); err != nil {
		return err
	}
	if doctor.Warns(findings) {
		return exitError{exitFailure}
	}
	return nil
}
