package main

import (
	"bufio"
	"context"
	"fmt"
	goio "io"
	"strings"
	"time"
)

// confirmTimeout bounds the wait for an answer: a question nobody answers
// is a no.
const confirmTimeout = 10 * time.Minute

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
