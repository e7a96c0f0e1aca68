package main

import (
	"bufio"
	"cmp"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/tcpreap/tcpreap/kill"
	"github.com/tcpreap/tcpreap/sockdiag"
	"golang.org/x/sys/unix"
)

// isTerminal reports whether f is a terminal.
func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// confirm shows the plan's summary on stderr and asks on stdin; only "y" or
// "yes" goes on.
func confirm(term terminal, plan *kill.Plan) (bool, error) {
	fmt.Fprint(term.stderr, planSummary(plan))
	fmt.Fprintf(term.stderr, "destroy %s? [y/N] ", plural(len(plan.Targets), "socket"))
	line, err := bufio.NewReader(term.stdin).ReadString('\n')
	if err != nil && line == "" {
		fmt.Fprintln(term.stderr)
		return false, nil
	}
	answer := strings.ToLower(strings.TrimSpace(line))
	return answer == "y" || answer == "yes", nil
}

// planSummary counts the targets by state, saying what each does to the
// peer, and by peer (the ten with most sockets).
func planSummary(plan *kill.Plan) string {
	type stateKey struct {
		proto sockdiag.Protocol
		state sockdiag.State
		reset bool
	}
	states := map[stateKey]int{}
	peers := map[string]int{}
	for _, s := range plan.Targets {
		states[stateKey{s.Protocol, s.State, s.ResetsPeer()}]++
		peers[s.ID.Remote.Addr().Unmap().String()]++
	}
	var b strings.Builder
	fmt.Fprintf(&b, "tcpreap: the plan destroys %s", plural(len(plan.Targets), "socket"))
	if len(plan.Skipped) > 0 {
		fmt.Fprintf(&b, " and keeps back %d (see tcpreap list)", len(plan.Skipped))
	}
	b.WriteString(":\n")
	keys := slices.SortedFunc(maps.Keys(states), func(a, b stateKey) int {
		return cmp.Or(cmp.Compare(a.proto, b.proto), cmp.Compare(a.state, b.state))
	})
	for _, k := range keys {
		effect := "no reset to the peer"
		switch {
		case k.reset:
			effect = "the peer gets a reset"
		case k.state == sockdiag.Listen:
			effect = "stops accepting; connections not yet accepted are reset"
		case k.proto == sockdiag.UDP:
			effect = "the peer is not told"
		}
		fmt.Fprintf(&b, "  %6d %s %s: %s\n", states[k], k.proto, k.state, effect)
	}
	names := slices.SortedFunc(maps.Keys(peers), func(a, b string) int {
		return cmp.Or(cmp.Compare(peers[b], peers[a]), strings.Compare(a, b))
	})
	for i, p := range names {
		if i == 10 {
			fmt.Fprintf(&b, "  and %d more peers\n", len(names)-10)
			break
		}
		fmt.Fprintf(&b, "  %6d with peer %s\n", peers[p], p)
	}
	return b.String()
}
