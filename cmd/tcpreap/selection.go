package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tcpreap/tcpreap/cmd/tcpreap/internal/render"
	"github.com/tcpreap/tcpreap/host"
	"github.com/tcpreap/tcpreap/reap"
	"github.com/tcpreap/tcpreap/sockdiag"
)

// A selection is the parsed command line: what reap selects, where it
// works, and notes to show with the plan (what host names resolved to).
type selection struct {
	reap.Selection
	where reap.Where
	notes []string // "peer db1 is 192.0.2.2, 2001:db8::2"
}

// maxCommandLen is the longest command name a process has: the kernel's
// comm holds 15 bytes.
const maxCommandLen = 15

// maxPatternLen bounds a --process-match expression.
const maxPatternLen = 256

// newOwners reads --pid, --process and --process-match; nil when none was
// given. --process and --process-match are alternatives.
func newOwners(pids, commands, patterns []string) (*reap.Owners, error) {
	if len(pids) == 0 && len(commands) == 0 && len(patterns) == 0 {
		return nil, nil
	}
	o := &reap.Owners{}
	for _, w := range patterns {
		if w == "" || len(w) > maxPatternLen {
			return nil, fmt.Errorf("--process-match: give a regular expression of 1 to %d bytes", maxPatternLen)
		}
		re, err := regexp.Compile(w)
		if err != nil {
			return nil, fmt.Errorf("--process-match %q: %v", w, err)
		}
		if re.MatchString("") {
			return nil, fmt.Errorf("--process-match %q matches every command name; anchor it (^name$) or use --process", w)
		}
		o.Patterns = append(o.Patterns, re)
	}
	for _, w := range pids {
		pid, err := strconv.Atoi(strings.TrimSpace(w))
		if err != nil || pid <= 0 {
			return nil, fmt.Errorf("--pid %q: give a process id, a number above 0", w)
		}
		if _, err := host.ReadProcess(pid); err != nil {
			return nil, fmt.Errorf("--pid %d: no such process", pid)
		}
		// A thread's id would select nothing: file descriptors, and so
		// sockets, are its process's.
		if tgid, err := host.ThreadGroup(pid); err == nil && tgid != pid {
			p, _ := host.ReadProcess(tgid)
			return nil, fmt.Errorf("--pid %d is a thread of process %d (%s), which holds its sockets: give --pid %d", pid, tgid, render.Printable(p.Command), tgid)
		}
		o.PIDs = append(o.PIDs, pid)
	}
	for _, w := range commands {
		switch {
		case w == "":
			return nil, fmt.Errorf("--process: give a command name")
		case len(w) > maxCommandLen:
			return nil, fmt.Errorf("--process %q: a process's command name is at most %d bytes (the kernel cuts it: ps -o comm shows %q)",
				w, maxCommandLen, w[:maxCommandLen])
		}
		o.Commands = append(o.Commands, w)
	}
	return o, nil
}

// maxTCPInfoDuration is the longest time struct tcp_info can say: its
// tcpi_last_* times are milliseconds in 32 bits (49 days 17 hours). A
// longer --idle or --stalled-for could select nothing.
const maxTCPInfoDuration = time.Duration(math.MaxUint32) * time.Millisecond

// durationSyntax is a duration as time.ParseDuration reads it, whatever its
// size: one that fails to parse with it overflowed.
var durationSyntax = regexp.MustCompile(`^\+?([0-9]*\.?[0-9]+(ns|us|µs|μs|ms|s|m|h))+$`)

// parseDuration reads a duration with its unit ("90s", "10m"), above zero
// and at most maxTCPInfoDuration.
func parseDuration(flag, word string) (time.Duration, error) {
	w := strings.TrimSpace(word)
	d, err := time.ParseDuration(w)
	switch {
	case err == nil && d > maxTCPInfoDuration || err != nil && durationSyntax.MatchString(w):
		return 0, fmt.Errorf("%s %s is out of range: the kernel counts these times in milliseconds up to 49 days (%v); give at most %v",
			flag, w, maxTCPInfoDuration.Truncate(time.Hour), maxTCPInfoDuration.Truncate(time.Hour))
	case err == nil && d > 0:
		return d, nil
	case isDecimal(w):
		return 0, fmt.Errorf("%s %s: give a unit: %ss, %sm or %sh", flag, word, word, word, word)
	}
	return 0, fmt.Errorf("%s %q: give a duration above zero with its unit, such as 90s, 10m or 2h", flag, word)
}

