package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/tcpreap/tcpreap/census"
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
		Usage:     "count the matching sockets by state, peer, port and process; destroy nothing",
		ArgsUsage: "[PEER...]",
		Description: `Counts the sockets the selection matches (without --state: every state, listeners
too) by state, peer, local port and the process that holds them, calls out the processes
that hold CLOSE_WAIT sockets (a leak: the application never closes what its peer closed),
and counts the TIME_WAIT sockets of outgoing connections per destination (each holds a
local port of net.ipv4.ip_local_port_range for that destination until it expires). Reads
every process's open files; destroys nothing.

Examples:
  tcpreap summary                          the whole host's TCP sockets
  tcpreap top --state close_wait           who leaks CLOSE_WAIT sockets
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
		return json.NewEncoder(io.Out).Encode(censusJSON(c))
	}
	return writeCensus(io.Out, c, o.top)
}

// takeCensus counts the sockets the options select (every state, listeners
// too, when --state is not given) with the processes that hold them, and
// the TIME_WAIT of outgoing connections by the local port range. It
// destroys nothing; the connection is the caller's to close.
func takeCensus(ctx context.Context, sel *selection, top int, io streams, quiet bool) (*reap.Run, *census.Census, error) {
	// Who holds what, and how long their CLOSE_WAIT sockets have been idle;
	// nothing is destroyed, so the session is no exception.
	sel.WantOwners, sel.WantInfo, sel.IncludeSelf = true, true, true
	run, err := query(ctx, sel, 0, io, quiet)
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

// writeCensus prints the census as sections of rows, each with a bar, the
// counts of every section in one column.
func writeCensus(w io.Writer, c *census.Census, top int) error {
	type row struct {
		label string
		n     int
		note  string
	}
	type section struct {
		title string
		rows  []row
	}
	var sections []section
	add := func(title string, rows []row) { sections = append(sections, section{title, rows}) }
	var rows []row
	for _, s := range c.States {
		rows = append(rows, row{s.State.Label(), s.Sockets, ""})
	}
	add("By state", rows)
	rows = nil
	for _, p := range c.Peers {
		rows = append(rows, row{p.Peer.String(), p.Sockets, ""})
	}
	add(fmt.Sprintf("Peers (top %d)", top), rows)
	rows = nil
	for _, p := range c.LocalPorts {
		rows = append(rows, row{fmt.Sprintf(":%d", p.Port), p.Sockets, ""})
	}
	add(fmt.Sprintf("Local ports (top %d)", top), rows)
	rows = nil
	for _, h := range c.Holders {
		note := ""
		if h.CloseWait > 0 {
			note = fmt.Sprintf("  %d CLOSE_WAIT", h.CloseWait)
		}
		rows = append(rows, row{fmt.Sprintf("%s pid %d", printable(h.Command), h.PID), h.Sockets, note})
	}
	add(fmt.Sprintf("Processes (top %d)", top), rows)
	rows = nil
	for _, d := range c.TimeWait {
		rows = append(rows, row{endpoint(d.Destination, ""), d.Sockets, ""})
	}
	add(fmt.Sprintf("TIME_WAIT of outgoing connections, by destination (top %d): each holds a local port", top), rows)

	width := 0
	for _, s := range sections {
		for _, r := range s.rows {
			width = max(width, displayWidth(r.label))
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s matched; %d held by no process (TIME_WAIT, orphans)\n", plural(c.Sockets, "socket"), c.Unheld)
	for i, s := range sections {
		if len(s.rows) > 0 {
			fmt.Fprintf(&b, "\n%s\n", s.title)
		}
		most := 0
		for _, r := range s.rows {
			most = max(most, r.n)
		}
		for _, r := range s.rows {
			bar := strings.Repeat("#", max(1, r.n*30/max(most, 1)))
			line := fmt.Sprintf("  %s %9d  %-30s%s", padTo(r.label, width), r.n, bar, r.note)
			b.WriteString(strings.TrimRight(line, " ") + "\n")
		}
		if i == 3 && len(c.CloseWait) > 0 { // after the processes
			b.WriteString("\nCLOSE_WAIT: the peer closed, the application has not (a leak, if it lasts)\n")
			for _, h := range c.CloseWait {
				idle := ""
				if h.OldestIdle > 0 {
					idle = ", oldest idle " + h.OldestIdle.Round(time.Second).String()
				}
				fmt.Fprintf(&b, "  %s pid %d holds %s on :%d%s\n", printable(h.Command), h.PID, plural(h.CloseWait, "CLOSE_WAIT socket"), h.CloseWaitPort, idle)
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// censusJSON is summary --json: one object; its fields are a contract.
func censusJSON(c *census.Census) any {
	type count struct {
		Key     string `json:"key"`
		Sockets int    `json:"sockets"`
	}
	type holder struct {
		PID           int    `json:"pid"`
		Command       string `json:"command"`
		Sockets       int    `json:"sockets"`
		CloseWait     int    `json:"close_wait"`
		CloseWaitPort uint16 `json:"close_wait_port,omitempty"`
		OldestIdleMS  int64  `json:"oldest_idle_ms,omitempty"`
	}
	out := struct {
		Sockets    int            `json:"sockets"`
		Unheld     int            `json:"unheld"`
		States     map[string]int `json:"states"`
		Peers      []count        `json:"peers"`
		LocalPorts []count        `json:"local_ports"`
		Processes  []holder       `json:"processes"`
		CloseWait  []holder       `json:"close_wait"`
		TimeWait   []count        `json:"time_wait"`
	}{Sockets: c.Sockets, Unheld: c.Unheld, States: map[string]int{},
		Peers: []count{}, LocalPorts: []count{}, Processes: []holder{}, CloseWait: []holder{}, TimeWait: []count{}}
	for _, s := range c.States {
		out.States[s.State.String()] = s.Sockets
	}
	for _, p := range c.Peers {
		out.Peers = append(out.Peers, count{p.Peer.String(), p.Sockets})
	}
	for _, p := range c.LocalPorts {
		out.LocalPorts = append(out.LocalPorts, count{fmt.Sprint(p.Port), p.Sockets})
	}
	for _, h := range c.Holders {
		out.Processes = append(out.Processes, holder{h.PID, h.Command, h.Sockets, h.CloseWait, h.CloseWaitPort, h.OldestIdle.Milliseconds()})
	}
	for _, h := range c.CloseWait {
		out.CloseWait = append(out.CloseWait, holder{h.PID, h.Command, h.Sockets, h.CloseWait, h.CloseWaitPort, h.OldestIdle.Milliseconds()})
	}
	for _, d := range c.TimeWait {
		out.TimeWait = append(out.TimeWait, count{d.Destination.String(), d.Sockets})
	}
	return out
}
