package main

import (
	"context"
	"fmt"
	"slices"

	"github.com/urfave/cli/v3"

	"github.com/tcpreap/tcpreap/cmd/tcpreap/internal/peerword"
	"github.com/tcpreap/tcpreap/cmd/tcpreap/internal/render"
	"github.com/tcpreap/tcpreap/flows"
	"github.com/tcpreap/tcpreap/inet"
	"github.com/tcpreap/tcpreap/reap"
)

// flowSelectFlags are the selectors of conntrack and conntrack list.
type flowSelectFlags struct {
	states, ports, replySrcs, statuses []string
	zone, mark                         string
	zoneSet, markSet                   bool
	tcp, udp, ipv4, ipv6               bool
	netns                              string
	includeSelf                        bool
}

// conntrackFlags are conntrack's.
type conntrackFlags struct {
	command
	flowSelectFlags
	actFlags
	reset bool
}

// conntrackListFlags are conntrack list's, and what conntrack -n passes on.
type conntrackListFlags struct {
	command
	flowSelectFlags
	maxFlag
	outputFlags
}

const conntrackHelp = `PEER is either end of the original direction (the client as source, or the
server or service address as destination): IP, CIDR, IP:PORT, [IPv6]:PORT or
a host name. Several PEERs select entries matching any of them; all given
selectors must hold. --port is either port of the original direction,
--state conntrack's own TCP states (syn_sent syn_recv established fin_wait
close_wait last_ack time_wait close syn_sent2, or all), --reply-src the
source of the reply direction: with DNAT, the backend. Default: TCP entries;
-u: UDP; -t -u: both.`

// conntrackCommand is tcpreap conntrack: plan the conntrack entries a
// selection matches, then delete them; its command list only prints them.
func conntrackCommand(args []string, io streams) *cli.Command {
	f := &conntrackFlags{}
	cmd := &cli.Command{
		Name:      "conntrack",
		Usage:     "delete the conntrack entries a selection matches",
		ArgsUsage: "[PEER...]",
		Description: `Deletes the connection tracking entries the selection matches, on this host
as a router or a Kubernetes node sees its flows; conntrack list and -n only
print them. It plans them, deletes each by its original tuple, zone and id,
after checking that the entry there is still the one planned (a newcomer on
its tuple is left alone), checks with a second dump that they are gone, and
reports every entry: deleted, gone, failed or skipped.

With --reset, both ends of each TCP flow are reset first, as cutter does:
each is sent a SYN from the address it talks to, answers with a challenge
ACK that says which sequence number it expects, and is sent a RST with it
(the server at the address NAT gave it). Each entry says what its ends got
(reset both, reset client only: the server did not answer in 1 s, ...);
after the delete no new entry may appear for its tuple. UDP has no reset.
Needs CAP_NET_RAW.

Without --reset, deleting an entry sends nothing to either end. It forgets
the flow's NAT mapping; where a firewall drops packets in state invalid (and
nf_conntrack_tcp_loose is 0), the flow's next TCP packet is dropped and the
flow stops; without one, the next packet may start a new entry. A UDP flow's
next packet starts a new entry, through the rules and NAT as they are now (a
Service's DNAT picks a current backend).

` + conntrackHelp + `
With no selector at all, nothing is deleted without --all. On a terminal, the
plan's summary is confirmed first. Needs CAP_NET_ADMIN, even to list.

Examples:
  # cut every flow with that client
  tcpreap conntrack 198.51.100.7
  # and reset both ends of each
  tcpreap conntrack --reset 198.51.100.7
  # stale UDP towards a replaced pod
  tcpreap conntrack -u --reply-src 10.0.3.7 -y
  # DNS flows that never got a reply
  tcpreap conntrack --status unreplied --port 53 -u
  # dry run: entries of a mark and zone
  tcpreap conntrack --mark 0x10/0xff --zone 2 -n
  # every TCP entry, as NDJSON
  tcpreap conntrack list --json | jq .

Exit codes: 0 every target gone (or a dry run), 1 runtime failure, 2 bad
input, 3 refused (--max, confirmation declined).`,
		Flags: slices.Concat(f.flowSelectFlags.flags(), []cli.Flag{includeSelfFlag(&f.includeSelf, "also delete the entry of the ssh session tcpreap runs in")},
			f.actFlags.flags(flowWords, "entry"), []cli.Flag{f.dryRunFlag(flowWords, "conntrack list"), f.allFlag(flowWords),
				&cli.BoolFlag{Name: "reset", Destination: &f.reset, Usage: "reset both ends of each TCP flow before its entry is deleted"}}),
		Action:   action(&f.command, args, func(ctx context.Context) error { return cutFlows(ctx, f, io) }),
		Commands: []*cli.Command{conntrackListCommand(args, io)},
	}
	return cmd
}

