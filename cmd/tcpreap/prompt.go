package main

import (
	"bufio"
	"context"
	"fmt"
	goio "io"
	"strings"
	"time"

	"github.com/tcpreap/tcpreap/inet"
	"github.com/tcpreap/tcpreap/kill"
	"github.com/tcpreap/tcpreap/sockdiag"
)

// confirmTimeout bounds the wait for an answer: a question nobody answers
// is a no.
const confirmTimeout = 10 * time.Minute

// confirm shows the plan's summary on the terminal and asks there; only "y"
// or "yes" goes on. Else it says why not.
func confirm(ctx context.Context, tty goio.ReadWriter, plan *kill.Plan) (bool, string) {
	return ask(ctx, tty, planSummary(plan), fmt.Sprintf("destroy %s? [y/N] ", plural(len(plan.Targets), "socket")))
}

// ask shows summary on the terminal and asks question there; only "y" or
// "yes" goes on. Else it says why not.
func ask(ctx context.Context, tty goio.ReadWriter, summary, question string) (bool, string) {
	fmt.Fprint(tty, summary)
	fmt.Fprint(tty, question)
	answer := make(chan string, 1)
	go func() {
		line, err := bufio.NewReader(tty).ReadString('\n')
		if err != nil && line == "" {
			fmt.Fprintln(tty)
		}
		answer <- line
	}()
	select {
	case line := <-answer:
		a := strings.ToLower(strings.TrimSpace(line))
		return a == "y" || a == "yes", "not confirmed"
	case <-time.After(confirmTimeout):
		fmt.Fprintln(tty)
		return false, fmt.Sprintf("not confirmed (no answer in %v)", confirmTimeout)
	case <-ctx.Done():
		fmt.Fprintln(tty)
		return false, "not confirmed (" + context.Cause(ctx).Error() + ")"
	}
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
	case c.Protocol == inet.UDP:
		return "the peer is not told"
	}
	return "no reset to the peer"
}
