package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"github.com/urfave/cli/v3"

	"github.com/tcpreap/tcpreap/flows"
	"github.com/tcpreap/tcpreap/inet"
)

// flowOptions are the options of conntrack and conntrack list: the shared
// ones (protocols, families, --state, --port, action and output) and those
// of conntrack entries alone.
type flowOptions struct {
	options
	replySrcs, statuses []string
	zone, mark          string
	zoneSet, markSet    bool
	listing             bool // list, or -n: no selector needed
}

const conntrackHelp = `PEER is either end of the original direction (the client as source, or the
server or service address as destination): IP, CIDR, IP:PORT, [IPv6]:PORT or a host
name. Several PEERs select entries matching any of them; all given selectors must hold.
--port is either port of the original direction, --state conntrack's own TCP states
(syn_sent syn_recv established fin_wait close_wait last_ack time_wait close syn_sent2,
or all), --reply-src the source of the reply direction: with DNAT, the backend.
Default: TCP entries; -u: UDP; -t -u: both.`

// conntrackCommand is tcpreap conntrack: plan the conntrack entries a
// selection matches, then delete them; its command list only prints them.
func conntrackCommand(args []string, io streams) *cli.Command {
	o := &flowOptions{}
	o.maxNoun = "conntrack entries to delete"
	cmd := &cli.Command{
		Name:      "conntrack",
		Usage:     "delete the conntrack entries (router flows) a selection matches",
		ArgsUsage: "[PEER...]",
		Description: `Deletes the connection tracking entries the selection matches, on this host as a
router or a Kubernetes node sees its flows; conntrack list and -n only print them. It
plans them, deletes each by its original tuple, zone and id (an entry replaced by a new
one with the same addresses has another id and is left alone), checks with a second
dump that they are gone, and reports every entry: killed, gone, failed or skipped.

Deleting an entry sends nothing to either end: no reset. It forgets the flow's NAT
mapping; where a firewall drops packets in state invalid (and nf_conntrack_tcp_loose
is 0), the flow's next TCP packet is dropped and the flow stops; without one, the next
packet may start a new entry. A UDP flow's next packet starts a new entry, through the
rules and NAT as they are now (a Service's DNAT picks a current backend).

` + conntrackHelp + `
With no selector at all, nothing is deleted without --all. On a terminal, the plan's
summary is confirmed first. Needs CAP_NET_ADMIN, even to list.

Examples:
  tcpreap conntrack 198.51.100.7                     cut every flow with that client
  tcpreap conntrack -u --reply-src 10.0.3.7 -y       stale UDP towards a replaced pod
  tcpreap conntrack --status unreplied --port 53 -u  DNS flows that never got a reply
  tcpreap conntrack --mark 0x10/0xff --zone 2 -n     dry run: entries of a mark and zone
  tcpreap conntrack list --json | jq .               every TCP entry, as NDJSON

Exit codes: 0 every target gone (or a dry run), 1 runtime failure, 2 bad input,
3 refused (--max, confirmation declined).`,
		Flags: slices.Concat(o.flowSelectionFlags(), []cli.Flag{
			&cli.BoolFlag{Name: "include-self", Destination: &o.includeSelf, Usage: "also delete the entry of the ssh session tcpreap runs in"},
			&cli.BoolFlag{Name: "yes", Aliases: []string{"y"}, Destination: &o.yes, Usage: "do not ask for confirmation on a terminal"},
			o.flowMaxFlag(),
			&cli.BoolFlag{Name: "no-audit", Destination: &o.noAudit, Usage: "do not write the audit line to syslog"},
		}, o.flowOutputFlags(), []cli.Flag{
			&cli.BoolFlag{Name: "dry-run", Aliases: []string{"n"}, Destination: &o.dryRun, Usage: "print the plan, delete nothing (same as conntrack list)"},
			&cli.BoolFlag{Name: "all", Destination: &o.all, Usage: "allow a delete with no selector at all"},
		}),
		Action:   o.action(args, func(ctx context.Context, _ *options) error { return cutFlows(ctx, o, io) }),
		Commands: []*cli.Command{conntrackListCommand(args, io)},
	}
	local(cmd.Flags)
	return cmd
}

