package main

import (
	"context"
	"slices"

	"github.com/urfave/cli/v3"

	"github.com/tcpreap/tcpreap/cmd/tcpreap/internal/render"
	"github.com/tcpreap/tcpreap/reap"
)

// listCommand prints what tcpreap would destroy.
func listCommand(args []string, io streams) *cli.Command {
	f := &listFlags{}
	return &cli.Command{
		Name:      "list",
		Aliases:   []string{"ls"},
		Usage:     "print the sockets a selection matches; destroy nothing",
		ArgsUsage: "[PEER...]",
		Description: `Prints the plan that tcpreap with the same selection would carry out: every
matching socket, destroy or skip with the reason, and a summary.
Destroys nothing and needs no privilege. Without a selector it lists every
connection (all states but listen).

Examples:
  # what "tcpreap 192.0.2.34" would destroy
  tcpreap list 192.0.2.34
  # every socket, as NDJSON
  tcpreap list --state all --json | jq .
  # UDP sockets, connected or not
  tcpreap ls -u --state all
  # who holds the CLOSE-WAIT sockets
  tcpreap list -p --state close_wait
  # how long each database connection has been idle
  tcpreap list -e --dport 5432
  # in network namespace web1 (ip netns)
  tcpreap list --netns web1 --port 443
  # in every namespace: containers too
  tcpreap list --all-netns --dport 6379`,
		Flags: slices.Concat(f.selectFlags.flags(), []cli.Flag{netnsFlag(&f.netns), f.allNetnsFlag(), includeSelfFlag(&f.includeSelf, includeSelfShows), f.maxFlag.flag(socketWords),
			&cli.BoolFlag{Name: "processes", Aliases: []string{"p"}, Destination: &f.processes,
				Usage: "show the processes that hold each socket, and its receive and send queues"},
			&cli.BoolFlag{Name: "extended", Aliases: []string{"e"}, Destination: &f.extended,
				Usage: "show how long each TCP connection has been idle, its rtt, and each socket's timer (retransmissions and unacked segments in --json)"},
		}, f.outputFlags.flags("socket")),
		Action: action(&f.command, args, func(ctx context.Context) error { return listSockets(ctx, f, io) }),
	}
}

// listFlags are list's, and what tcpreap -n passes on.
type listFlags struct {
	command
	selectFlags
	maxFlag
	outputFlags
	processes bool   // list -p: the processes that hold each socket
	extended  bool   // list -e: what struct tcp_info says of each
	engine    string // a dry run's --engine, whose plan it shows; "" for auto
}

// listSockets is list.
func listSockets(ctx context.Context, f *listFlags, io streams) error {
	sel, err := newSelection(ctx, &f.selectFlags, f.words, true)
	if err != nil {
		return selectionError(err)
	}
	return showSockets(ctx, sel, f, io)
}

// showSockets prints the plan of a selection, destroying nothing.
func showSockets(ctx context.Context, sel *selection, f *listFlags, io streams) error {
	sel.WantOwners = f.processes
	// list -e, and a selection by tcp_info, which a list shows (the Idle
	// column).
	sel.WantInfo = f.extended || sel.Filter.Idle > 0 || sel.Filter.Stalled > 0
	if err := f.check(socketWords); err != nil {
		return err
	}
	run, err := query(ctx, sel, 0, f.engine, io, f.quiet)
	if err != nil {
		return err
	}
	defer run.Close()
	return dryRun(run, &f.maxFlag, render.Sockets{W: io.Out, JSON: f.json, Quiet: f.quiet, Extended: f.extended})
}

// dryRun prints what run would do, destroying nothing: over --max, the
// plan is shown, then refused as the real run would be.
func dryRun(run *reap.Run, m *maxFlag, r render.Sockets) error {
	refused := refuseOverMax(m, run.Targets(), socketWords)
	if refused != nil {
		r.Refused = refused.msg
	}
	if err := r.Report(run.DryRun()); err != nil || refused == nil {
		return err
	}
	return *refused
}
