// Command tcpreap finds TCP and UDP sockets through NETLINK_SOCK_DIAG and
// destroys them with SOCK_DESTROY: it plans, then destroys, then verifies and
// reports on every socket it matched.
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

// A usageError is bad input: a word that does not parse, a missing selector,
// a plan file that cannot be trusted.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// A refusal is a guard that refused the whole plan: nothing was destroyed.
type refusal struct{ msg string }

func (e refusal) Error() string { return e.msg }

// An exitError carries the exit code of a run that already reported itself.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

// A terminal is where tcpreap talks to the person running it.
type terminal struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	// interactive: stdin and stderr are a terminal, so tcpreap may ask.
	interactive bool
}

func main() {
	term := terminal{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr,
		interactive: isTerminal(os.Stdin) && isTerminal(os.Stderr)}
	os.Exit(run(context.Background(), os.Args, term))
}

// run runs the command line and returns the exit code.
func run(ctx context.Context, args []string, term terminal) int {
	err := newApp(term).Run(ctx, digitFlags(args))
	var ee exitError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ee):
		return ee.code
	}
	fmt.Fprintf(term.stderr, "tcpreap: %v\n", err)
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

// destroyFlags are the options of every command that destroys.
func destroyFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "yes", Aliases: []string{"y"}, Usage: "do not ask for confirmation on a terminal"},
		&cli.IntFlag{Name: "max", HideDefault: true, Usage: "if more than `N` sockets would be destroyed, destroy nothing and exit 3 (default: no limit)"},
		&cli.BoolFlag{Name: "no-audit", Usage: "do not write the audit line to syslog"},
		&cli.BoolFlag{Name: "json", Usage: "NDJSON on stdout: one object per socket, then a summary"},
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "only the summary and errors"},
	}
}

func allFlag() cli.Flag {
	return &cli.BoolFlag{Name: "all", Usage: "allow a destroy with no selector at all"}
}

// outputFlags are the options of the commands that only print.
func outputFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "json", Usage: "NDJSON on stdout: one object per socket, then a summary"},
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "only the summary and errors"},
	}
}

func newApp(term terminal) *cli.Command {
	onUsage := func(_ context.Context, _ *cli.Command, err error, _ bool) error {
		return usageError{fmt.Errorf("%v (see tcpreap --help)", err)}
	}
	sub := func(c *cli.Command) *cli.Command {
		c.UseShortOptionHandling = true
		c.OnUsageError = onUsage
		c.Before = rootOptionsFirst
		return c
	}
	return &cli.Command{
		Name:      "tcpreap",
		Usage:     "find TCP and UDP sockets and destroy them with SOCK_DESTROY",
		ArgsUsage: "[PEER...]",
		Description: "PEER is the remote end: IP, CIDR, IP:PORT, [IPv6]:PORT, a bare IPv6 address or a host name\n" +
			"(every address it has). Several PEERs select sockets matching any of them.\n" +
			"Exit codes: 0 every target gone (or a dry run), 1 runtime failure, 2 bad input, 3 refused.",
		Writer:                 term.stdout,
		ErrWriter:              term.stderr,
		UseShortOptionHandling: true,
		OnUsageError:           onUsage,
		ExitErrHandler:         func(context.Context, *cli.Command, error) {},
		Flags: local(append(append(selectionFlags(), destroyFlags()...),
			&cli.BoolFlag{Name: "dry-run", Aliases: []string{"n"}, Usage: "print the plan, destroy nothing (same as list)"},
			allFlag(),
		)),
		Action: func(ctx context.Context, cmd *cli.Command) error {
			mode := modeDestroy
			if cmd.Bool("dry-run") {
				mode = modeList
			}
			return reap(ctx, cmd, term, mode)
		},
		Commands: []*cli.Command{
			sub(&cli.Command{
				Name:      "list",
				Aliases:   []string{"ls"},
				Usage:     "print the sockets the same selection matches; destroy nothing",
				ArgsUsage: "[PEER...]",
				Flags:     append(selectionFlags(), outputFlags()...),
				Action: func(ctx context.Context, cmd *cli.Command) error {
					return reap(ctx, cmd, term, modeList)
				},
			}),
			sub(&cli.Command{
				Name:      "plan",
				Usage:     "write the plan of the same selection as NDJSON, for tcpreap apply; destroy nothing",
				ArgsUsage: "[PEER...]",
				Flags:     selectionFlags(),
				Action: func(ctx context.Context, cmd *cli.Command) error {
					return reap(ctx, cmd, term, modePlan)
				},
			}),
			sub(&cli.Command{
				Name:      "apply",
				Usage:     "destroy exactly the sockets of a plan file (- for stdin) that still exist",
				ArgsUsage: "PLAN-FILE",
				Flags:     append(destroyFlags(), includeSelfFlag(), allFlag()),
				Action: func(ctx context.Context, cmd *cli.Command) error {
					return apply(cmd, term)
				},
			}),
		},
	}
}

// local keeps the root command's options to the root: urfave/cli would
// otherwise let every subcommand accept them and silently ignore them
// ("tcpreap apply --state listen plan").
func local(flags []cli.Flag) []cli.Flag {
	for _, f := range flags {
		switch f := f.(type) {
		case *cli.BoolFlag:
			f.Local = true
		case *cli.StringFlag:
			f.Local = true
		case *cli.StringSliceFlag:
			f.Local = true
		case *cli.IntFlag:
			f.Local = true
		}
	}
	return flags
}

// rootOptionsFirst refuses options given before a subcommand, which would
// belong to the root and do nothing ("tcpreap --json apply plan").
func rootOptionsFirst(ctx context.Context, cmd *cli.Command) (context.Context, error) {
	if set := cmd.Root().LocalFlagNames(); len(set) > 0 {
		return ctx, usageError{fmt.Errorf("put the options after the command: tcpreap %s --%s …", cmd.Name, set[0])}
	}
	return ctx, nil
}

// A mode is what a run does with its plan.
type mode uint8

const (
	modeDestroy mode = iota
	modeList         // print the plan (list, --dry-run)
	modePlan         // write the plan file
)

// reap is the pipeline up to the plan: selection, query, plan; then it
// prints the plan or hands it to destroy.
func reap(ctx context.Context, cmd *cli.Command, term terminal, m mode) error {
	sel, err := parseSelection(ctx, cmd)
	if err != nil {
		return usageError{err}
	}
	if m == modeDestroy && !sel.filter.HasSelector() && !cmd.Bool("all") {
		return usageError{errors.New("refusing to destroy every socket: name a PEER or a selector (--state, --port, --local-port, --remote-port, --local, --interface), or give --all")}
	}
	if m == modeDestroy {
		if err := checkDestroyOptions(cmd); err != nil {
			return err
		}
	}
	out := renderer{w: term.stdout, json: cmd.Bool("json"), quiet: cmd.Bool("quiet")}
	if !out.quiet {
		for _, note := range sel.notes {
			fmt.Fprintf(term.stderr, "tcpreap: %s\n", note)
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
	switch m {
	case modeList:
		return out.report(plan.DryRun(), true)
	case modePlan:
		return writePlan(term.stdout, plan, os.Args, !sel.filter.HasSelector())
	}
	return destroy(cmd, term, conn, plan, out)
}

// queryError explains a failed dump.
func queryError(err error) error {
	var oe *sockdiag.OpError
	if errors.As(err, &oe) && errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("this kernel cannot list %s sockets (is CONFIG_INET_%s_DIAG enabled?): %v", oe.Request.Protocol, strings.ToUpper(oe.Request.Protocol.String()), err)
	}
	return fmt.Errorf("cannot list sockets: %v", err)
}
