package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/urfave/cli/v3"

	"github.com/tcpreap/tcpreap/cmd/tcpreap/internal/clidoc"
	"github.com/tcpreap/tcpreap/cmd/tcpreap/internal/render"
)

// streams is where tcpreap talks to the person running it: results on Out,
// everything else (notes, prompts, errors) on ErrOut.
type streams struct {
	In          io.Reader
	Out, ErrOut io.Writer
	// Terminal opens the terminal to ask the person on (the controlling
	// terminal, /dev/tty); nil when stdin is no terminal, and tcpreap never
	// asks. An error (no controlling terminal) means no question either.
	Terminal func() (io.ReadWriteCloser, error)
	// Progress is where a long destroy shows its progress bar (stderr,
	// when it is a terminal); nil for none.
	Progress io.Writer
}

// Exit codes, the contract runbooks rely on.
const (
	exitOK      = 0 // every target is gone, or a dry run
	exitFailure = 1 // a runtime failure: a destroy failed, no permission, netlink
	exitUsage   = 2 // bad input; nothing was destroyed
	exitRefused = 3 // a guard refused the plan
)

// A usageError is bad input: a word that does not parse, a missing selector,
// a plan file that cannot be trusted.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// A notPermitted is an error of the selection that is no bad input: the
// namespace it names exists, but tcpreap may not open it (exit 1).
type notPermitted struct{ err error }

func (e notPermitted) Error() string { return e.err.Error() }
func (e notPermitted) Unwrap() error { return e.err }

// selectionError is the error of newSelection as the run returns it: bad
// input, unless it is a permission that is missing.
func selectionError(err error) error {
	var np notPermitted
	if errors.As(err, &np) {
		return err
	}
	return usageError{err}
}

// A refusal is a guard that refused the whole plan: nothing was destroyed.
type refusal struct{ msg string }

func (e refusal) Error() string { return e.msg }

// An interruption is the signal that stopped a run; the run exits with
// 128 and its number, as a shell reports it.
type interruption struct{ sig syscall.Signal }

func (i interruption) Error() string { return "interrupted (" + unix.SignalName(i.sig) + ")" }

// An exitError carries the exit code of a run that already reported itself.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

// run runs the command line args (args[0] is the program) and returns the
// exit code; errors are said on io.ErrOut.
func run(ctx context.Context, args []string, io streams) (code int) {
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
	cli.FlagStringer = clidoc.FlagHelp
	root := reapCommand(args, io)
	root.Writer, root.ErrWriter = io.Out, io.ErrOut
	root.ExitErrHandler = func(context.Context, *cli.Command, error) {}
	root.Version = versionText()
	root.Commands = []*cli.Command{listCommand(args, io), conntrackCommand(args, io), summaryCommand(args, io), doctorCommand(args, io), planCommand(args, io), applyCommand(args, io)}
	root.Commands = append(root.Commands, completionCommand(root, args, io), manCommand(root, args, io))
	prepare(root)
	return root
}
