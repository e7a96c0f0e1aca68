package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/tcpreap/tcpreap/kill"
	"github.com/tcpreap/tcpreap/reap"

	"github.com/tcpreap/tcpreap/cmd/tcpreap/internal/render"
	"github.com/urfave/cli/v3"
)

// Each command has a struct of its own that its flags write into as they
// are parsed (reapFlags, listFlags, …), declared in the command's file and
// made of the parts below that several commands share.

// A command is what every command has besides its flags: the whole command
// line (for the audit line and a plan file) and its arguments.
type command struct {
	args  []string
	words []string // PEERs, or a plan file
}

// action returns a command's Action: it records the command line in c and
// calls do.
func action(c *command, args []string, do func(context.Context) error) cli.ActionFunc {
	return func(ctx context.Context, cmd *cli.Command) error {
		c.args, c.words = args, cmd.Args().Slice()
		return do(ctx)
	}
}

// cutWords are how the command line speaks of what a command acts on: its
// options' help, and the act path's sentences.
type cutWords struct {
	noun       func(n int) string // "3 sockets"
	many       string             // "sockets"
	verb, done string             // "destroy", "destroyed"
}

var (
	socketWords = cutWords{noun: func(n int) string { return render.Plural(n, "socket") }, many: "sockets", verb: "destroy", done: "destroyed"}
	flowWords   = cutWords{noun: render.Entries, many: "conntrack entries", verb: "delete", done: "deleted"}
)

// selectFlags are the selectors of the commands that look at sockets.
type selectFlags struct {
	states, ports, localPorts, remotePorts, locals []string
	iface                                          string
	ifaceSet                                       bool
	tcp, udp, ipv4, ipv6                           bool
	includeSelf                                    bool
	pids, commands, uids, commandPatterns, cgroups []string // by owner
	idle, stalledFor                               string   // durations, as given
	stalled, stalledForSet                         bool
	localGone                                      bool
	peerNotIn                                      []string // CIDRs and files, as given
	netns                                          string   // --netns, as given
	allNetns                                       bool
}

// flags are the selectors of tcpreap, list, plan and summary.
func (o *selectFlags) flags() []cli.Flag {
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
		&cli.BoolFlag{Name: "local-gone", Destination: &o.localGone, Usage: "sockets whose local address this host (or --netns) no longer has: after a failover or renumbering"},
		&cli.StringSliceFlag{Name: "peer-not-in", Destination: &o.peerNotIn, Usage: "connections whose peer is outside the live set `CIDR|FILE`: an address, a prefix, or a file of them, one a line"},
	}
}

// netnsFlag is --netns, of every command that looks at sockets.
func netnsFlag(into *string) cli.Flag {
	return &cli.StringFlag{Name: "netns", Destination: into,
		Usage: "work in network namespace `NS`: a name under /run/netns, an nsfs path (/proc/PID/ns/net), or pid:PID"}
}

// allNetnsFlag is --all-netns, of the commands that plan.
func (o *selectFlags) allNetnsFlag() cli.Flag {
	return &cli.BoolFlag{Name: "all-netns", Destination: &o.allNetns,
		Usage: "work in every network namespace of the host: named, Docker's, and every process's"}
}

// includeSelfFlag lifts the guard of the SSH session; usage says what it
// does in the command.
func includeSelfFlag(into *bool, usage string) cli.Flag {
	return &cli.BoolFlag{Name: "include-self", Destination: into, Usage: usage}
}

const (
	includeSelfDestroys = "also destroy the ssh session tcpreap runs in"
	includeSelfShows    = "show the ssh session tcpreap runs in as a match too"
)

// A maxFlag is --max, which a dry run applies as the real run would, so
// that a runbook line can be rehearsed. It is read as a decimal number by
// check ("010" is ten).
type maxFlag struct {
	word string // as given
	set  bool
	max  int // once check read it
}

// flag is --max of a command that acts as w says.
func (m *maxFlag) flag(w cutWords) cli.Flag {
	return &cli.StringFlag{Name: "max", Destination: &m.word, Usage: "if more than `N` " + w.many + " would be " + w.done + ", " + w.verb + " nothing and exit 3 (default: no limit)",
		Action: func(context.Context, *cli.Command, string) error { m.set = true; return nil }}
}

// check reads --max, a decimal number of 0 or more, and refuses anything
// else before the kernel is asked anything.
func (m *maxFlag) check(w cutWords) error {
	if !m.set {
		return nil
	}
	noun := w.many + " to " + w.verb
	n, err := strconv.ParseUint(m.word, 10, 31)
	switch {
	case err == nil:
		m.max = int(n)
		return nil
	case strings.HasPrefix(m.word, "-") && isDecimal(m.word[1:]):
		return usagef("--max %s: give the largest number of %s, 0 or more", m.word, noun)
	case isDecimal(m.word):
		return usagef("--max %s: that is more than a host can have; give a smaller number", m.word)
	}
	return usagef("--max: %q is not a number; give the largest number of %s, in decimal, 0 or more", m.word, noun)
}

func isDecimal(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// outputFlags are --json and --quiet, of the commands that print results.
type outputFlags struct{ json, quiet bool }

// flags are --json and --quiet; noun is what one object is of.
func (o *outputFlags) flags(noun string) []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "json", Destination: &o.json, Usage: "NDJSON on stdout: one object per " + noun + ", then a summary"},
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Destination: &o.quiet, Usage: "only the summary and errors"},
	}
}

