package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/tcpreap/tcpreap/cmd/tcpreap/internal/peerword"
	"github.com/tcpreap/tcpreap/cmd/tcpreap/internal/render"
	"github.com/tcpreap/tcpreap/host"
	"github.com/tcpreap/tcpreap/inet"
	"github.com/tcpreap/tcpreap/reap"
	"github.com/tcpreap/tcpreap/sockdiag"
	"golang.org/x/sys/unix"
)

// A selection is the parsed command line: what reap selects, where it
// works, and notes to show with the plan (what host names resolved to).
type selection struct {
	reap.Selection
	where reap.Where
	notes []string // "peer db1 is 192.0.2.2, 2001:db8::2"
	// Said when nothing matched: a PEER read otherwise than it may have
	// been meant (2001:db8::2:5432).
	nothingNotes []string
	zonedPeer    string // the PEER that gave the interface (fe80::1%eth0), or ""
}

// newSelection turns the selection options and PEER words into a selection;
// listing: the command only lists, and --all-netns may pass over a
// namespace it cannot enter, saying so. Every error is bad input: it names
// the word and what would be right.
func newSelection(ctx context.Context, o *selectFlags, words []string, listing bool) (*selection, error) {
	sel := &selection{}
	// A link-local PEER's interface (fe80::1%eth0) is --interface.
	words, zoned, err := peerword.Scope(words, o.iface, o.allNetns)
	switch {
	case err != nil:
		return nil, err
	case o.allNetns && o.netns != "":
		return nil, fmt.Errorf("--netns %s and --all-netns: give one of them", o.netns)
	case o.allNetns && o.ifaceSet:
		return nil, fmt.Errorf("--interface %s names an interface of one network namespace; give it with --netns, not --all-netns", o.iface)
	}
	sel.where = reap.Where{NetNS: o.netns, All: o.allNetns, PassOver: listing}
	sel.Interface, sel.zonedPeer = cmp.Or(zoned.Interface, o.iface), zoned.Word
	sel.nothingNotes = peerword.PortLike(words)
	f := &sel.Filter
	f.Protocols, f.Families = kinds(o.tcp, o.udp, o.ipv4, o.ipv6)
	services := peerword.Services(f.Protocols)

	for _, w := range o.states {
		states, err := sockdiag.ParseStates(w)
		if err != nil {
			return nil, fmt.Errorf("--state: %w", err)
		}
		f.States |= states
		sel.ListenNamed = sel.ListenNamed || sockdiag.ListenNamed(w)
	}
	for _, p := range []struct {
		flag  string
		words []string
		into  *[]inet.PortRange
	}{{"port", o.ports, &f.Ports}, {"local-port", o.localPorts, &f.LocalPorts}, {"remote-port", o.remotePorts, &f.RemotePorts}} {
		for _, w := range p.words {
			rs, err := inet.ParsePorts(w, services)
			if err != nil {
				return nil, fmt.Errorf("--%s: %w", p.flag, err)
			}
			*p.into = append(*p.into, rs...)
		}
	}
	for _, w := range inet.Items(o.locals) {
		p, err := inet.ParsePrefix(w)
		var ze *inet.ZoneError
		if errors.As(err, &ze) {
			return nil, fmt.Errorf("--local %s: give the address and its interface apart: --local %s --interface %s", w, ze.Addr.WithZone(""), ze.Addr.Zone())
		} else if err != nil {
			return nil, fmt.Errorf("--local: %w", err)
		}
		f.Local = append(f.Local, p)
	}
	if f.Peers, sel.notes, err = peerword.Parse(ctx, words, services); err != nil {
		return nil, err
	}
	if f.UIDs, err = host.ParseUIDs(ctx, inet.Items(o.uids)); err != nil {
		return nil, fmt.Errorf("--uid %w", err)
	}
	if f.Cgroups, err = reap.ParseCgroups(o.cgroups); err != nil {
		return nil, fmt.Errorf("--cgroup: %w", err)
	}
	if o.idle != "" {
		if f.Idle, err = sockdiag.ParseInfoDuration(o.idle); err != nil {
			return nil, fmt.Errorf("--idle %w", err)
		}
	}
	if o.stalledForSet && !o.stalled {
		return nil, fmt.Errorf("--stalled-for %s: it says how long a --stalled connection has had no ack; add --stalled", o.stalledFor)
	}
	if o.stalled {
		if f.Stalled, err = sockdiag.ParseInfoDuration(o.stalledFor); err != nil {
			return nil, fmt.Errorf("--stalled-for %w", err)
		}
	}
	// --process and --process-match are alternatives, --pid holds with them.
	if len(o.pids)+len(o.commands)+len(o.commandPatterns) > 0 {
		w := &reap.Owners{}
		var te *reap.ThreadError
		if w.Patterns, err = reap.ParsePatterns(o.commandPatterns); err != nil {
			return nil, fmt.Errorf("--process-match %w", err)
		}
		if w.PIDs, err = reap.ParsePIDs(inet.Items(o.pids)); errors.As(err, &te) {
			return nil, fmt.Errorf("--pid %d is a thread of process %d (%s), which holds its sockets: give --pid %d", te.TID, te.PID, render.Printable(te.Command), te.PID)
		} else if err != nil {
			return nil, fmt.Errorf("--pid %w", err)
		}
		var ce *reap.CommaError
		if w.Commands, err = reap.ParseCommands(o.commands); errors.As(err, &ce) {
			each := make([]string, len(ce.Names))
			for i, n := range ce.Names {
				each[i] = "--process " + n
			}
			return nil, fmt.Errorf("--process %w; give each name its own --process: %s", err, strings.Join(each, " "))
		} else if err != nil {
			return nil, fmt.Errorf("--process %w", err)
		}
		sel.Owners = w
	}
	if len(o.peerNotIn) > 0 {
		if sel.PeerNotIn, err = reap.ParseLiveSet(o.peerNotIn); err != nil {
			return nil, fmt.Errorf("--peer-not-in: %w", err)
		}
	}
	sel.LocalGone, sel.IncludeSelf = o.localGone, o.includeSelf
	return sel, nil
}

