package main

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"math"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tcpreap/tcpreap/host"
	"github.com/tcpreap/tcpreap/inet"
	"github.com/tcpreap/tcpreap/kill"
	"github.com/tcpreap/tcpreap/sockdiag"
	"golang.org/x/sys/unix"
)

// A selection is the parsed command line: the filter, the guards, and notes
// to show with the plan (what host names resolved to, a session that could
// not be read).
type selection struct {
	filter sockdiag.Filter
	guards kill.Guards
	notes  []string // "peer db1 is 192.0.2.2, 2001:db8::2"
	// owned selects by the processes that hold a socket (--pid,
	// --process); nil when neither was given.
	owned *ownerSelector
	// needOwners says that the owners of every socket are read before the
	// query (for owned, or list -p); owners holds them, by inode.
	needOwners bool
	owners     map[uint32][]host.Owner
	// infos is what struct tcp_info says of each socket, by cookie, for
	// list -e; nil when not asked for.
	infos map[sockdiag.Cookie]sockdiag.TCPInfo
	// spaces are the network namespaces to work in (--netns, --all-netns);
	// one nil: the one tcpreap runs in. query's parts close them.
	spaces []*host.Namespace
	// passOver: a namespace of --all-netns that cannot be entered is
	// passed over, with a warning (a list); else it fails the run.
	passOver bool
}

// An ownerSelector is --pid and --process: a socket is selected when a
// process it holds has one of pids (if any were given) and one that holds
// it has one of the commands (if any were given). A socket no process
// holds (TIME_WAIT, orphaned) is never selected.
type ownerSelector struct {
	pids     []int
	commands []string
	patterns []*regexp.Regexp // --process-match
}

func (o *ownerSelector) holds(owners []host.Owner) bool {
	named := func(w host.Owner) bool {
		return slices.Contains(o.commands, w.Command) || slices.ContainsFunc(o.patterns, func(re *regexp.Regexp) bool { return re.MatchString(w.Command) })
	}
	return (len(o.pids) == 0 || slices.ContainsFunc(owners, func(w host.Owner) bool { return slices.Contains(o.pids, w.PID) })) &&
		(len(o.commands)+len(o.patterns) == 0 || slices.ContainsFunc(owners, named))
}

// maxCommandLen is the longest command name a process has: the kernel's
// comm holds 15 bytes.
const maxCommandLen = 15

// maxPatternLen bounds a --process-match expression.
const maxPatternLen = 256

