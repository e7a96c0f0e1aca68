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
	goio "io"
	"os"

	"golang.org/x/term"
)

func main() {
	io := streams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	if term.IsTerminal(int(os.Stdin.Fd())) {
		// Asked on the controlling terminal, so that a run whose output
		// goes to a pipe (2>&1 | tee log) still asks its person.
		io.Terminal = func() (goio.ReadWriteCloser, error) { return os.OpenFile("/dev/tty", os.O_RDWR, 0) }
	}
	os.Exit(run(context.Background(), os.Args, io))
}