// conntrackListCommand is tcpreap conntrack list.
func conntrackListCommand(args []string, io streams) *cli.Command {
	o := &flowOptions{}
	o.maxNoun = "conntrack entries to delete"
	cmd := &cli.Command{
		Name:      "list",
		Aliases:   []string{"ls"},
		Usage:     "print the conntrack entries the same selection matches; delete nothing",
		ArgsUsage: "[PEER...]",
		Description: `Prints the plan that tcpreap conntrack with the same selection would carry out: every
matching entry, would_kill or skipped with the reason, and a summary. Deletes nothing.
Without a selector it lists every TCP entry (-u: UDP).

` + conntrackHelp + `

Examples:
  tcpreap conntrack list 192.0.2.34                  the flows a cut of that peer deletes
  tcpreap conntrack list -t -u --reply-src 10.0.3.7  flows DNATed to that backend
  tcpreap conntrack list --state syn_sent,syn_recv   handshakes that never completed
  tcpreap conntrack list -u --json | jq .            every UDP entry, as NDJSON
  tcpreap conntrack list --netns router1 -u          the table of network namespace router1`,
		Flags: slices.Concat(o.flowSelectionFlags(), []cli.Flag{
			&cli.BoolFlag{Name: "include-self", Destination: &o.includeSelf, Usage: "show the entry of the ssh session tcpreap runs in as a match too"},
			o.flowMaxFlag(),
		}, o.flowOutputFlags()),
		Action: o.action(args, func(ctx context.Context, _ *options) error { return listFlows(ctx, o, io) }),
		Before: func(ctx context.Context, cmd *cli.Command) (context.Context, error) {
			if set := cmd.Lineage()[1].LocalFlagNames(); len(set) > 0 {
				return ctx, usagef("put the options after the command: tcpreap conntrack list --%s …", set[0])
			}
			return ctx, nil
		},
		UseShortOptionHandling: true,
		OnUsageError: func(_ context.Context, _ *cli.Command, err error, _ bool) error {
			return usageError{fmt.Errorf("%v (see tcpreap conntrack list --help)", err)}
		},
	}
	local(cmd.Flags)
	return cmd
}

// flowMaxFlag is --max for conntrack entries; checkMax reads it.
func (o *flowOptions) flowMaxFlag() cli.Flag {
	return &cli.StringFlag{Name: "max", Destination: &o.maxWord, Usage: "if more than `N` entries would be deleted, delete nothing and exit 3 (default: no limit)",
		Action: func(context.Context, *cli.Command, string) error { o.maxSet = true; return nil }}
}

// flowOutputFlags are --json and --quiet for conntrack entries.
func (o *flowOptions) flowOutputFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "json", Destination: &o.json, Usage: "NDJSON on stdout: one object per entry, then a summary"},
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Destination: &o.quiet, Usage: "only the summary and errors"},
	}
}

// flowSelectionFlags are the selectors of conntrack and conntrack list.
func (o *flowOptions) flowSelectionFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "state", Destination: &o.states, Usage: "conntrack TCP states `S[,S]`: syn_sent syn_recv established fin_wait close_wait last_ack time_wait close syn_sent2, or all (default: all)"},
		&cli.StringSliceFlag{Name: "port", Destination: &o.ports, Usage: "either port of the original direction `P[,P]`: number, LO-HI or service name"},
		&cli.StringSliceFlag{Name: "reply-src", Destination: &o.replySrcs, Usage: "source of the reply direction `ADDR` (IP or CIDR): with DNAT, the backend", Config: cli.StringConfig{TrimSpace: true}},
		&cli.StringSliceFlag{Name: "status", Destination: &o.statuses, Usage: "entries with status `S[,S]`: unreplied (no reply seen yet) or assured"},
		&cli.StringFlag{Name: "zone", Destination: &o.zone, Usage: "entries of conntrack zone `N`",
			Action: func(context.Context, *cli.Command, string) error { o.zoneSet = true; return nil }},
		&cli.StringFlag{Name: "mark", Destination: &o.mark, Usage: "entries whose mark is `VALUE[/MASK]` (decimal or 0x hexadecimal)",
			Action: func(context.Context, *cli.Command, string) error { o.markSet = true; return nil }},
		&cli.BoolFlag{Name: "tcp", Aliases: []string{"t"}, Destination: &o.tcp, Usage: "TCP entries (the default)"},
		&cli.BoolFlag{Name: "udp", Aliases: []string{"u"}, Destination: &o.udp, Usage: "UDP entries"},
		&cli.BoolFlag{Name: "4", Destination: &o.ipv4, Usage: "IPv4 entries"},
		&cli.BoolFlag{Name: "6", Destination: &o.ipv6, Usage: "IPv6 entries"},
		o.netnsFlag(),
	}
}

