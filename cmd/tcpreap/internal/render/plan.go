package render

import (
	"fmt"
	"os"
	"strings"

	"github.com/tcpreap/tcpreap/flows"
	"github.com/tcpreap/tcpreap/inet"
	"github.com/tcpreap/tcpreap/kill"
	"github.com/tcpreap/tcpreap/reap"
	"github.com/tcpreap/tcpreap/sockdiag"
)

// PlanSummary is the summary of a plan of sockets that the confirmation
// shows: the targets counted by state, saying what each does to the peer,
// by peer (the ten with most sockets), and by network namespace when they
// are not all in the one tcpreap runs in.
func PlanSummary(bd kill.Breakdown, targets, skipped int, spaces []reap.SpaceCount) string {
	var b strings.Builder
	fmt.Fprintf(&b, "tcpreap: the plan destroys %s", Plural(targets, "socket"))
	if skipped > 0 {
		fmt.Fprintf(&b, " and keeps back %d (see tcpreap list)", skipped)
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
	if len(spaces) > 1 || len(spaces) == 1 && spaces[0].NetNS != "" {
		for _, s := range spaces {
			if s.Targets > 0 {
				fmt.Fprintf(&b, "  %6d in network namespace %s\n", s.Targets, Printable(s.NetNS))
			}
		}
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
	case c.Protocol == inet.UDP:
		return "the peer is not told"
	}
	return "no reset to the peer"
}

// FlowPlanSummary is the summary of a plan of conntrack entries that the
// confirmation shows: the targets counted by protocol and state, and the
// network namespace whose table they are in, netns as given (--netns; ""
// for the one tcpreap runs in, which it does not name).
func FlowPlanSummary(plan *flows.Plan, netns string) string {
	counts := map[string]int{}
	var order []string
	for _, fl := range plan.Targets {
		k := fl.Protocol.String()
		if fl.Protocol == inet.TCP {
			k += " " + flowState(fl)
		}
		if counts[k] == 0 {
			order = append(order, k)
		}
		counts[k]++
	}
	s := fmt.Sprintf("tcpreap: the plan deletes %s", Entries(len(plan.Targets)))
	if len(plan.Skipped) > 0 {
		s += fmt.Sprintf(" and keeps back %d (see tcpreap conntrack list)", len(plan.Skipped))
	}
	s += " (no reset reaches either end; NAT mappings are forgotten):\n"
	for _, k := range order {
		s += fmt.Sprintf("  %6d %s\n", counts[k], k)
	}
	if netns != "" {
		s += fmt.Sprintf("  %6d in network namespace %s\n", len(plan.Targets), Printable(netns))
	}
	return s
}

// PlanWritten says what tcpreap plan wrote, on stderr, where the plan file
// itself is not read: how many sockets, to destroy and kept back, in which
// network namespaces when not the one tcpreap runs in alone, and path, the
// file written ("" when it is not one: a pipe; os.DevNull when what was
// written is kept nowhere), with how to review it.
func PlanWritten(targets, skipped int, spaces []reap.SpaceCount, path string) string {
	where := ""
	var named []string
	for _, s := range spaces {
		if s.NetNS != "" {
			named = append(named, Printable(s.NetNS))
		}
	}
	switch {
	case len(spaces) == 1 && len(named) == 1:
		where = " in network namespace " + named[0]
	case len(spaces) > 1:
		where = fmt.Sprintf(" in %d network namespaces", len(spaces))
	}
	s := fmt.Sprintf("tcpreap: %s planned%s: %d to destroy, %d skipped", Plural(targets+skipped, "socket"), where, targets, skipped)
	switch path {
	case "":
		return s + "; the plan file is on stdout"
	case os.DevNull:
		return s + "; stdout is " + os.DevNull + ": no plan file was kept (give a file: tcpreap plan ... > reap.plan)"
	}
	return fmt.Sprintf("%s; written to %s (review it: tcpreap apply -n %s)", s, Printable(path), shellWord(path))
}
