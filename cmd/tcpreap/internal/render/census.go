package render

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/tcpreap/tcpreap/census"
)

// Census prints the census as sections of rows, each with a bar, the counts
// of every section in one column; top is how many of each ranking it holds.
func Census(w io.Writer, c *census.Census, top int) error {
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
		label := fmt.Sprintf(":%d", p.Ports.Lo)
		if p.Ports.Lo != p.Ports.Hi {
			label = fmt.Sprintf(":%s (ephemeral)", p.Ports)
		}
		rows = append(rows, row{label, p.Sockets, ""})
	}
	add(fmt.Sprintf("Local ports (top %d)", top), rows)
	rows = nil
	for _, h := range c.Holders {
		note := ""
		if h.CloseWait > 0 {
			note = fmt.Sprintf("  %d CLOSE-WAIT", h.CloseWait)
		}
		rows = append(rows, row{fmt.Sprintf("%s pid %d", Printable(h.Command), h.PID), h.Sockets, note})
	}
	add(fmt.Sprintf("Processes (top %d)", top), rows)
	rows = nil
	for _, d := range c.TimeWait {
		rows = append(rows, row{endpoint(d.Destination, ""), d.Sockets, ""})
	}
	add(fmt.Sprintf("TIME-WAIT of outgoing connections, by destination (top %d): each holds a local port", top), rows)

	width := 0
	for _, s := range sections {
		for _, r := range s.rows {
			width = max(width, displayWidth(r.label))
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s matched; %d held by no process (TIME-WAIT, orphans)\n", Plural(c.Sockets, "socket"), c.Unheld)
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
			b.WriteString("\nCLOSE-WAIT: the peer closed, the application has not (a leak, if it lasts)\n")
			for _, h := range c.CloseWait {
				idle := ""
				if h.OldestIdle > 0 {
					idle = ", oldest idle " + h.OldestIdle.Round(time.Second).String()
				}
				fmt.Fprintf(&b, "  %s pid %d holds %s on :%d%s\n", Printable(h.Command), h.PID, Plural(h.CloseWait, "CLOSE-WAIT socket"), h.CloseWaitPort, idle)
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// CensusJSON writes the census as one JSON object (summary --json); its
// fields are a contract.
func CensusJSON(w io.Writer, c *census.Census) error {
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
		out.LocalPorts = append(out.LocalPorts, count{p.Ports.String(), p.Sockets}) // "5432", or the ephemeral range "32768-60999"
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
	return json.NewEncoder(w).Encode(out)
}
