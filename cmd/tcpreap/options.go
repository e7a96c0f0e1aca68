package main

import (
	"context"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/urfave/cli/v3"
)

// options is one command's flags and words. This file is the only code that
// reads the command line: the flags write into options as they are parsed,
// and read fills in the rest before a command runs.
type options struct {
	args  []string // the whole command line, for the audit line and a plan file
	words []string // the command's arguments: PEERs, or a plan file

	// Selection.
	states, ports, localPorts, remotePorts, locals []string
	iface                                          string
	ifaceSet                                       bool
	tcp, udp, ipv4, ipv6                           bool
	includeSelf                                    bool
	pids, commands, uids, commandPatterns, cgroups []string // by owner
	idle, stalledFor                               string   // durations, as given
	stalled, stalledForSet                         bool
	netns                                          string // --netns, as given
	allNetns                                       bool
	// listing: the command only lists (list, -n), and --all-netns may pass
	// over a namespace it cannot enter, saying so.
	listing bool
	// maxNoun is what --max counts, when not sockets (maxOf).
	maxNoun string

	// Action.
	dryRun, yes, all, noAudit, verify bool
	workers                           int
	maxWord                           string // --max as given; max once checkMax read it
	max                               int
	maxSet                            bool

	// Output.
	json, quiet bool
	processes   bool // list -p: the processes that hold each socket
	extended    bool // list -e: what struct tcp_info says of each
	top         int  // summary --top
}

// action returns a command's Action: it reads the options and calls do.
func (o *options) action(args []string, do func(context.Context, *options) error) cli.ActionFunc {
	return func(ctx context.Context, cmd *cli.Command) error {
		o.args, o.words = args, cmd.Args().Slice()
		return do(ctx, o)
	}
}

// selectionFlags are the selectors of tcpreap, list and plan.
func (o *options) selectionFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "state", Destination: &o.states, Usage: "states `S[,S]`: established syn_sent syn_recv fin_wait1 fin_wait2 time_wait close close_wait last_ack listen closing, or all connected synchronized bucket big (default: all but listen; UDP: connected)"},
		&cli.StringSliceFlag{Name: "port", Destination: &o.ports, Usage: "local or remote port `P[,P]`: number, LO-HI or service name"},
		&cli.StringSliceFlag{Name: "local-port", Aliases: []string{"sport"}, Destination: &o.localPorts, Usage: "local port `P[,P]`"},
		&cli.StringSliceFlag{Name: "remote-port", Aliases: []string{"dport"}, Destination: &o.remotePorts, Usage: "remote port `P[,P]`"},
		&cli.StringSliceFlag{Name: "local", Destination: &o.locals, Usage: "local address `ADDR`: IP or CIDR", Config: cli.StringConfig{TrimSpace: true}},
		&cli.StringFlag{Name: "interface", Destination: &o.iface, Usage: "sockets on interface `IF`: bound to it, or on one of its addresses",
			Action: func(context.Context, *cli.Command, string) error { o.ifaceSet = true; return nil }},
		&cli.BoolFlag{Name: "tcp", Aliases: []string{"t"}, Destination: &o.tcp, Usage: "TCP sockets (the default)"},
		&cli.BoolFlag{Name: "udp", Aliases: []string{"u"}, Destination: &o.udp, Usage: "UDP sockets"},
		&cli.BoolFlag{Name: "4", Destination: &o.ipv4, Usage: "IPv4 (and v4-mapped IPv6) sockets"},
		&cli.BoolFlag{Name: "6", Destination: &o.ipv6, Usage: "IPv6 sockets"},
		&cli.StringSliceFlag{Name: "pid", Destination: &o.pids, Usage: "sockets process `PID[,PID]` holds open"},
		&cli.StringSliceFlag{Name: "process", Destination: &o.commands, Usage: "sockets a process named `NAME` holds open (its command name, as ps -o comm shows it)"},
		&cli.StringSliceFlag{Name: "process-match", Destination: &o.commandPatterns, Usage: "sockets a process whose command name matches `REGEX` holds open (Go's RE2 syntax)"},
		&cli.StringSliceFlag{Name: "uid", Destination: &o.uids, Usage: "sockets user `USER` made (a name or a number)"},
		&cli.StringSliceFlag{Name: "cgroup", Destination: &o.cgroups, Usage: "sockets made in cgroup v2 group `PATH` (as /proc/PID/cgroup shows it, or its directory)"},
		&cli.StringFlag{Name: "idle", Destination: &o.idle, Usage: "TCP connections that sent and received no data for `DURATION` (90s, 10m, 2h)"},
		&cli.BoolFlag{Name: "stalled", Destination: &o.stalled, Usage: "TCP connections whose peer seems gone: data retransmitted, no ack for --stalled-for"},
		&cli.StringFlag{Name: "stalled-for", Destination: &o.stalledFor, Value: "30s", Usage: "with --stalled: no ack for at least `DURATION`",
			Action: func(context.Context, *cli.Command, string) error { o.stalledForSet = true; return nil }},
	}
}