// parseUIDs reads --uid: user names or numbers.
func parseUIDs(ctx context.Context, words []string) ([]uint32, error) {
	var uids []uint32
	for _, w := range words {
		w = strings.TrimSpace(w)
		if n, err := strconv.ParseUint(w, 10, 32); err == nil {
			uids = append(uids, uint32(n))
			continue
		}
		if w == "" {
			return nil, fmt.Errorf("--uid: give a user name or number")
		}
		uid, err := host.LookupUID(ctx, w)
		if err != nil {
			return nil, fmt.Errorf("--uid %q: %v; give a user name or number", w, err)
		}
		uids = append(uids, uid)
	}
	return uids, nil
}

// newSelection turns the selection options and PEER words into a selection;
// listing: the command only lists, and --all-netns may pass over a
// namespace it cannot enter, saying so. Every error is bad input: it names
// the word and what would be right.
func newSelection(ctx context.Context, o *selectFlags, words []string, listing bool) (*selection, error) {
	sel := &selection{}
	switch {
	case o.allNetns && o.netns != "":
		return nil, fmt.Errorf("--netns %s and --all-netns: give one of them", o.netns)
	case o.allNetns && o.ifaceSet:
		return nil, fmt.Errorf("--interface %s names an interface of one network namespace; give it with --netns, not --all-netns", o.iface)
	case o.ifaceSet && o.iface == "":
		return nil, fmt.Errorf("--interface: the interface name is empty; give the name of an interface (ip link)")
	}
	sel.where = reap.Where{NetNS: o.netns, All: o.allNetns, PassOver: listing}
	sel.Interface = o.iface
	f := &sel.Filter
	if o.tcp {
		f.Protocols = append(f.Protocols, sockdiag.TCP)
	}
	if o.udp {
		f.Protocols = append(f.Protocols, sockdiag.UDP)
	}
	if o.ipv4 {
		f.Families = append(f.Families, sockdiag.IPv4)
	}
	if o.ipv6 {
		f.Families = append(f.Families, sockdiag.IPv6)
	}
	services := serviceLookup(f.Protocols)

	for _, w := range o.states {
		states, err := sockdiag.ParseStates(w)
		if err != nil {
			return nil, err
		}
		f.States |= states
		sel.ListenNamed = sel.ListenNamed || namesListen(w)
	}
	for _, p := range []struct {
		flag  string
		words []string
		into  *[]sockdiag.PortRange
	}{{"port", o.ports, &f.Ports}, {"local-port", o.localPorts, &f.LocalPorts}, {"remote-port", o.remotePorts, &f.RemotePorts}} {
		for _, w := range p.words {
			rs, err := sockdiag.ParsePorts(w, services)
			if err != nil {
				return nil, fmt.Errorf("--%s: %w", p.flag, err)
			}
			*p.into = append(*p.into, rs...)
		}
	}
	for _, w := range o.locals {
		p, err := sockdiag.ParsePrefix(w)
		if err != nil {
			return nil, fmt.Errorf("--local: %w", err)
		}
		f.Local = append(f.Local, p)
	}
	peers, err := sockdiag.ParsePeers(words, services, func(names []string) (map[string][]netip.Addr, error) {
		addrs, err := resolveAll(ctx, names)
		for _, name := range names {
			if len(addrs[name]) > 0 {
				sel.notes = append(sel.notes, fmt.Sprintf("peer %s is %s", name, joinAddrs(addrs[name])))
			}
		}
		return addrs, err
	})
	if err != nil {
		return nil, withPeerHint(words, services, err)
	}
	f.Peers = peers
	if f.UIDs, err = parseUIDs(ctx, o.uids); err != nil {
		return nil, err
	}
	for _, path := range o.cgroups {
		id, err := host.CgroupID(strings.TrimSpace(path))
		if err != nil {
			return nil, fmt.Errorf("--cgroup: %v", err)
		}
		f.Cgroups = append(f.Cgroups, id)
	}
	if o.idle != "" {
		if f.Idle, err = parseDuration("--idle", o.idle); err != nil {
			return nil, err
		}
	}
	if o.stalledForSet && !o.stalled {
		return nil, fmt.Errorf("--stalled-for %s: it says how long a --stalled connection has had no ack; add --stalled", o.stalledFor)
	}
	if o.stalled {
		if f.Stalled, err = parseDuration("--stalled-for", o.stalledFor); err != nil {
			return nil, err
		}
	}
	if sel.Owners, err = newOwners(o.pids, o.commands, o.commandPatterns); err != nil {
		return nil, err
	}
	sel.IncludeSelf = o.includeSelf
	return sel, nil
}

