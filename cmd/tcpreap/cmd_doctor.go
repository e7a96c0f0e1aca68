package main

import (
	"context"

	"github.com/tcpreap/tcpreap/cmd/tcpreap/internal/render"
	"github.com/tcpreap/tcpreap/doctor"
	"github.com/tcpreap/tcpreap/inet"
	"github.com/tcpreap/tcpreap/reap"
	"github.com/tcpreap/tcpreap/sockdiag"
	"github.com/urfave/cli/v3"
)

// doctorCommand is tcpreap doctor: the facts behind the runbooks, measured here.
func doctorCommand(args []string, io streams) *cli.Command {
	f := &doctorFlags{}
	return &cli.Command{
		Name:  "doctor",
		Usage: "what this host can do, its settings, port pressure, leaks",
		Description: `Says, each with the number it rests on: whether this kernel lists and
destroys TCP and UDP sockets (asked of the kernel, with no privilege needed;
a TCP connection and a UDP socket of its own on 127.0.0.1 must show in a
dump, or a diag module is missing), TIME-WAIT and orphan destroys, MPTCP;
what tcp_fin_timeout, tcp_tw_reuse, tcp_max_tw_buckets, ip_local_port_range,
tcp_retries2 and keepalive really do (and that tcp_tw_recycle is gone since
4.12); which destinations hold more than half of the local ports; and which
processes leak CLOSE-WAIT sockets. Destroys nothing. Exit 0 when nothing
warns, 1 when something does.

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

func diagnose(ctx context.Context, o *doctorFlags, io streams) error {
	if len(o.words) > 0 {
		return usagef("doctor takes no arguments (it looks at every socket): %q", o.words[0])
	}
	// Every TCP and UDP socket, listeners too, of the namespace --netns names.
	sel := &selection{
		Selection: reap.Selection{Filter: sockdiag.Filter{Protocols: []inet.Protocol{inet.TCP, inet.UDP}, States: sockdiag.AllStates}},
		where:     reap.Where{NetNS: o.netns},
	}
	run, c, err := takeCensus(ctx, sel, 10, io, o.json)
	if err != nil {
		return err
	}
	defer run.Close()
	facts, err := doctor.Gather(ctx, c, run.Do)
	if err != nil {
		return err
	}
	findings := doctor.Examine(facts)
	if err := render.Doctor(io.Out, findings, o.json, o.netns); err != nil {
		return err
	}
	if doctor.Warns(findings) {
		return exitError{exitFailure}
	}
	return nil
}
