package main

import (
	"context"
	"fmt"

	"github.com/urfave/cli/v3"

	"github.com/tcpreap/tcpreap/cmd/tcpreap/internal/audit"
	"github.com/tcpreap/tcpreap/cmd/tcpreap/internal/clidoc"
	"github.com/tcpreap/tcpreap/host"
)

// manCommand is tcpreap man, hidden: the manual page that make install
// installs, written from root's command tree.
func manCommand(root *cli.Command, args []string, io streams) *cli.Command {
	c := &command{}
	return &cli.Command{
		Name:   "man",
		Hidden: true,
		Usage:  "write the manual page tcpreap(8), in roff, on stdout",
		Description: `Writes the manual page tcpreap(8) on stdout, made from the commands' own
help: every command, option and example. make install installs it.

Examples:
  tcpreap man | man -l -                       read it
  tcpreap man | gzip -9n > tcpreap.8.gz        as make install installs it`,
		Action: action(c, args, func(context.Context) error {
			if len(c.words) > 0 {
				return usagef("man takes no arguments: %q", c.words[0])
			}
			_, err := fmt.Fprint(io.Out, clidoc.ManPage(root, manual))
			return err
		}),
	}
}

// manual is what tcpreap(8) says besides the command tree: the contract of
// the exit codes (errors.go), in the manual's words, and what tcpreap reads
// besides its command line.
var manual = clidoc.Manual{
	ExitStatus: []clidoc.Definition{
		{Term: fmt.Sprint(exitOK), Meaning: "Every target is gone (destroyed, or already gone), or it was a dry run or a listing; also when nothing matched."},
		{Term: fmt.Sprint(exitFailure), Meaning: "A runtime failure: a destroy failed, no permission (CAP_NET_ADMIN), no SOCK_DESTROY in this kernel, a netlink error. The report says which sockets were destroyed."},
		{Term: fmt.Sprint(exitUsage), Meaning: "Bad input: a word that does not parse, a missing selector, a plan file that cannot be trusted. Nothing was destroyed."},
		{Term: fmt.Sprint(exitRefused), Meaning: "A guard refused the plan (more than --max sockets, the confirmation declined). Nothing was destroyed."},
		{Term: "128+N", Meaning: "Interrupted by signal N before or during the destroy; the sockets destroyed until then are reported."},
	},
	Environment: []clidoc.Definition{
		{Term: "SSH_CONNECTION", Meaning: "The SSH session tcpreap runs in, which it never destroys without --include-self; read from tcpreap's nearest ancestor that has it (sudo clears it), and checked against the SSH server process that holds the connection."},
		{Term: "SUDO_USER", Meaning: "Who ran tcpreap through sudo, for the audit line."},
		{Term: audit.SocketEnv, Meaning: "A syslog socket to write the audit line to instead of " + audit.Socket + "."},
	},
	Files: []clidoc.Definition{
		{Term: host.ServicesFile, Meaning: "Service names that --port, --local-port and --remote-port take."},
		{Term: audit.Socket, Meaning: "Every run that destroys writes one audit line to syslog (authpriv.notice): who ran it, the command line, and the counts."},
		{Term: "/proc", Meaning: "Socket owners (/proc/PID/fd) for --pid, --process, --process-match and list -p; the process tree, for the SSH session guard; the boot id and network namespace a plan file records. (--uid needs no /proc: the kernel's dump carries the uid that made each socket.)"},
	},
}