// query plans the selection (workers: the destroying sockets of each
// namespace, 0 to choose; engine: the engine choice, "" for auto) and says
// its notes on stderr, unless quiet.
func query(ctx context.Context, sel *selection, workers int, engine string, io streams, quiet bool) (*reap.Run, error) {
	run, err := reap.Query(ctx, &sel.Selection, sel.where, reap.QueryOptions{Workers: workers, Engine: engine})
	var ie *reap.InputError
	if errors.As(err, &ie) && ie.Of == reap.InputInterface && sel.zonedPeer != "" {
		return nil, usagef("peer %s: %w", sel.zonedPeer, ie.Err)
	} else if err != nil {
		return nil, queryError(err)
	}
	io.notes(quiet, sel.notes...)
	io.notes(quiet, run.Notes()...)
	if run.Targets()+run.Skipped() == 0 {
		io.notes(quiet, sel.nothingNotes...)
	}
	// Owner selectors that selected nothing say why, with what to type.
	for _, p := range run.Elsewhere {
		io.notes(quiet, fmt.Sprintf("note: process %d (%s) holds sockets, but none in this network namespace: its own may be another; give --netns pid:%d", p.PID, p.Command, p.PID))
	}
	for _, c := range run.Nameless {
		io.notes(quiet, fmt.Sprintf("note: no running process is named %q (ps -eo comm lists their names)", c))
	}
	return run, nil
}

// inputFlags name the option that gave each input of a query.
var inputFlags = map[reap.Input]string{reap.InputNetNS: "--netns", reap.InputAll: "--all-netns", reap.InputInterface: "--interface"}

// queryError is reap's error as the run returns it: bad input (an option
// that names it) or a missing permission, or what the kernel answered.
func queryError(err error) error {
	var ie *reap.InputError
	if !errors.As(err, &ie) {
		return err
	}
	if ie.Of == reap.InputAll && (errors.Is(err, unix.EMFILE) || errors.Is(err, unix.ENFILE)) {
		err = fmt.Errorf("%w or give --netns", err)
	}
	err = fmt.Errorf("%s: %w", inputFlags[ie.Of], err)
	if errors.Is(err, fs.ErrPermission) {
		return notPermitted{err}
	}
	return usageError{err}
}

// kinds are the protocols and families that -t, -u, -4 and -6 select.
func kinds(tcp, udp, ipv4, ipv6 bool) ([]inet.Protocol, []inet.Family) {
	var protocols []inet.Protocol
	var families []inet.Family
	for _, p := range []struct {
		on bool
		is inet.Protocol
	}{{tcp, inet.TCP}, {udp, inet.UDP}} {
		if p.on {
			protocols = append(protocols, p.is)
		}
	}
	for _, f := range []struct {
		on bool
		is inet.Family
	}{{ipv4, inet.IPv4}, {ipv6, inet.IPv6}} {
		if f.on {
			families = append(families, f.is)
		}
	}
	return protocols, families
}