// flowSelection turns the options and PEER words into a flows.Filter and
// the connections a plan keeps (the SSH session), with notes to tell.
// Every error is bad input.
func flowSelection(ctx context.Context, o *flowOptions) (*flows.Filter, []flows.Keep, []string, error) {
	f := &flows.Filter{}
	if o.tcp {
		f.Protocols = append(f.Protocols, inet.TCP)
	}
	if o.udp {
		f.Protocols = append(f.Protocols, inet.UDP)
	}
	if o.ipv4 {
		f.Families = append(f.Families, inet.IPv4)
	}
	if o.ipv6 {
		f.Families = append(f.Families, inet.IPv6)
	}
	services := serviceLookup(f.Protocols)
	for _, w := range o.states {
		m, err := flows.ParseTCPStates(w)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("--state: %w", err)
		}
		f.States |= m
	}
	// Addresses and ports that take in everything ("--port 0-65535",
	// "0.0.0.0/0 ::/0") are no selection: the filter's HasSelector says so,
	// and the delete needs --all.
	for _, w := range o.ports {
		rs, err := inet.ParsePorts(w, services)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("--port: %w", err)
		}
		f.Ports = append(f.Ports, rs...)
	}
	for _, w := range o.replySrcs {
		p, err := inet.ParsePrefix(w)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("--reply-src: %w", err)
		}
		f.ReplySrc = append(f.ReplySrc, p)
	}
	for _, w := range o.statuses {
		s, err := flows.ParseStatuses(w)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("--status: %w", err)
		}
		f.Statuses = append(f.Statuses, s...)
	}
	if o.zoneSet {
		z, err := flows.ParseZone(o.zone)
		if err != nil {
			return nil, nil, nil, err
		}
		f.Zone = &z
	}
	if o.markSet {
		m, err := flows.ParseMark(o.mark)
		if err != nil {
			return nil, nil, nil, err
		}
		f.Mark = &m
	}
	var notes []string
	peers, err := inet.ParsePeers(o.words, services, func(names []string) (map[string][]netip.Addr, error) {
		addrs, err := resolveAll(ctx, names)
		for _, name := range names {
			if len(addrs[name]) > 0 {
				notes = append(notes, fmt.Sprintf("peer %s is %s", name, joinAddrs(addrs[name])))
			}
		}
		return addrs, err
	})
	if err != nil {
		return nil, nil, nil, withPeerHint(o.words, services, err)
	}
	f.Peers = peers
	var keeps []flows.Keep
	session, note := sessionGuard(o.includeSelf)
	if note != "" {
		notes = append(notes, note)
	}
	if session != nil && session.Client.IsValid() && session.Server.IsValid() {
		keeps = append(keeps, flows.Keep{A: session.Client, B: session.Server, Reason: "the ssh session tcpreap runs in (--include-self deletes it too)"})
	}
	return f, keeps, notes, nil
}

// planFlows dials ctnetlink and plans the selection; the caller closes the
// connection.
func planFlows(ctx context.Context, o *flowOptions, io streams) (*flows.Conn, *flows.Plan, error) {
	f, keeps, notes, err := flowSelection(ctx, o)
	if err != nil {
		return nil, nil, usageError{err}
	}
	if !f.HasSelector() && !o.all && !o.listing {
		return nil, nil, usagef("refusing to delete every conntrack entry: name a PEER or a selector (--state, --port, --reply-src, --status, --zone, --mark), or give --all")
	}
	if err := o.checkMax(); err != nil {
		return nil, nil, err
	}
	conn, err := dialFlows(o)
	if err != nil {
		return nil, nil, err
	}
	found, err := conn.Dump(ctx, f)
	if err != nil {
		conn.Close()
		return nil, nil, flowError(err)
	}
	if !o.quiet {
		for _, n := range notes {
			fmt.Fprintf(io.ErrOut, "tcpreap: %s\n", printable(n))
		}
	}
	// The kernel dumps in hash order; a person reads by protocol and client.
	slices.SortFunc(found, func(a, b flows.Flow) int {
		return cmp.Or(cmp.Compare(a.Protocol, b.Protocol), a.Orig.Src.Compare(b.Orig.Src), a.Orig.Dst.Compare(b.Orig.Dst))
	})
	plan := flows.NewPlan(found, keeps)
	if n := len(plan.Targets); o.maxSet && n > o.max {
		conn.Close()
		return nil, nil, refusal{fmt.Sprintf("%s would be deleted, more than --max %d; nothing was deleted (narrow the selection or raise --max)", entries(n), o.max)}
	}
	return conn, plan, nil
}

