// Command tcpreap finds TCP and UDP sockets through NETLINK_SOCK_DIAG and
// destroys them with SOCK_DESTROY: it plans, then destroys, then verifies and
// reports on every socket it matched.
//
// The command is a thin shell that speaks: each command's body reads flags
// → selection → one library call (reap, flows, census, doctor) → render.
// options.go has the flag parts that several commands share; one file per
// command (cmd_reap.go, cmd_list.go, cmd_plan.go, cmd_apply.go,
// cmd_conntrack.go, cmd_summary.go, cmd_doctor.go, cmd_completion.go,
// cmd_man.go) has its flag struct and help; cli.go is what urfave/cli needs
// done to the command tree; selection.go turns the selectors into a
// reap.Selection and a reap.Where; act.go is the one path of everything
// that destroys or deletes (--max, the confirmation of prompt.go, the
// execution, the report, the audit line, one sentence per kind of failure,
// the exit code); errors.go has the streams, the exit codes and the errors
// every command returns; this file has main, the signals, runArgs and
// newApp.
//
// Beneath it, and importing none of it: internal/render turns the values
// that come back into text for a person or a JSON reader (the socket table
// and NDJSON, conntrack entries, the census, the doctor's findings, the
// confirmation's plan summaries, the progress bar, text width and
// escaping); internal/clidoc writes the documentation of the command tree
// (each option's help, the usage lines, the sentence of a command line the
// parser refused, the manual page tcpreap(8), the shell completions);
// internal/audit writes the audit line to syslog; internal/peerword reads
// PEER words (resolving host names at once, telling the ones that are
// mistakes) and service names.
package main

import (
	"context"
	"errors"
	"fmt"
	goio "io"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/tcpreap/tcpreap/cmd/tcpreap/internal/render"
	"github.com/urfave/cli/v3"
	"golang.org/x/term"
)

func main() {
	io := streams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	if term.IsTerminal(int(os.Stdin.Fd())) {
		// Asked on the controlling terminal, so that a run whose output
		// goes to a pipe (2>&1 | tee log) still asks its person.
		io.Terminal = func() (goio.ReadWriteCloser, error) { return os.OpenFile("/dev/tty", os.O_RDWR, 0) }
	}
	if term.IsTerminal(int(os.Stderr.Fd())) {
		io.Progress = os.Stderr
	}
	// A reader that went away (| head -1) is no reason to stop halfway: a
	// write to it fails, and the run goes on to its audit line.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	// watch reloads its config on SIGHUP.
	ctx, stop := interruptible(len(os.Args) < 2 || os.Args[1] != "watch")
	defer stop()
	os.Exit(runArgs(ctx, os.Args, io))
}

// recording is read-held by a run from its first destroy until its audit
// line is written, so that a second signal waits for the record of what
// was destroyed, at most recordWait.
var recording sync.RWMutex

// recordWait bounds how long a second signal waits for the audit line: the
// logger's own deadline, and some.
const recordWait = 5 * time.Second

// interruptible returns a context that SIGINT, SIGTERM or (with hangup)
// SIGHUP ends, with an interruption as its cause: no destroy is sent after it, the ones sent
// are verified and reported. A second signal exits as soon as the audit
// line of what was destroyed is written (at most recordWait); a third at
// once.
func interruptible(hangup bool) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 3)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	if hangup {
		signal.Notify(sigs, syscall.SIGHUP)
	}
	go func() {
		s := <-sigs
		cancel(interruption{s.(syscall.Signal)})
		s = <-sigs
		recorded := make(chan struct{})
		go func() { recording.Lock(); close(recorded) }()
		select {
		case <-recorded:
		case <-time.After(50 * time.Millisecond):
			fmt.Fprintf(os.Stderr, "tcpreap: writing the audit line of what was destroyed first (at most %v; a third signal exits at once)\n", recordWait)
			select {
			case <-recorded:
			case <-sigs:
			case <-time.After(recordWait):
			}
		}
		os.Exit(128 + int(s.(syscall.Signal)))
	}()
	return ctx, func() { signal.Stop(sigs) }
}

// runArgs runs the command line args (args[0] is the program) and returns the
// exit code; errors are said on io.ErrOut.
func runArgs(ctx context.Context, args []string, io streams) (code int) {
	defer func() {
		// A bug is exit 1 with a sentence, never Go's exit 2, which says bad
		// input and nothing destroyed.
		if r := recover(); r != nil {
			fmt.Fprintf(io.ErrOut, "tcpreap: internal error: %s; this is a bug in tcpreap: report it with the command line\n", render.Printable(fmt.Sprint(r)))
			code = exitFailure
		}
	}()
	app := newApp(args, io)
	err := app.Run(ctx, digitFlags(args, shortBoolFlags(app)))
	var ee exitError
	var in interruption
	if errors.As(err, new(stopped)) {
		return exitOK // watch, stopped as asked
	}
	if errors.As(context.Cause(ctx), &in) {
		// Stopped before the destroy: said here; during it, the report and
		// the audit line said what was done.
		if err != nil && !errors.As(err, &ee) {
			nothing := "nothing was destroyed"
			if len(args) > 1 && args[1] == "conntrack" {
				nothing = "nothing was deleted"
			}
			fmt.Fprintf(io.ErrOut, "tcpreap: %s; %s\n", in, nothing)
		}
		return 128 + int(in.sig)
	}
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ee):
		return ee.code
	}
	fmt.Fprintf(io.ErrOut, "tcpreap: %s\n", render.Printable(err.Error()))
	var ue usageError
	var rf refusal
	switch {
	case errors.As(err, &ue):
		return exitUsage
	case errors.As(err, &rf):
		return exitRefused
	}
	return exitFailure
}

// newApp is the command line: tcpreap itself (reap) and its commands. args
// is the whole command line, which the audit line and a plan file record.
func newApp(args []string, io streams) *cli.Command {
	root := reapCommand(args, io)
	root.Writer, root.ErrWriter = io.Out, io.ErrOut
	root.Version = versionText()
	root.Commands = []*cli.Command{listCommand(args, io), conntrackCommand(args, io), summaryCommand(args, io), watchCommand(args, io), doctorCommand(args, io), planCommand(args, io), applyCommand(args, io)}
	root.Commands = append(root.Commands, completionCommand(root, args, io), manCommand(root, args, io))
	prepare(root, args)
	return root
}