// query plans the selection (workers: the destroying sockets of each
// namespace, 0 to choose) and says its notes on stderr, unless quiet.
func query(ctx context.Context, sel *selection, workers int, io streams, quiet bool) (*reap.Run, error) {
	run, err := reap.Query(ctx, &sel.Selection, sel.where, reap.QueryOptions{Workers: workers})
	if err != nil {
		return nil, queryError(err)
	}
	if !quiet {
		for _, note := range append(sel.notes, run.Notes()...) {
			fmt.Fprintf(io.ErrOut, "tcpreap: %s\n", render.Printable(note))
		}
	}
	return run, nil
}

// queryError is reap's error as the run returns it: bad input (an option
// that names it) or a missing permission, or what the kernel answered.
func queryError(err error) error {
	var ie *reap.InputError
	if !errors.As(err, &ie) {
		return err
	}
	err = fmt.Errorf("--%s: %w", ie.Of, err)
	if errors.Is(err, fs.ErrPermission) {
		return notPermitted{err}
	}
	return usageError{err}
}

// withPeerHint adds to the error of a PEER word that does not parse what
// the person most likely meant.
func withPeerHint(words []string, services sockdiag.ServiceLookup, err error) error {
	for _, w := range words {
		_, perr := sockdiag.ParsePeer(w, services, func(string) ([]netip.Addr, error) { return []netip.Addr{netip.IPv6Loopback()}, nil })
		if hint := peerHint(w); perr != nil && hint != "" {
			return fmt.Errorf("%w; %s", err, hint)
		}
	}
	return err
}

// resolveAll resolves host names at once, all within one
// host.ResolveTimeout, after checking that none is a mistake (checkPeerName).
func resolveAll(ctx context.Context, names []string) (map[string][]netip.Addr, error) {
	for _, name := range names {
		if err := checkPeerName(name); err != nil {
			return nil, err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, host.ResolveTimeout)
	defer cancel()
	addrs := make([][]netip.Addr, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() { addrs[i], errs[i] = host.Resolve(ctx, name) })
	}
	wg.Wait()
	out := map[string][]netip.Addr{}
	for i, name := range names {
		if errs[i] != nil {
			return out, fmt.Errorf("cannot resolve peer host name %q: %v; give its IP address", name, errs[i])
		}
		out[name] = addrs[i]
	}
	return out, nil
}

// namesListen reports whether a --state word names the LISTEN state itself
// or every state: only then may LISTEN sockets be destroyed. A group that
// merely contains listen ("big") shows them as kept back.
func namesListen(word string) bool {
	for _, item := range strings.Split(word, ",") {
		m, err := sockdiag.ParseStates(item)
		if err == nil && (m == 1<<sockdiag.Listen || m == sockdiag.AllStates) {
			return true
		}
	}
	return false
}

// serviceLookup looks service names up in the services database for the
// selected protocols (TCP when none is).
func serviceLookup(protocols []sockdiag.Protocol) sockdiag.ServiceLookup {
	names := []string{sockdiag.TCP.String()}
	if len(protocols) > 0 {
		names = names[:0]
		for _, p := range protocols {
			names = append(names, p.String())
		}
	}
	db := host.NewServices(host.ServicesFile)
	return func(name string) (uint16, error) {
		port, err := db.Port(name, names...)
		if err != nil && !slices.Contains(names, "udp") {
			if _, uerr := db.Port(name, "udp"); uerr == nil {
				err = fmt.Errorf("%w; it is a UDP service: add -u", err)
			}
		}
		return port, err
	}
}

func joinAddrs(addrs []netip.Addr) string {
	s := make([]string, len(addrs))
	for i, a := range addrs {
		s[i] = a.Unmap().String()
	}
	return strings.Join(s, ", ")
}
