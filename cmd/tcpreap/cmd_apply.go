package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"

	"github.com/tcpreap/tcpreap/cmd/tcpreap/internal/render"
	"github.com/tcpreap/tcpreap/host"
	"github.com/tcpreap/tcpreap/planfile"
	"github.com/tcpreap/tcpreap/reap"
	"github.com/urfave/cli/v3"
)

// applyCommand destroys the sockets of a plan file.
func applyCommand(args []string, io streams) *cli.Command {
	f := &applyFlags{}
	return &cli.Command{
		Name:      "apply",
		Usage:     "destroy the sockets of a plan file that still exist",
		ArgsUsage: "PLAN-FILE",
		Description: `Destroys the sockets of a plan file written by "tcpreap plan", each by its
cookie: a socket that closed or was replaced since is reported gone, and
nothing else is touched. The file is checked whole first (digest, version,
boot, network namespace); one that was edited, cut short or made elsewhere
is refused and nothing is destroyed. The guards run again: the SSH session
apply runs in is kept. A plan made with no selector needs --all. With -n,
prints each socket as it stands now: destroy, gone (closed since), or skip
(kept back by the checks above), and destroys nothing.

Examples:
  # review: what apply would do now
  tcpreap apply -n reap.plan
  tcpreap apply reap.plan
  # in a runbook: no prompt, a limit
  tcpreap apply -y --max 100 reap.plan
  ssh db1 tcpreap plan 192.0.2.34 | ssh db1 tcpreap apply -y -`,
		Flags: slices.Concat(f.actFlags.flags(socketWords, "socket"), f.destroyFlags.flags(),
			[]cli.Flag{includeSelfFlag(&f.includeSelf, includeSelfDestroys), &cli.BoolFlag{Name: "dry-run", Aliases: []string{"n"}, Destination: &f.dryRun, Usage: "print the plan as its sockets stand now, destroy nothing"}, f.allFlag(socketWords)}),
		Action: action(&f.command, args, func(ctx context.Context) error { return apply(ctx, f, io) }),
	}
}

// applyFlags are apply's.
type applyFlags struct {
	command
	actFlags
	destroyFlags
	includeSelf bool
}

// apply destroys the sockets of a plan file that still exist with their
// cookies; the others are reported gone.
func apply(ctx context.Context, o *applyFlags, io streams) error {
	if len(o.words) != 1 {
		return usagef("apply takes one plan file, or - for stdin (see tcpreap plan)")
	}
	if err := o.check(socketWords); err != nil {
		return err
	}
	if err := o.paced(); err != nil {
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
	run, err := reap.FromFile(ctx, f, o.includeSelf, reap.QueryOptions{Workers: o.workers, Engine: o.engine})
	var ie *reap.InputError
	switch {
	case errors.As(err, &ie) && errors.Is(err, fs.ErrPermission):
		return notPermitted{fmt.Errorf("plan file %s: %w; nothing was destroyed", name, err)}
	case errors.As(err, &ie):
		return usagef("plan file %s: %w; nothing was destroyed", name, err)
	case err != nil:
		return err
	}
	defer run.Close()
	io.notes(o.quiet, run.Notes()...)
	if o.dryRun {
		return dryRun(run, &o.maxFlag, render.Sockets{W: io.Out, JSON: o.json, Quiet: o.quiet})
	}
	if err := run.Arrange(ctx, o.order); err != nil {
		return err
	}
	return act(ctx, &o.command, &o.actFlags, io, socketCut{run, &o.destroyFlags})
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
	case errors.As(err, &elsewhere):
		return nil, usagef("plan file %s: %w, or make it with --netns; nothing was destroyed", name, err)
	case err != nil:
		return nil, usagef("plan file %s: %w; nothing was destroyed", name, err)
	}
	return f, nil
}
