package main

import (
	"errors"
	"fmt"
	"io"
	"syscall"

	"github.com/tcpreap/tcpreap/cmd/tcpreap/internal/render"
	"golang.org/x/sys/unix"
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

// notes says what a person should read with a plan (a host name's
// addresses, a namespace passed over, a session that cannot be fully
// protected) on ErrOut, one line each, unless quiet.
func (io streams) notes(quiet bool, notes ...string) {
	if quiet {
		return
	}
	for _, note := range notes {
		fmt.Fprintf(io.ErrOut, "tcpreap: %s\n", render.Printable(note))
	}
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
