// Command tcpreap finds TCP and UDP sockets through NETLINK_SOCK_DIAG and
// destroys them with SOCK_DESTROY: it plans, then destroys, then reports on
// every socket it matched.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/tcpreap/tcpreap/kill"
	"github.com/tcpreap/tcpreap/sockdiag"
	"github.com/urfave/cli/v3"
	"golang.org/x/sys/unix"
)

// Exit codes, the contract runbooks rely on.
const (
	exitOK      = 0 // every target is gone, or a dry run
	exitFailure = 1 // a runtime failure: a destroy failed, no permission, netlink
	exitUsage   = 2 // bad input; nothing was destroyed
	exitRefused = 3 // a guard refused the plan
)

// A usageError is bad input: a word that does not parse, a missing selector.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// An exitError carries the exit code of a run that already reported itself.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

func main() {
	os.Exit(run(context.Background(), os.Args, os.Stdout, os.Stderr))
}

// run runs the command line and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	err := newApp(stdout, stderr).Run(ctx, digitFlags(args))
	var ee exitError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ee):
		return ee.code
	}
	fmt.Fprintf(stderr, "tcpreap: %v\n", err)
	var ue usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	return exitFailure
}

// digitFlags rewrites short flag groups that start with a digit ("-4",
// "-6t") into long flags ("--4", "--6", "--t"): urfave/cli takes "-4" for a
// negative number and stops parsing flags there. Words after "--" stay.
func digitFlags(args []string) []string {
	out := make([]string, 0, len(args))
	for i, a := range args {
		if a == "--" {
			return append(out, args[i:]...)
		}
		if len(a) < 2 || a[0] != '-' || a[1] < '0' || a[1] > '9' || strings.Trim(a[1:], "46tunqy") != "" {
			out = append(out, a)
			continue
		}
		for _, c := range a[1:] {
			out = append(out, "--"+string(c))
		}
	}
	return out
}

func newApp(stdout, stderr io.Writer) *cli.Command {
	onUsage := func(_ context.Context, _ *cli.Command, err error, _ bool) error {
		return usageError{fmt.Errorf("%v (see tcpreap --help)", err)}
	}
	listFlags := selectionFlags()
	return &cli.Command{
		Name:      "tcpreap",
		Usage:     "find TCP and UDP sockets and destroy them with SOCK_DESTROY",
		ArgsUsage: "[PEER...]",
		Description: "PEER is the remote end: IP, CIDR, IP:PORT, [IPv6]:PORT, a bare IPv6 address or a host name\n" +
			"(every address it has). Several PEERs select sockets matching any of them.\n" +
			"Exit codes: 0 every target gone (or a dry run), 1 runtime failure, 2 bad input, 3 refused.",
		Writer:                 stdout,
		ErrWriter:              stderr,
		UseShortOptionHandling: true,
		OnUsageError:           onUsage,
		ExitErrHandler:         func(context.Context, *cli.Command, error) {},
		Flags: append(selectionFlags(),
			&cli.BoolFlag{Name: "dry-run", Aliases: []string{"n"}, Usage: "print the plan, destroy nothing (same as list)"},
			&cli.BoolFlag{Name: "all", Usage: "allow a destroy with no selector at all"},
		),
		Action: func(ctx context.Context, cmd *cli.Command) error {
			return reap(ctx, cmd, stdout, stderr, cmd.Bool("dry-run"))
		},
		Commands: []*cli.Command{{
			Name:                   "list",
			Aliases:                []string{"ls"},
			Usage:                  "print the sockets the same selection matches; destroy nothing",
			ArgsUsage:              "[PEER...]",
			UseShortOptionHandling: true,
			OnUsageError:           onUsage,
			Flags:                  listFlags,
			Action: func(ctx context.Context, cmd *cli.Command) error {
				return reap(ctx, cmd, stdout, stderr, true)
			},
		}},
	}
}

// reap is the pipeline: selection, query, plan, then a dry run or a destroy,
// and the report.
func reap(ctx context.Context, cmd *cli.Command, stdout, stderr io.Writer, dryRun bool) error {
	sel, err := parseSelection(ctx, cmd)
	if err != nil {
		return usageError{err}
	}
	if !dryRun && !sel.filter.HasSelector() && !cmd.Bool("all") {
		return usageError{errors.New("refusing to destroy every socket: name a PEER or a selector (--state, --port, --local-port, --remote-port, --local, --interface), or give --all")}
	}
	out := renderer{w: stdout, json: cmd.Bool("json"), quiet: cmd.Bool("quiet")}
	if !out.quiet {
		for _, r := range sel.resolved {
			fmt.Fprintf(stderr, "tcpreap: peer %s\n", r)
		}
	}

	conn, err := sockdiag.Dial(nil)
	if err != nil {
		return err
	}
	defer conn.Close()
	plan, err := kill.NewPlan(conn.Query(&sel.filter), sel.guards)
	if err != nil {
		return queryError(err)
	}
	var results []kill.Result
	if dryRun {
		results = plan.DryRun()
	} else {
		results = plan.Execute(conn)
	}
	if err := out.report(results, dryRun); err != nil {
		return err
	}
	return failures(results, stderr)
}

// queryError explains a failed dump.
func queryError(err error) error {
	var oe *sockdiag.OpError
	if errors.As(err, &oe) && errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("this kernel cannot list %s sockets (is CONFIG_INET_%s_DIAG enabled?): %v", oe.Request.Protocol, upper(oe.Request.Protocol.String()), err)
	}
	return fmt.Errorf("cannot list sockets: %v", err)
}

// failures says once what the failed destroys have in common and what to do,
// and returns the exit code of the run.
func failures(results []kill.Result, stderr io.Writer) error {
	said := map[error]bool{}
	failed := 0
	for _, r := range results {
		if r.Action != kill.Failed {
			continue
		}
		failed++
		for _, known := range []error{kill.ErrPermission, kill.ErrNoDestroy} {
			if errors.Is(r.Err, known) && !said[known] {
				said[known] = true
				fmt.Fprintf(stderr, "tcpreap: %v\n", known)
			}
		}
	}
	if failed == 0 {
		return nil
	}
	if len(said) == 0 {
		fmt.Fprintf(stderr, "tcpreap: %d of the sockets could not be destroyed; see their errors above\n", failed)
	}
	return exitError{exitFailure}
}