// extendedFlag is list -e.
func (o *options) extendedFlag() cli.Flag {
	return &cli.BoolFlag{Name: "extended", Aliases: []string{"e"}, Destination: &o.extended,
		Usage: "show how long each TCP connection has been idle, its retransmissions, unacked segments and rtt"}
}

// processesFlag is list -p.
func (o *options) processesFlag() cli.Flag {
	return &cli.BoolFlag{Name: "processes", Aliases: []string{"p"}, Destination: &o.processes,
		Usage: "show the processes that hold each socket, and its receive and send queues"}
}

// includeSelfFlag lifts the guard of the SSH session; destroys says whether
// the command destroys (or only shows what would be).
func (o *options) includeSelfFlag(destroys bool) cli.Flag {
	usage := "also destroy the ssh session tcpreap runs in"
	if !destroys {
		usage = "show the ssh session tcpreap runs in as a match too"
	}
	return &cli.BoolFlag{Name: "include-self", Destination: &o.includeSelf, Usage: usage}
}

// destroyFlags are the options of every command that destroys.
func (o *options) destroyFlags() []cli.Flag {
	return append([]cli.Flag{
		&cli.BoolFlag{Name: "yes", Aliases: []string{"y"}, Destination: &o.yes, Usage: "do not ask for confirmation on a terminal"},
		o.maxFlag(),
		&cli.BoolFlag{Name: "no-audit", Destination: &o.noAudit, Usage: "do not write the audit line to syslog"},
		&cli.BoolFlag{Name: "verify", Destination: &o.verify, Usage: "after destroying, look every target up again, whatever the kernel answered"},
		&cli.IntFlag{Name: "workers", Destination: &o.workers, HideDefault: true, Config: cli.IntegerConfig{Base: 10},
			Usage: "destroy on `N` netlink sockets at once (default: one per CPU, at most 4; one before Linux 6.9)"},
	}, o.outputFlags()...)
}

// maxFlag is --max, which a dry run applies as the real run would, so that
// a runbook line can be rehearsed. It is read as a decimal number by
// checkMax ("010" is ten).
func (o *options) maxFlag() cli.Flag {
	return &cli.StringFlag{Name: "max", Destination: &o.maxWord, Usage: "if more than `N` sockets would be destroyed, destroy nothing and exit 3 (default: no limit)",
		Action: func(context.Context, *cli.Command, string) error { o.maxSet = true; return nil }}
}

// topFlag is summary --top.
func (o *options) topFlag() cli.Flag {
	return &cli.IntFlag{Name: "top", Destination: &o.top, Value: 10, Config: cli.IntegerConfig{Base: 10}, Usage: "show the `N` largest of each ranking"}
}

// jsonFlag is --json alone, for summary's one object.
func (o *options) jsonFlag() cli.Flag {
	return &cli.BoolFlag{Name: "json", Destination: &o.json, Usage: "one JSON object on stdout"}
}

// outputFlags are the options of the commands that print results.
func (o *options) outputFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "json", Destination: &o.json, Usage: "NDJSON on stdout: one object per socket, then a summary"},
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Destination: &o.quiet, Usage: "only the summary and errors"},
	}
}

func (o *options) allFlag() cli.Flag {
	return &cli.BoolFlag{Name: "all", Destination: &o.all, Usage: "allow a destroy with no selector at all"}
}

func (o *options) dryRunFlag() cli.Flag {
	return &cli.BoolFlag{Name: "dry-run", Aliases: []string{"n"}, Destination: &o.dryRun, Usage: "print the plan, destroy nothing (same as list)"}
}

