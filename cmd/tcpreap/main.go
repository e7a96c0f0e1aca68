// Command tcpreap finds TCP and UDP sockets through NETLINK_SOCK_DIAG and
// destroys them with SOCK_DESTROY: it plans, then destroys, then verifies and
// reports on every socket it matched.
//
// The command is a thin shell: options.go turns flags into options, one file
// per command (cmd_reap.go, cmd_list.go, cmd_plan.go, cmd_apply.go) turns
// options into calls of the packages host, sockdiag, kill and planfile, and
// render.go, prompt.go and audit.go say what happened.
package main

import (
	"context"
	"os"

	"golang.org/x/term"
)

func main() {
	io := streams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr,
		Interactive: term.IsTerminal(int(os.Stdin.Fd())) && term.IsTerminal(int(os.Stderr.Fd()))}
	os.Exit(run(context.Background(), os.Args, io))
}
