package main

import (
	"bufio"
	"fmt"
	"strings"

	"github.com/tcpreap/tcpreap/kill"
	"github.com/tcpreap/tcpreap/sockdiag"
)

// confirm shows the plan's summary on stderr and asks on stdin; only "y" or
// "yes" goes on.
func confirm(io streams, plan *kill.Plan) bool {
	fmt.Fprint(io.ErrOut, planSummary(plan))
	fmt.Fprintf(io.ErrOut, "destroy %s? [y/N] ", plural(len(plan.Targets), "socket"))
	line, err := bufio.NewReader(io.In).ReadString('\n')
	if err != nil && line == "" {
		fmt.Fprintln(io.ErrOut)
		return false
	}
	answer := strings.ToLower(strings.TrimSpace(line))
	return answer == "y" || answer == "yes"
}

// planSummary counts the targets by state, saying what each does to the
// peer, and by peer (the ten with most sockets).
func planSummary(plan *kill.Plan) string {
	bd := plan.Breakdown()
	var b strings.Builder
	fmt.Fprintf(&b, "tcpreap: the plan destroys %s", plural(len(plan.Targets), "socket"))
	if len(plan.Skipped) > 0 {
		fmt.Fprintf(&b, " and keeps back %d (see tcpreap list)", len(plan.Skipped))
	}
	b.WriteString(":\n")
	for _, c := range bd.States {
		fmt.Fprintf(&b, "  %6d %s %s: %s\n", c.N, c.Protocol, c.State.Label(), effect(c))
	}
	for i, p := range bd.Peers {
		if i == 10 {
			fmt.Fprintf(&b, "  and %d more peers\n", len(bd.Peers)-10)
			break
		}
		fmt.Fprintf(&b, "  %6d with peer %s\n", p.N, p.Peer)
	}
	return b.String()
}

// effect says what destroying sockets of one kind does to their peers.
func effect(c kill.StateCount) string {
	switch {
	case c.ResetsPeer:
		return "the peer gets a reset"
	case c.State == sockdiag.Listen:
		return "stops accepting; connections not yet accepted are reset"
	case c.Protocol == sockdiag.UDP:
		return "the peer is not told"
	}
	return "no reset to the peer"
}