// conntrackListCommand is tcpreap conntrack list.
func conntrackListCommand(args []string, io streams) *cli.Command {
	f := &conntrackListFlags{}
	cmd := &cli.Command{
		Name:      "list",
		Aliases:   []string{"ls"},
		Usage:     "print the entries a selection matches",
		ArgsUsage: "[PEER...]",
		Description: `Prints the plan that tcpreap conntrack with the same selection would carry
out: every matching entry, delete or skip with the reason, and a
summary. Deletes nothing. Without a selector it lists every TCP entry (-u:
UDP).

` + conntrackHelp + `

Examples:
  # the flows a cut of that peer deletes
  tcpreap conntrack list 192.0.2.34
  # flows DNATed to that backend
  tcpreap conntrack list -t -u --reply-src 10.0.3.7
  # handshakes that never completed
  tcpreap conntrack list --state syn_sent,syn_recv
  # every UDP entry, as NDJSON
  tcpreap conntrack list -u --json | jq .
  # the table of network namespace router1
  tcpreap conntrack list --netns router1 -u`,
		Flags: slices.Concat(f.flowSelectFlags.flags(), []cli.Flag{
			includeSelfFlag(&f.includeSelf, "show the entry of the ssh session tcpreap runs in as a match too"),
			f.maxFlag.flag(flowWords),
		}, f.outputFlags.flags("entry")),
		Action: action(&f.command, args, func(ctx context.Context) error { return listFlows(ctx, f, true, io) }),
	}
	return cmd
}

// flags are the selectors of conntrack and conntrack list.
func (o *flowSelectFlags) flags() []cli.Flag {
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
		netnsFlag(&o.netns),
	}
}

// flowSelection turns the options and PEER words into a flows.Filter, with
// notes to tell (what host names resolved to). Every error is bad input.
func flowSelection(ctx context.Context, o *flowSelectFlags, words []string) (*flows.Filter, []string, error) {
	f := &flows.Filter{}
	f.Protocols, f.Families = kinds(o.tcp, o.udp, o.ipv4, o.ipv6)
	services := peerword.Services(f.Protocols)
	for _, w := range o.states {
		m, err := flows.ParseTCPStates(w)
		if err != nil {
			return nil, nil, fmt.Errorf("--state: %w", err)
		}
		f.States |= m
	}
	// Addresses and ports that take in everything ("--port 0-65535",
	// "0.0.0.0/0 ::/0") are no selection: the filter's HasSelector says so,
	// and the delete needs --all.
	for _, w := range o.ports {
		rs, err := inet.ParsePorts(w, services)
		if err != nil {
			return nil, nil, fmt.Errorf("--port: %w", err)
		}
		f.Ports = append(f.Ports, rs...)
	}
	for _, w := range inet.Items(o.replySrcs) {
		p, err := inet.ParsePrefix(w)
		if err != nil {
			return nil, nil, fmt.Errorf("--reply-src: %w", err)
		}
		f.ReplySrc = append(f.ReplySrc, p)
	}
	for _, w := range o.statuses {
		s, err := flows.ParseStatuses(w)
		if err != nil {
			return nil, nil, fmt.Errorf("--status: %w", err)
		}
		f.Statuses = append(f.Statuses, s...)
	}
	if o.zoneSet {
		z, err := flows.ParseZone(o.zone)
		if err != nil {
			return nil, nil, fmt.Errorf("--zone %w", err)
		}
		f.Zone = &z
	}
	if o.markSet {
		m, err := flows.ParseMark(o.mark)
		if err != nil {
			return nil, nil, fmt.Errorf("--mark %w", err)
		}
		f.Mark = &m
	}
	peers, notes, err := peerword.Parse(ctx, words, services)
	if err != nil {
		return nil, nil, err
	}
	f.Peers = peers
	return f, notes, nil
}

