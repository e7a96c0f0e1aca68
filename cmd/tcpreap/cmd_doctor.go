package main

import (
	"context"

	"github.com/tcpreap/tcpreap/doctor"
	"github.com/urfave/cli/v3"
)

// doctorCommand is tcpreap doctor: the facts behind the runbooks, measured here.
func doctorCommand(args []string, io streams) *cli.Command {
	o := &options{}
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
		Flags:  []cli.Flag{o.netnsFlag(), o.jsonFlag()},
		Action: o.action(args, func(ctx context.Context, o *options) error { return diagnose(ctx, o, io) }),
	}
}

func diagnose(ctx context.Context, o *options, io streams) error {
	if len(o.words) > 0 {
		return usagef("doctor takes no arguments (it looks at every socket): %q", o.words[0])
	}
	o.tcp, o.udp, o.top = true, true, 10
	p, c, err := takeCensus(ctx, o, io)
	if err != nil {
		return err
	}
	defer parts{p}.close()
	facts, err := doctor.Gather(ctx, p.conn, c, p.ns.Do)
	if err != nil {
		return inSpace(p.ns, err)
	}
	findings := doctor.Examine(facts)
	if err := writeFindings(io.Out, findings, o.json); err != nil {
		return err
	}
	if doctor.Warns(findings) {
		return exitError{exitFailure}
	}
	return nil
}
