package main

import (
	"context"
	"slices"

	"github.com/urfave/cli/v3"
)

// reapCommand is tcpreap itself: plan the selection, then destroy it.
func reapCommand(args []string, io streams) *cli.Command {
	f := &reapFlags{}
	return &cli.Command{
		Name:      "tcpreap",
		Usage:     "destroy the sockets a selection matches",
		ArgsUsage: "[PEER...]",
		Description: `Destroys the sockets the selection matches; list and -n only print them. It
plans them, destroys each with SOCK_DESTROY by the cookie it was dumped
with, checks with a second dump that they are gone, and reports every
socket: destroyed, gone (closed or replaced before the destroy), failed,
or skipped.

PEER is the remote end: IP, CIDR, IP:PORT, [IPv6]:PORT, a bare IPv6 address,
a link-local one with its interface (fe80::1%eth0, as --interface eth0) or a
host name (every address it has). Several PEERs select sockets matching any
of them; all given selectors must hold. With no selector at all, nothing
is destroyed without --all. On a terminal, the plan's summary is shown and
confirmed first. Idempotent: a socket already gone counts as done.

Examples:
  # cut every connection with that peer
  tcpreap 192.0.2.34
  # reap a service's CLOSE-WAIT sockets
  tcpreap --state close_wait --port postgresql
  # free TIME-WAIT ports towards :443
  tcpreap --state time_wait --dport 443
  # reap what a leaking application holds
  tcpreap --process java --state close_wait
  # cut clients hanging on a database that is gone
  tcpreap --stalled --dport 5432
  # reap inside a container, by a process of it
  tcpreap --netns pid:4711 --state close_wait
  # that peer's connections in every namespace
  tcpreap --all-netns -n 192.0.2.34
  # dry run: print the plan only
  tcpreap -n 192.0.2.0/24
  # after a failover: what the lost address held, 200 a second
  tcpreap -y --local-gone --rate 200/s
  # in a runbook: no prompt, a limit, NDJSON
  tcpreap -y --max 500 --json 192.0.2.34

Exit codes: 0 every target gone (or a dry run), 1 runtime failure, 2 bad
input, 3 refused (--max, confirmation declined).`,
		Flags: slices.Concat(f.selectFlags.flags(), []cli.Flag{netnsFlag(&f.netns), f.allNetnsFlag(), includeSelfFlag(&f.includeSelf, includeSelfDestroys)},
			f.actFlags.flags(socketWords, "socket"), f.destroyFlags.flags(), []cli.Flag{f.dryRunFlag(socketWords, "list"), f.allFlag(socketWords)}),
		Action: action(&f.command, args, func(ctx context.Context) error { return reapSockets(ctx, f, io) }),
	}
}

// reapFlags are tcpreap's own.
type reapFlags struct {
	command
	selectFlags
	actFlags
	destroyFlags
}

// reapSockets is the whole pipeline: selection, query, plan, destroy. A dry
// run is list, but it rehearses the real run: over every namespace it does
// not pass over one it cannot look at (the real run would refuse).
func reapSockets(ctx context.Context, f *reapFlags, io streams) error {
	sel, err := newSelection(ctx, &f.selectFlags, f.words, false)
	if err != nil {
		return selectionError(err)
	}
	// A dry run rehearses the real run: the same refusal.
	if !sel.HasSelector() && !f.all {
		return usagef("refusing to destroy every socket: name a PEER or a selector (--state, --port, --local-port, --remote-port, --local, --interface, --pid, --process, --uid, --cgroup, --idle, --stalled, --local-gone, --peer-not-in), or give --all")
	}
	if err := f.paced(); err != nil {
		return err
	}
	if f.dryRun {
		return showSockets(ctx, sel, &listFlags{command: f.command, selectFlags: f.selectFlags, maxFlag: f.maxFlag, outputFlags: f.outputFlags, engine: f.engine}, io)
	}
	if err := f.check(socketWords); err != nil {
		return err
	}
	run, err := query(ctx, sel, f.workers, f.engine, io, f.quiet)
	if err != nil {
		return err
	}
	defer run.Close()
	if err := run.Arrange(ctx, f.order); err != nil {
		return err
	}
	return act(ctx, &f.command, &f.actFlags, io, socketCut{run, &f.destroyFlags})
}