// jsonFlag is --json alone, for summary's and doctor's one object.
func jsonFlag(into *bool) cli.Flag {
	return &cli.BoolFlag{Name: "json", Destination: into, Usage: "one JSON object on stdout"}
}

// actFlags are the options of the commands that destroy or delete, which
// the act path reads.
type actFlags struct {
	maxFlag
	outputFlags
	yes, noAudit, all, dryRun bool
}

// flags are the act path's options; w says what the command acts on.
func (a *actFlags) flags(w cutWords, one string) []cli.Flag {
	return append([]cli.Flag{
		&cli.BoolFlag{Name: "yes", Aliases: []string{"y"}, Destination: &a.yes, Usage: "do not ask for confirmation on a terminal"},
		a.maxFlag.flag(w),
		&cli.BoolFlag{Name: "no-audit", Destination: &a.noAudit, Usage: "do not write the audit line to syslog"},
	}, a.outputFlags.flags(one)...)
}

// dryRunFlag is -n; list names the command that lists.
func (a *actFlags) dryRunFlag(w cutWords, list string) cli.Flag {
	return &cli.BoolFlag{Name: "dry-run", Aliases: []string{"n"}, Destination: &a.dryRun, Usage: "print the plan, " + w.verb + " nothing (as " + list + " does; like the real run, it needs --all without a selector)"}
}

// allFlag is --all, the consent to act with no selector at all.
func (a *actFlags) allFlag(w cutWords) cli.Flag {
	return &cli.BoolFlag{Name: "all", Destination: &a.all, Usage: "allow a " + w.verb + " with no selector at all"}
}

// destroyFlags are what destroying sockets takes besides the act path's.
type destroyFlags struct {
	verify     bool
	workers    int
	workersSet bool
	engine     string
	pace       kill.Pace
	order      reap.Order
	orderSet   bool
}

func (d *destroyFlags) flags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "verify", Destination: &d.verify, Usage: "after destroying, look every target up again, whatever the kernel answered"},
		&cli.IntFlag{Name: "workers", Destination: &d.workers, HideDefault: true, Config: cli.IntegerConfig{Base: 10},
			Usage:  "destroy on `N` netlink sockets at once (default: one per CPU, at most 4; one before Linux 6.9)",
			Action: func(_ context.Context, _ *cli.Command, n int) error { d.workersSet = true; return checkWorkers(n) }},
		&cli.StringFlag{Name: "engine", Destination: &d.engine, Value: reap.Auto,
			Usage:  "destroy with `E`: diag (SOCK_DESTROY), bpf (socket iterators), fd (through the owner's descriptor), packet (forged segments, CAP_NET_RAW), or auto: diag, then bpf, fd and packet for what diag cannot",
			Action: func(_ context.Context, _ *cli.Command, word string) error { return checkEngine(word) }},
		&cli.StringFlag{Name: "rate", Usage: "destroy at the rate `N/s` (or N/m, N/h), in batches, so that the clients do not all reconnect at once",
			Action: func(_ context.Context, _ *cli.Command, w string) (err error) {
				d.pace.Rate, err = kill.ParseRate(w)
				return flagError("rate", err)
			}},
		&cli.StringFlag{Name: "spread", Usage: "destroy the sockets evenly over `DURATION` (90s, 10m, 2h), in batches",
			Action: func(_ context.Context, _ *cli.Command, w string) (err error) {
				d.pace.Spread, err = kill.ParseSpread(w)
				return flagError("spread", err)
			}},
		&cli.StringFlag{Name: "order", Usage: "with --rate or --spread, the order `O`: plan (as listed), idle (the idlest first) or random",
			Action: func(_ context.Context, _ *cli.Command, w string) (err error) {
				d.orderSet = true
				d.order, err = reap.ParseOrder(w)
				return flagError("order", err)
			}},
	}
}

// paced refuses a pace given twice over (--rate and --spread) and an order
// with no pace to order.
func (d *destroyFlags) paced() error {
	switch {
	case d.pace.Rate.N > 0 && d.pace.Spread > 0:
		return usagef("--rate %s and --spread %s: give one of them, the rate or the time to spread the destroys over", d.pace.Rate, d.pace.Spread)
	case d.orderSet && !d.pace.Paced():
		return usagef("--order %s says which sockets go first in a paced run; add --rate or --spread", d.order)
	}
	return nil
}

// flagError is err, of option --name, as bad input; nil for none.
func flagError(name string, err error) error {
	if err != nil {
		return usageError{fmt.Errorf("--%s %w", name, err)}
	}
	return nil
}

// checkEngine refuses an --engine that is none, or one this host cannot
// offer, as it is parsed.
func checkEngine(word string) error {
	name, err := reap.ParseEngine(word)
	if err == nil {
		err = reap.Offered(name)
	}
	if err != nil {
		return usageError{fmt.Errorf("--engine %w", err)}
	}
	return nil
}

// checkWorkers refuses a --workers that makes no sense, as it is parsed:
// before any other word is looked at.
func checkWorkers(n int) error {
	if n < 1 || n > 64 {
		return usagef("--workers %d: give 1 to 64, the number of netlink sockets that send the destroys at once (without --workers: one per CPU, at most 4)", n)
	}
	return nil
}
