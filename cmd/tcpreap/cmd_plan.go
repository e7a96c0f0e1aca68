package main

import (
	"context"

	"github.com/tcpreap/tcpreap/host"
	"github.com/tcpreap/tcpreap/planfile"
	"github.com/urfave/cli/v3"
)

// planCommand writes a plan file for tcpreap apply.
func planCommand(args []string, io streams) *cli.Command {
	o := &options{}
	return &cli.Command{
		Name:      "plan",
		Usage:     "write the selection's plan to a file, for tcpreap apply; destroy nothing",
		ArgsUsage: "[PEER...]",
		Description: `Writes on stdout the plan that tcpreap with the same selection would carry out, as a
plan file: NDJSON, one line per socket with its full identity (cookie included), between
a header and a summary with a SHA-256 digest. Review it, then "tcpreap apply FILE"
destroys exactly those sockets that still exist. Destroys nothing.

Examples:
  tcpreap plan --state close_wait --port postgresql > reap.plan
  jq -c 'select(.action)' reap.plan           review: one socket per line
  tcpreap apply reap.plan`,
		Flags:  append(o.selectionFlags(), o.netnsFlag(), o.allNetnsFlag(), o.includeSelfFlag(false), o.maxFlag()),
		Action: o.action(args, func(ctx context.Context, o *options) error { return writePlan(ctx, o, io) }),
	}
}

func writePlan(ctx context.Context, o *options, io streams) error {
	sel, err := newSelection(ctx, o)
	if err != nil {
		return selectionError(err)
	}
	if err := o.checkMax(); err != nil {
		return err
	}
	here, err := host.Here()
	if err != nil {
		return err
	}
	ps, err := query(ctx, sel, 0)
	if err != nil {
		return err
	}
	defer ps.close()
	sel.tell(io, false)
	if err := o.overMax(ps.targets()); err != nil {
		return err
	}
	f := &planfile.File{Header: planfile.Header{Command: o.args, Everything: !sel.hasSelector()}}
	for i, p := range ps {
		// A namespace with nothing in the plan is left out: apply would only
		// refuse the plan when it is gone.
		if len(p.plan.Targets)+len(p.plan.Skipped) > 0 || (i == len(ps)-1 && len(f.Parts) == 0) {
			f.Parts = append(f.Parts, planfile.Part{Namespace: planfile.NamespaceOf(p.ns, here), Plan: p.plan})
		}
	}
	return planfile.Write(io.Out, f, here)
}
