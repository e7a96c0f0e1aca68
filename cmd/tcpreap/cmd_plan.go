package main

import (
	"context"
	"fmt"
	"os"
	"slices"

	"github.com/tcpreap/tcpreap/cmd/tcpreap/internal/render"
	"github.com/tcpreap/tcpreap/host"
	"github.com/tcpreap/tcpreap/planfile"
	"github.com/urfave/cli/v3"
)

// planCommand writes a plan file for tcpreap apply.
func planCommand(args []string, io streams) *cli.Command {
	f := &planFlags{}
	return &cli.Command{
		Name:      "plan",
		Usage:     "write the selection's plan for apply; destroy nothing",
		ArgsUsage: "[PEER...]",
		Description: `Writes on stdout the plan that tcpreap with the same selection would carry
out, as a plan file: NDJSON, one line per socket with its full identity
(cookie included), between a header and a summary with a SHA-256 digest.
Says on stderr how many sockets it planned and where. Review it (apply -n),
then "tcpreap apply FILE" destroys exactly those sockets that still exist.
Destroys nothing.

Examples:
  tcpreap plan --state close_wait --port postgresql > reap.plan
  # review: what apply would do now, socket by socket
  tcpreap apply -n reap.plan
  tcpreap apply reap.plan`,
		Flags:  slices.Concat(f.selectFlags.flags(), []cli.Flag{netnsFlag(&f.netns), f.allNetnsFlag(), includeSelfFlag(&f.includeSelf, includeSelfShows), f.maxFlag.flag(socketWords)}),
		Action: action(&f.command, args, func(ctx context.Context) error { return writePlan(ctx, f, io) }),
	}
}

// planFlags are plan's.
type planFlags struct {
	command
	selectFlags
	maxFlag
}

func writePlan(ctx context.Context, f *planFlags, io streams) error {
	sel, err := newSelection(ctx, &f.selectFlags, f.words, false)
	if err != nil {
		return selectionError(err)
	}
	if err := f.check(socketWords); err != nil {
		return err
	}
	here, err := host.Here()
	if err != nil {
		return err
	}
	run, err := query(ctx, sel, 0, "", io, false)
	if err != nil {
		return err
	}
	defer run.Close()
	if refused := refuseOverMax(&f.maxFlag, run.Targets(), socketWords); refused != nil {
		return *refused // no plan file: apply would carry out what --max refused
	}
	file, err := run.File(f.args, !sel.HasSelector())
	if err != nil {
		return err
	}
	if err := planfile.Write(io.Out, file, here); err != nil {
		return err
	}
	path, _ := host.FilePath(io.Out)
	if host.Discards(io.Out) {
		path = os.DevNull
	}
	fmt.Fprintln(io.ErrOut, render.PlanWritten(run.Targets(), run.Skipped(), run.Spaces(), path))
	return nil
}
