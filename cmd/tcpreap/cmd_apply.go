package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"

	"github.com/tcpreap/tcpreap/host"
	"github.com/tcpreap/tcpreap/kill"
	"github.com/tcpreap/tcpreap/planfile"
	"github.com/urfave/cli/v3"
)

// applyCommand destroys the sockets of a plan file.
func applyCommand(args []string, io streams) *cli.Command {
	o := &options{}
	return &cli.Command{
		Name:      "apply",
		Usage:     "destroy exactly the sockets of a plan file (- for stdin) that still exist",
		ArgsUsage: "PLAN-FILE",
		Description: `Destroys the sockets of a plan file written by "tcpreap plan", each by its cookie: a
socket that closed or was replaced since is reported gone, and nothing else is touched.
The file is checked whole first (digest, version, boot, network namespace); one that was
edited, cut short or made elsewhere is refused and nothing is destroyed. The guards run
again: the SSH session apply runs in is kept. A plan made with no selector needs --all.

Examples:
  tcpreap apply reap.plan
  tcpreap apply -y --max 100 reap.plan        in a runbook: no prompt, a limit
  ssh db1 tcpreap plan 192.0.2.34 | ssh db1 tcpreap apply -y -`,
		Flags:  append(o.destroyFlags(), o.includeSelfFlag(true), o.allFlag()),
		Action: o.action(args, func(ctx context.Context, o *options) error { return apply(ctx, o, io) }),
	}
}

// apply destroys the sockets of a plan file that still exist with their
// cookies; the others are reported gone.
func apply(ctx context.Context, o *options, io streams) error {
	if len(o.words) != 1 {
		return usagef("apply takes one plan file, or - for stdin (see tcpreap plan)")
	}
	if err := errors.Join(o.checkMax(), o.checkWorkers()); err != nil {
		return err
	}
	name := o.words[0]
	if name == "-" && io.Terminal != nil {
		return usagef("apply - reads the plan from stdin, which is a terminal; pipe it in (tcpreap plan … | tcpreap apply -), or give the plan's file")
	}
	f, err := readPlanFile(name, io.In)
	if err != nil {
		return err
	}
	if f.Header.Everything && !o.all {
		return usagef("plan file %s was made with no selector, for every socket; apply it with --all if that is what you mean; nothing was destroyed", name)
	}
	spaces, err := f.Open()
	if errors.Is(err, fs.ErrPermission) {
		return notPermitted{fmt.Errorf("plan file %s: %w; nothing was destroyed", name, err)}
	}
	if err != nil {
		return usagef("plan file %s: %w; nothing was destroyed", name, err)
	}
	// The guards run again where and when the plan is applied, on the
	// sockets as they are now: a plan made elsewhere must not cut the
	// session it is applied from, nor a socket that became another since.
	// LISTEN targets stay: the plan already chose them.
	ss, note := sessionGuard(o.includeSelf)
	notes := []string{note}
	var ps parts
	defer func() { ps.close() }()
	for i, ns := range spaces {
		conn, err := dialIn(ns, o.workers)
		if err != nil {
			closeSpaces(spaces[i:])
			return inSpace(ns, err)
		}
		ps = append(ps, part{ns: ns, conn: conn, plan: f.Parts[i].Plan.Recheck(ctx, conn, kill.Guards{ListenNamed: true, Session: ss})})
		if ns == nil {
			notes = append(notes, staleSession(ctx, conn, ss))
		}
	}
	sel := &selection{notes: notes}
	sel.tell(io, o.quiet)
	return destroy(ctx, o, io, ps)
}

// readPlanFile reads and checks the plan file name ("-": stdin).
func readPlanFile(name string, stdin io.Reader) (*planfile.File, error) {
	here, err := host.Here()
	if err != nil {
		return nil, err
	}
	var f *planfile.File
	if name == "-" {
		f, err = planfile.Read(stdin, here)
	} else {
		f, err = planfile.ReadFile(name, here)
	}
	var elsewhere *planfile.NetNSError
	switch {
	case errors.Is(err, planfile.ErrUnreadable):
		return nil, usageError{err}
	case errors.As(err, &elsewhere):
		return nil, usagef("plan file %s: %w, or make it with --netns; nothing was destroyed", name, err)
	case err != nil:
		return nil, usagef("plan file %s: %w; nothing was destroyed", name, err)
	}
	return f, nil
}