// newOwnerSelector reads --pid, --process and --process-match; nil when
// none was given. --process and --process-match are alternatives.
func newOwnerSelector(pids, commands, patterns []string) (*ownerSelector, error) {
	if len(pids) == 0 && len(commands) == 0 && len(patterns) == 0 {
		return nil, nil
	}
	o := &ownerSelector{}
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
		o.patterns = append(o.patterns, re)
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
			return nil, fmt.Errorf("--pid %d is a thread of process %d (%s), which holds its sockets: give --pid %d", pid, tgid, printable(p.Command), tgid)
		}
		o.pids = append(o.pids, pid)
	}
	for _, w := range commands {
		switch {
		case w == "":
			return nil, fmt.Errorf("--process: give a command name")
		case len(w) > maxCommandLen:
			return nil, fmt.Errorf("--process %q: a process's command name is at most %d bytes (the kernel cuts it: ps -o comm shows %q)",
				w, maxCommandLen, w[:maxCommandLen])
		}
		o.commands = append(o.commands, w)
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

// newSelection turns the selection options and PEER words into a selection.
// Every error is bad input: it names the word and what would be right.
func newSelection(ctx context.Context, o *options) (_ *selection, err error) {
	sel := &selection{}
	f := &sel.filter
	if sel.spaces, err = o.openSpaces(sel); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			closeSpaces(sel.spaces)
		}
	}()
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
		states, err := sockdiag.ParseStates(w)
		if err != nil {
			return nil, err
		}
		f.States |= states
		sel.guards.ListenNamed = sel.guards.ListenNamed || namesListen(w)
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
	for _, w := range o.locals {
		p, err := inet.ParsePrefix(w)
		if err != nil {
			return nil, fmt.Errorf("--local: %w", err)
		}
		f.Local = append(f.Local, p)
	}
	if o.ifaceSet {
		// In the namespace the sockets are in (openSpaces refuses
		// --interface with several).
		var index uint32
		var addrs []netip.Addr
		err := sel.spaces[0].Do(func() (err error) {
			index, addrs, err = host.Interface(o.iface)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("--interface: %w", inSpace(sel.spaces[0], err))
		}
		f.Interface = &sockdiag.Interface{Name: o.iface, Index: index, Addrs: addrs}
	}
	peers, err := inet.ParsePeers(o.words, services, func(names []string) (map[string][]netip.Addr, error) {
		addrs, err := resolveAll(ctx, names)
		for _, name := range names {
			if len(addrs[name]) > 0 {
				sel.notes = append(sel.notes, fmt.Sprintf("peer %s is %s", name, joinAddrs(addrs[name])))
			}
		}
		return addrs, err
	})
	if err != nil {
		return nil, withPeerHint(o.words, services, err)
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
	if sel.owned, err = newOwnerSelector(o.pids, o.commands, o.commandPatterns); err != nil {
		return nil, err
	}
	sel.needOwners = sel.owned != nil || o.processes
	if o.extended || f.Idle > 0 || f.Stalled > 0 {
		// list -e, and a selection by tcp_info, which a list shows
		// (the Idle column).
		sel.infos = map[sockdiag.Cookie]sockdiag.TCPInfo{}
		f.WithInfo = true
	}
	var note string
	sel.guards.Session, note = sessionGuard(o.includeSelf)
	if note != "" {
		sel.notes = append(sel.notes, note)
	}
	return sel, nil
}

// hasSelector reports whether the selection narrows the sockets down at all
// (see sockdiag.Filter.HasSelector): the owner selectors do.
func (sel *selection) hasSelector() bool { return sel.filter.HasSelector() || sel.owned != nil }

// ownerTable is who holds each socket, for list -p (show); nil otherwise.
func (sel *selection) ownerTable(show bool) map[uint32][]host.Owner {
	if !show {
		return nil
	}
	if sel.owners == nil {
		return map[uint32][]host.Owner{}
	}
	return sel.owners
}

// tell says the selection's notes on stderr, unless quiet.
func (sel *selection) tell(io streams, quiet bool) {
	if quiet {
		return
	}
	for _, note := range sel.notes {
		if note != "" {
			fmt.Fprintf(io.ErrOut, "tcpreap: %s\n", printable(note))
		}
	}
}

// withPeerHint adds to the error of a PEER word that does not parse what
// the person most likely meant.
func withPeerHint(words []string, services inet.ServiceLookup, err error) error {
	for _, w := range words {
		_, perr := inet.ParsePeer(w, services, func(string) ([]netip.Addr, error) { return []netip.Addr{netip.IPv6Loopback()}, nil })
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
func serviceLookup(protocols []inet.Protocol) inet.ServiceLookup {
	names := []string{inet.TCP.String()}
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

// sessionGuard returns what keeps the SSH session tcpreap runs in: nil with
// --include-self or outside an SSH login, and a warning when the session
// cannot be fully found.
func sessionGuard(includeSelf bool) (*kill.Session, string) {
	if includeSelf {
		return nil, ""
	}
	found, err := host.FindSSHSession()
	note := ""
	if err != nil {
		note = fmt.Sprintf("warning: the ssh session may not be fully protected: %v", err)
	}
	if found == nil {
		return nil, note
	}
	s := &kill.Session{Interface: found.Interface, Everyone: !found.Ancestral, Held: map[uint32]bool{},
		Unsure: found.Unreadable, SSHPort: 22}
	if c := found.Conn; c != nil {
		s.Client, s.Server, s.SSHPort = c.Client, c.Server, c.Server.Port()
	}
	for ino := range found.Sockets {
		s.Held[ino] = true
	}
	return s, note
}

// staleSession says, in one line, when the connection SSH_CONNECTION names
// is none of this network namespace's (a session that ended, named inside
// tmux or screen); "" when it is there or nothing names one.
func staleSession(ctx context.Context, conn *sockdiag.Conn, s *kill.Session) string {
	if s == nil || !s.Server.IsValid() {
		return ""
	}
	f := &sockdiag.Filter{
		States:     sockdiag.AllStates,
		Peers:      []inet.Endpoint{{Prefix: netip.PrefixFrom(s.Client.Addr(), s.Client.Addr().BitLen()), Ports: []inet.PortRange{{Lo: s.Client.Port(), Hi: s.Client.Port()}}}},
		Local:      []netip.Prefix{netip.PrefixFrom(s.Server.Addr(), s.Server.Addr().BitLen())},
		LocalPorts: []inet.PortRange{{Lo: s.Server.Port(), Hi: s.Server.Port()}},
	}
	for _, err := range conn.Query(ctx, f) {
		if err != nil {
			return ""
		}
		return "" // it is there
	}
	return fmt.Sprintf("note: SSH_CONNECTION names %s -> %s, which is no connection here (a session that ended, named inside tmux or screen?)", s.Client, s.Server)
}

func joinAddrs(addrs []netip.Addr) string {
	s := make([]string, len(addrs))
	for i, a := range addrs {
		s[i] = a.Unmap().String()
	}
	return strings.Join(s, ", ")
}

// query plans the selection in each of its network namespaces, on a
// connection made there (workers: its destroying sockets, 0 to choose). The
// caller closes the parts, and with them the namespaces; on error query does.
func query(ctx context.Context, sel *selection, workers int) (parts, error) {
	if sel.needOwners {
		// Read before the dumps: a socket opened after them is not counted
		// as its process's, and so not selected by it. Inodes are the
		// host's, whatever the namespace.
		procs, err := host.AllProcesses()
		if err == nil {
			sel.owners, err = host.SocketOwners(procs)
		}
		if err != nil {
			sel.notes = append(sel.notes, fmt.Sprintf("warning: the processes holding some sockets are not known: %v", err))
		}
	}
	var ps parts
	for _, ns := range sel.spaces {
		conn, plan, err := queryIn(ctx, sel, ns, workers)
		if sel.passOver && ns != nil && errors.Is(err, unix.EPERM) {
			// Without CAP_SYS_ADMIN no other namespace can be entered: a list
			// of --all-netns goes on with the ones it can (its own), and says so.
			sel.notes = append(sel.notes, fmt.Sprintf("warning: network namespace %s was passed over: %v", ns, err))
			ns.Close()
			continue
		}
		if err != nil {
			for _, p := range ps {
				p.conn.Close()
			}
			closeSpaces(sel.spaces)
			return nil, inSpace(ns, err)
		}
		ps = append(ps, part{ns: ns, conn: conn, plan: plan})
	}
	return ps, nil
}

// queryIn dials the kernel in namespace ns and plans the selection there.
func queryIn(ctx context.Context, sel *selection, ns *host.Namespace, workers int) (*sockdiag.Conn, *kill.Plan, error) {
	conn, err := dialIn(ns, workers)
	if err != nil {
		return nil, nil, err
	}
	if sel.infos != nil {
		var mu sync.Mutex
		conn.OnTCPInfo = func(s *sockdiag.Socket, info sockdiag.TCPInfo) {
			mu.Lock()
			sel.infos[s.ID.Cookie] = info // cookies are the host's, whatever the namespace
			mu.Unlock()
		}
	}
	size := 0
	if sel.owned == nil {
		ns.Do(func() error { size = planSize(&sel.filter); return nil })
	}
	sockets := func() iter.Seq2[sockdiag.Socket, error] {
		all := conn.Query(ctx, &sel.filter)
		if sel.owned == nil {
			return all
		}
		return func(yield func(sockdiag.Socket, error) bool) {
			for s, err := range all {
				if err == nil && (s.Inode == 0 || !sel.owned.holds(sel.owners[s.Inode])) {
					continue
				}
				if !yield(s, err) {
					return
				}
			}
		}
	}
	plan, err := kill.NewPlanSized(sockets(), sel.guards, size)
	for attempt := 1; sockdiag.LostAnswer(err) && attempt < queryAttempts; attempt++ {
		// An answer of the dump was lost: nothing is destroyed yet, and the
		// plan is made again, from the start.
		plan, err = kill.NewPlanSized(sockets(), sel.guards, size)
	}
	if err != nil {
		conn.Close()
		return nil, nil, queryError(err)
	}
	// SSH_CONNECTION speaks of tcpreap's own namespace only.
	if ns == nil {
		if note := staleSession(ctx, conn, sel.guards.Session); note != "" {
			sel.notes = append(sel.notes, note)
		}
	}
	return conn, plan, nil
}

// planSize is how many sockets a selection by protocol, family and state
// alone may select, from the kernel's counts (the TIME_WAIT sockets alone
// when it selects no other state), at most maxPlanSize; 0, for "not known",
// for a selection by address, port or interface, which a count cannot
// foresee.
func planSize(f *sockdiag.Filter) int {
	if len(f.Peers) > 0 || len(f.Local) > 0 || len(f.Ports) > 0 || len(f.LocalPorts) > 0 || len(f.RemotePorts) > 0 || f.Interface != nil ||
		len(f.UIDs) > 0 || f.Idle > 0 || f.Stalled > 0 || len(f.Cgroups) > 0 {
		return 0
	}
	count, err := host.CountSockets()
	if err != nil {
		return 0
	}
	n := 0
	protocols := f.Protocols
	if len(protocols) == 0 {
		protocols = []inet.Protocol{inet.TCP}
	}
	for _, p := range protocols {
		states := f.StatesFor(p)
		switch {
		case p == inet.UDP:
			n += count.UDP
		case states.Has(sockdiag.TimeWait):
			n += count.TimeWait
			if states != 1<<sockdiag.TimeWait {
				n += count.TCP
			}
		default:
			n += count.TCP
		}
	}
	return min(n, maxPlanSize)
}

// maxPlanSize bounds the size planSize foresees: a plan of a million
// sockets (112 MB) is allocated at once, a larger one grows as it is read.
const maxPlanSize = 1 << 20

// queryAttempts is how many times a plan whose dump lost an answer is made.
const queryAttempts = 3

// queryError explains a failed dump.
func queryError(err error) error {
	if why, ok := sockdiag.Explain(err); ok {
		return fmt.Errorf("%s: %v", why, err)
	}
	return fmt.Errorf("cannot list sockets: %v", err)
}
