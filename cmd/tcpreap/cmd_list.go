package main

import (
	"context"
	"slices"

	"github.com/urfave/cli/v3"
)

// listCommand prints what tcpreap would destroy.
func listCommand(args []string, io streams) *cli.Command {
	o := &options{}
	return &cli.Command{
		Name:      "list",
		Aliases:   []string{"ls"},
		Usage:     "print the sockets the same selection matches; destroy nothing",
		ArgsUsage: "[PEER...]",
		Description: `Prints the plan that tcpreap with the same selection would carry out: every matching
socket, would_kill or skipped with the reason, and a summary. Destroys nothing and needs
no privilege. Without a selector it lists every connection (all states but listen).

Examples:
  tcpreap list 192.0.2.34                     what "tcpreap 192.0.2.34" would destroy
  tcpreap list --state all --json | jq .      every socket, as NDJSON
  tcpreap ls -u --state all                   UDP sockets, connected or not
  tcpreap list -p --state close_wait          who holds the CLOSE_WAIT sockets
  tcpreap list -e --dport 5432                how long each database connection has been idle
  tcpreap list --netns web1 --port 443        in network namespace web1 (ip netns)
  tcpreap list --all-netns --dport 6379       in every namespace: containers too`,
		Flags:  slices.Concat(o.selectionFlags(), []cli.Flag{o.netnsFlag(), o.allNetnsFlag(), o.includeSelfFlag(false), o.maxFlag(), o.processesFlag(), o.extendedFlag()}, o.outputFlags()),
		Action: o.action(args, func(ctx context.Context, o *options) error { return list(ctx, o, io) }),
	}
}

func list(ctx context.Context, o *options, io streams) error {
	o.listing = true
	sel, err := newSelection(ctx, o)
	if err != nil {
		return selectionError(err)
	}
	if err := o.checkMax(); err != nil {
		return err
	}
	ps, err := query(ctx, sel, 0)
	if err != nil {
		return err
	}
	defer ps.close()
	sel.tell(io, o.quiet)
	if err := o.overMax(ps.targets()); err != nil {
		return err
	}
	results, spaces := ps.dryRun()
	return renderer{w: io.Out, json: o.json, quiet: o.quiet, owners: sel.ownerTable(o.processes), infos: sel.infos, extended: o.extended, spaces: spaces}.report(results, true)
}