// checkWorkers refuses a --workers that makes no sense.
func (o *options) checkWorkers() error {
	if o.workers < 0 || o.workers > 64 {
		return usagef("--workers %d: give how many netlink sockets destroy at once, 1 to 64", o.workers)
	}
	return nil
}

// checkMax reads --max, a decimal number of 0 or more, and refuses anything
// else before the kernel is asked anything.
func (o *options) checkMax() error {
	if !o.maxSet {
		return nil
	}
	n, err := strconv.ParseUint(o.maxWord, 10, 31)
	switch {
	case err == nil:
		o.max = int(n)
		return nil
	case strings.HasPrefix(o.maxWord, "-") && isDecimal(o.maxWord[1:]):
		return usagef("--max %s: give the largest number of %s, 0 or more", o.maxWord, o.maxOf())
	case isDecimal(o.maxWord):
		return usagef("--max %s: that is more than a host can have; give a smaller number", o.maxWord)
	}
	return usagef("--max: %q is not a number; give the largest number of %s, in decimal, 0 or more", o.maxWord, o.maxOf())
}

// maxOf is what --max counts: "sockets to destroy", or what the command
// sets (conntrack's entries).
func (o *options) maxOf() string {
	if o.maxNoun != "" {
		return o.maxNoun
	}
	return "sockets to destroy"
}

func isDecimal(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// overMax refuses a plan of n targets that is larger than --max, for a real
// run and a dry run alike.
func (o *options) overMax(n int) error {
	if o.maxSet && n > o.max {
		return refusal{fmt.Sprintf("%s would be destroyed, more than --max %d; nothing was destroyed (narrow the selection or raise --max)",
			plural(n, "socket"), o.max)}
	}
	return nil
}

// rootOptionsFirst refuses options given before a subcommand, which would
// belong to the root and do nothing ("tcpreap --json apply plan").
func rootOptionsFirst(ctx context.Context, cmd *cli.Command) (context.Context, error) {
	if set := cmd.Root().LocalFlagNames(); len(set) > 0 {
		return ctx, usagef("put the options after the command: tcpreap %s --%s …", cmd.Name, set[0])
	}
	return ctx, nil
}

// local keeps the root command's options to the root: urfave/cli would
// otherwise let every subcommand accept them and silently ignore them
// ("tcpreap apply --state listen plan"). Every urfave/cli flag type has the
// field Local; a flag without one is a programming error, caught by the
// tests.
func local(flags []cli.Flag) {
	for _, f := range flags {
		v := reflect.ValueOf(f)
		if v.Kind() == reflect.Pointer {
			v = v.Elem()
		}
		field := v.FieldByName("Local")
		if !field.IsValid() || field.Kind() != reflect.Bool || !field.CanSet() {
			panic(fmt.Sprintf("flag %T has no Local field to keep it to its command", f))
		}
		field.SetBool(true)
	}
}

// shortBoolFlags returns the one-letter boolean flags of a command and its
// subcommands ("46tunqy"), which may be grouped ("-6t").
func shortBoolFlags(cmd *cli.Command) string {
	var b strings.Builder
	for _, c := range append([]*cli.Command{cmd}, cmd.Commands...) {
		for _, f := range c.Flags {
			if _, ok := f.(*cli.BoolFlag); !ok {
				continue
			}
			for _, n := range f.Names() {
				if len(n) == 1 && !strings.Contains(b.String(), n) {
					b.WriteString(n)
				}
			}
		}
	}
	return b.String()
}

// digitFlags rewrites short flag groups that start with a digit ("-4",
// "-6t") into long flags ("--4", "--6", "--t"): urfave/cli takes "-4" for a
// negative number and stops parsing flags there. groupable is the letters
// that may be grouped. Words after "--" stay.
func digitFlags(args []string, groupable string) []string {
	out := make([]string, 0, len(args))
	for i, a := range args {
		if a == "--" {
			return append(out, args[i:]...)
		}
		if len(a) < 2 || a[0] != '-' || a[1] < '0' || a[1] > '9' || strings.Trim(a[1:], groupable) != "" {
			out = append(out, a)
			continue
		}
		for _, c := range a[1:] {
			out = append(out, "--"+string(c))
		}
	}
	return out
}