// flowFilter is the selection's filter, the notes to say with what the
// table shows; all consents to a selection of every entry.
func flowFilter(ctx context.Context, o *flowSelectFlags, words []string, all bool) (*flows.Filter, []string, error) {
	f, notes, err := flowSelection(ctx, o, words)
	if err != nil {
		return nil, nil, usageError{err}
	}
	if !f.HasSelector() && !all {
		return nil, nil, usagef("refusing to delete every conntrack entry: name a PEER or a selector (--state, --port, --reply-src, --status, --zone, --mark), or give --all")
	}
	return f, notes, nil
}

// planFlows plans the selection in the table of --netns's namespace or of
// tcpreap's own, and says the notes; the caller closes the FlowRun. all
// consents to a plan with no selector.
func planFlows(ctx context.Context, o *flowSelectFlags, words []string, all bool, quiet bool, io streams) (*reap.FlowRun, error) {
	f, notes, err := flowFilter(ctx, o, words, all)
	if err != nil {
		return nil, err
	}
	run, err := reap.QueryFlows(ctx, f, reap.Where{NetNS: o.netns}, o.includeSelf)
	if err != nil {
		return nil, queryError(err)
	}
	io.notes(quiet, append(notes, run.Notes()...)...)
	return run, nil
}

// listFlows is conntrack list, and conntrack -n, which rehearses the real
// run: it needs --all where the real run does (all). It shows what the
// real run would plan (reap.ListFlows), entry for entry.
func listFlows(ctx context.Context, f *conntrackListFlags, all bool, io streams) error {
	if err := f.check(flowWords); err != nil {
		return err
	}
	sel, notes, err := flowFilter(ctx, &f.flowSelectFlags, f.words, all)
	if err != nil {
		return err
	}
	list, err := reap.ListFlows(ctx, sel, reap.Where{NetNS: f.netns}, f.includeSelf)
	if err != nil {
		return queryError(err)
	}
	io.notes(f.quiet, append(notes, list.Notes()...)...)
	// Over --max, the plan is shown, then refused as the real run would be.
	refused := refuseOverMax(&f.maxFlag, list.Targets(), flowWords)
	r := render.Flows{W: io.Out, JSON: f.json, Quiet: f.quiet}
	if refused != nil {
		r.Refused = refused.msg
	}
	if err := r.ReportList(list.List); err != nil || refused == nil {
		return err
	}
	return *refused
}

// cutFlows is conntrack: the plan, then the act path.
func cutFlows(ctx context.Context, f *conntrackFlags, io streams) error {
	if f.dryRun {
		return listFlows(ctx, &conntrackListFlags{command: f.command, flowSelectFlags: f.flowSelectFlags, maxFlag: f.maxFlag, outputFlags: f.outputFlags}, f.all, io)
	}
	if err := f.check(flowWords); err != nil {
		return err
	}
	run, err := planFlows(ctx, &f.flowSelectFlags, f.words, f.all, f.quiet, io)
	if err != nil {
		return err
	}
	defer run.Close()
	return act(ctx, &f.command, &f.actFlags, io, flowCut{run, f.reset})
}