// listFlows is conntrack list, and conntrack -n.
func listFlows(ctx context.Context, o *flowOptions, io streams) error {
	o.listing = true
	conn, plan, err := planFlows(ctx, o, io)
	if err != nil {
		return err
	}
	conn.Close()
	return flowRenderer{w: io.Out, json: o.json, quiet: o.quiet}.report(plan.DryRun(), true)
}

// cutFlows is conntrack: the plan, the confirmation, the deletes and their
// verification, the audit line and the report with its exit code.
func cutFlows(ctx context.Context, o *flowOptions, io streams) error {
	if o.dryRun {
		return listFlows(ctx, o, io)
	}
	conn, plan, err := planFlows(ctx, o, io)
	if err != nil {
		return err
	}
	defer conn.Close()
	n := len(plan.Targets)
	if n > 0 && io.Terminal != nil && !o.yes {
		if tty, err := io.Terminal(); err == nil {
			ok, why := ask(ctx, tty, flowPlanSummary(plan), fmt.Sprintf("delete %s? [y/N] ", entries(n)))
			tty.Close()
			if !ok {
				return refusal{why + "; nothing was deleted"}
			}
		}
	}
	results := plan.Execute(ctx, conn)
	sum := inet.Summarize(results)
	reportErr := flowRenderer{w: io.Out, json: o.json, quiet: o.quiet}.report(results, false)
	if n > 0 && !o.noAudit {
		if err := audit(o.args, sum); err != nil {
			fmt.Fprintf(io.ErrOut, "tcpreap: warning: the audit line was not written to syslog: %s\n", printable(err.Error()))
		}
	}
	if reportErr != nil {
		return reportErr
	}
	if sum.Failed == 0 {
		return nil
	}
	said := map[string]bool{}
	for _, r := range results {
		if why, ok := flows.Explain(r.Err); r.Action == inet.Failed && ok && !said[why] {
			said[why] = true
			fmt.Fprintf(io.ErrOut, "tcpreap: %s\n", why)
		}
	}
	if len(said) == 0 {
		fmt.Fprintf(io.ErrOut, "tcpreap: %d of the conntrack entries could not be deleted; see their errors above\n", sum.Failed)
	}
	return exitError{exitFailure}
}

// dialFlows opens the conntrack table of the namespace --netns names, or of
// tcpreap's own.
func dialFlows(o *flowOptions) (*flows.Conn, error) {
	spaces, err := o.openSpaces(&selection{})
	if err != nil {
		return nil, selectionError(err)
	}
	ns := spaces[0]
	defer ns.Close() // the socket stays in the namespace it was made in
	conn, err := flows.Dial(&flows.Config{NetNS: dialFd(ns)})
	if err != nil {
		return nil, inSpace(ns, flowError(enterError(ns, err)))
	}
	return conn, nil
}

// flowError explains a failed dial or dump.
func flowError(err error) error {
	if why, ok := flows.Explain(err); ok {
		return fmt.Errorf("%s: %v", why, err)
	}
	var op *flows.OpError
	if errors.As(err, &op) {
		return fmt.Errorf("cannot list conntrack entries: %v", op.Err)
	}
	return fmt.Errorf("cannot list conntrack entries: %v", err)
}

// flowPlanSummary counts the targets by protocol and state, for the
// confirmation.
func flowPlanSummary(plan *flows.Plan) string {
	counts := map[string]int{}
	var order []string
	for _, fl := range plan.Targets {
		k := fl.Protocol.String()
		if fl.Protocol == inet.TCP {
			k += " " + fl.State.String()
		}
		if counts[k] == 0 {
			order = append(order, k)
		}
		counts[k]++
	}
	s := fmt.Sprintf("tcpreap: the plan deletes %s", entries(len(plan.Targets)))
	if len(plan.Skipped) > 0 {
		s += fmt.Sprintf(" and keeps back %d (see tcpreap conntrack list)", len(plan.Skipped))
	}
	s += " (no reset reaches either end; NAT mappings are forgotten):\n"
	for _, k := range order {
		s += fmt.Sprintf("  %6d %s\n", counts[k], k)
	}
	return s
}

// entries is "1 conntrack entry", "2 conntrack entries".
func entries(n int) string {
	if n == 1 {
		return "1 conntrack entry"
	}
	return fmt.Sprintf("%d conntrack entries", n)
}
