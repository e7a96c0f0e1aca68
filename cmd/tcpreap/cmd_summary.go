package main

import (
	"context"
	"slices"

	"github.com/tcpreap/tcpreap/census"
	"github.com/tcpreap/tcpreap/cmd/tcpreap/internal/render"
	"github.com/tcpreap/tcpreap/host"
	"github.com/tcpreap/tcpreap/reap"
	"github.com/tcpreap/tcpreap/sockdiag"
	"github.com/urfave/cli/v3"
)

// summaryCommand is tcpreap summary: what is going on, on one screen.
func summaryCommand(args []string, io streams) *cli.Command {
	f := &summaryFlags{}
	return &cli.Command{
		Name:      "summary",
		Aliases:   []string{"top"},
		Usage:     "count the matching sockets; destroy nothing",
		ArgsUsage: "[PEER...]",
		Description: `Counts the sockets the selection matches (without --state: every state,
listeners too) by state, peer, local port and the process that holds them,
calls out the processes that hold CLOSE-WAIT sockets (a leak: the
application never closes what its peer closed), and counts the TIME-WAIT
sockets of outgoing connections per destination (each holds a local port of
net.ipv4.ip_local_port_range for that destination until it expires). Reads
every process's open files; destroys nothing.

Examples:
  tcpreap summary                          the whole host's TCP sockets
  tcpreap top --state close_wait           who leaks CLOSE-WAIT sockets
  tcpreap summary -u --json | jq .states   UDP, as one JSON object
  tcpreap summary --port postgresql        one service's connections`,
		Flags: slices.Concat(f.selectFlags.flags(), []cli.Flag{netnsFlag(&f.netns),
			&cli.IntFlag{Name: "top", Destination: &f.top, Value: 10, Config: cli.IntegerConfig{Base: 10}, Usage: "show the `N` largest of each ranking"},
			jsonFlag(&f.json)}),
		Action: action(&f.command, args, func(ctx context.Context) error { return summarize(ctx, f, io) }),
	}
}

// summaryFlags are summary's.
type summaryFlags struct {
	command
	selectFlags
	top  int
	json bool
}

func summarize(ctx context.Context, o *summaryFlags, io streams) error {
	if o.top < 1 || o.top > 1000 {
		return usagef("--top %d: give how many of each to show, 1 to 1000", o.top)
	}
	sel, err := newSelection(ctx, &o.selectFlags, o.words, false)
	if err != nil {
		return selectionError(err)
	}
	if len(o.states) == 0 {
		sel.Filter.States = sockdiag.AllStates
	}
	run, c, err := takeCensus(ctx, sel, o.top, io, o.json)
	if err != nil {
		return err
	}
	defer run.Close()
	if o.json {
		return render.CensusJSON(io.Out, c)
	}
	return render.Census(io.Out, c, o.top)
}

// takeCensus counts the sockets the options select (every state, listeners
// too, when --state is not given) with the processes that hold them, and
// the TIME_WAIT of outgoing connections by the local port range. It
// destroys nothing; the connection is the caller's to close.
func takeCensus(ctx context.Context, sel *selection, top int, io streams, quiet bool) (*reap.Run, *census.Census, error) {
	// Who holds what, and how long their CLOSE_WAIT sockets have been idle;
	// nothing is destroyed, so the session is no exception.
	sel.WantOwners, sel.WantInfo, sel.IncludeSelf = true, true, true
	run, err := query(ctx, sel, 0, "", io, quiet)
	if err != nil {
		return nil, nil, err
	}
	var ephemeral [2]uint16
	if run.Do(func(*sockdiag.Conn) (err error) { ephemeral, err = host.LocalPortRange(); return err }) != nil {
		ephemeral = [2]uint16{32768, 60999} // Linux's default
	}
	c, err := census.Take(run.Sockets(), run.Owners, run.Infos, ephemeral, top)
	if err != nil {
		run.Close()
		return nil, nil, err
	}
	return run, c, nil
}
