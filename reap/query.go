package reap

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net/netip"
	"slices"
	"strings"
	"sync"

	"github.com/tcpreap/tcpreap/host"
	"github.com/tcpreap/tcpreap/inet"
	"github.com/tcpreap/tcpreap/kill"
	"github.com/tcpreap/tcpreap/sockdiag"
)

// QueryOptions tune a Query.
type QueryOptions struct {
	// Workers is how many netlink sockets each namespace's connection
	// destroys on; 0 chooses (see sockdiag.Config).
	Workers int
	// Engine is the engine choice the Run will execute with (ParseEngine;
	// "" is Auto): where it closes MPTCP connections at their MPTCP socket
	// (the fd engine), the subflows of those some process holds are
	// targets, else they are kept back (kill.Plan.KeepSubflows).
	Engine string
	// EverySession: the guard keeps every SSH session of the host
	// (EverySession), not only the one tcpreap runs in: a daemon runs in
	// none, and must cut none.
	EverySession bool
}

// Query plans the selection in every namespace of where: the owners first
// (when the selection needs them: a socket opened after them is not its
// process's), then one query and plan per namespace, each on a connection
// made there, with the guards of the SSH session unless the selection
// includes it. A dump that lost an answer is taken again, from the start,
// before anything is destroyed. The caller closes the Run.
//
// Errors: an *InputError for a namespace or interface that cannot be used
// as given; else what the kernel answered, explained (sockdiag.Explain),
// naming the namespace it happened in, and wrapping the *sockdiag.OpError
// and its errno.
func Query(ctx context.Context, sel *Selection, where Where, opts QueryOptions) (*Run, error) {
	if where.All && sel.Interface != "" {
		return nil, &InputError{InputInterface, fmt.Errorf("%s names an interface of one network namespace, not of every one", sel.Interface)}
	}
	spaces, notes, err := where.open()
	if err != nil {
		return nil, err
	}
	filter := sel.Filter // Query fills in the interface, namespace by namespace
	find := Session
	if opts.EverySession {
		find = EverySession
	}
	guards := kill.Guards{ListenNamed: sel.ListenNamed, Session: sessionGuard(sel.IncludeSelf, find, &notes)}
	r := &Run{notes: notes, showOwners: sel.WantOwners}
	if sel.WantInfo {
		r.Infos = map[sockdiag.Cookie]sockdiag.TCPInfo{}
		filter.WithInfo = true
	}
	var ownersErr error
	var procs []host.Process
	cached := sel.OwnerCache != nil && sel.Owners == nil
	if (sel.WantOwners || sel.Owners != nil) && !cached {
		procs, err = host.AllProcesses()
		if err == nil && sel.OwnersInSpaces && sel.Owners == nil {
			procs = inSpaces(procs, spaces)
		}
		if err == nil {
			r.Owners, err = host.SocketOwners(procs)
		}
		var unreadable *host.UnreadableError
		if errors.As(err, &unreadable) && sel.Owners != nil {
			// A process the selection names whose sockets cannot be known
			// would select nothing, and say so with exit 0.
			for _, p := range unreadable.Processes {
				if sel.Owners.Name(p) {
					closeSpaces(spaces)
					return nil, &OwnersError{p}
				}
			}
		}
		ownersErr = err
		if r.Owners == nil {
			r.Owners = map[uint32][]host.Owner{}
		}
	}
	q := query{sel: sel, filter: filter, guards: guards, run: r, workers: opts.Workers, subflows: subflowCloser(opts.Engine)}
	var passed passedOver
	for i, ns := range spaces {
		p, err := q.in(ctx, ns)
		if where.passesOver(ns, err) {
			passed.add(ns.String(), err)
			ns.Close()
			continue
		}
		if err != nil {
			r.Close()
			closeSpaces(spaces[i:])
			return nil, inSpace(ns, err)
		}
		r.parts = append(r.parts, p)
	}
	r.notes = append(r.notes, passed.notes()...)
	if sel.WantOwners && cached {
		ownersErr = r.cachedOwners(sel, spaces)
	}
	if ownersErr != nil && r.unowned() {
		r.notes = append(r.notes, fmt.Sprintf("warning: the processes holding some sockets are not known: %v", ownersErr))
	}
	if sel.Owners != nil && r.Targets()+r.Skipped() == 0 {
		r.Elsewhere, r.Nameless = sel.Owners.missed(procs, r.Owners)
	}
	return r, nil
}

// cachedOwners reads the owners of the Run's sockets through the
// selection's cache, after the dumps.
func (r *Run) cachedOwners(sel *Selection, spaces []*host.Namespace) error {
	procs, err := host.AllProcesses()
	if err != nil {
		r.Owners = map[uint32][]host.Owner{}
		return err
	}
	if sel.OwnersInSpaces {
		procs = inSpaces(procs, spaces)
	}
	alive := sel.OwnerCache.Alive()
	for s := range r.Sockets() {
		if s.Inode != 0 {
			alive[s.Inode] = true
		}
	}
	r.Owners, err = sel.OwnerCache.Owners(procs, alive)
	return err
}

// inSpaces is the processes of procs that run in one of spaces (nil for
// the one tcpreap runs in).
func inSpaces(procs []host.Process, spaces []*host.Namespace) []host.Process {
	ids := map[host.NetNS]bool{}
	for _, ns := range spaces {
		if ns != nil {
			ids[ns.ID] = true
		} else if here, err := host.Here(); err == nil {
			ids[here.NetNS] = true
		}
	}
	return slices.DeleteFunc(procs, func(p host.Process) bool {
		id, err := host.NetNSOfProcess(p.PID)
		return err != nil || !ids[id]
	})
}

// passedOver is the namespaces a Query passed over, by why: one note for
// every namespace passed over alike, not a line each (a host has hundreds).
type passedOver struct {
	whys  []string
	names map[string][]string
}

func (p *passedOver) add(ns string, err error) {
	why := err.Error()
	if p.names == nil {
		p.names = map[string][]string{}
	}
	if p.names[why] == nil {
		p.whys = append(p.whys, why)
	}
	p.names[why] = append(p.names[why], ns)
}

// notes are one line per why, naming the first namespaces (a bounded line)
// and counting the rest.
func (p *passedOver) notes() []string {
	const named = 10
	var out []string
	for _, why := range p.whys {
		names := p.names[why]
		if len(names) == 1 {
			out = append(out, fmt.Sprintf("warning: network namespace %s was passed over: %s", names[0], why))
			continue
		}
		list := strings.Join(names[:min(len(names), named)], ", ")
		if len(names) > named {
			list += fmt.Sprintf(" and %d more", len(names)-named)
		}
		out = append(out, fmt.Sprintf("warning: %d network namespaces were passed over (%s): %s", len(names), why, list))
	}
	return out
}

// missed says why owner selectors that selected nothing did: the processes
// of PIDs that hold sockets, none of them in the namespaces looked at (a
// container's, in its own), and the Commands no running process has.
func (o *Owners) missed(procs []host.Process, owners map[uint32][]host.Owner) (elsewhere []host.Process, nameless []string) {
	holds := map[int]bool{}
	for _, held := range owners {
		for _, w := range held {
			holds[w.PID] = true
		}
	}
	for _, p := range procs {
		if slices.Contains(o.PIDs, p.PID) && holds[p.PID] {
			elsewhere = append(elsewhere, p)
		}
	}
	for _, c := range o.Commands {
		if !slices.ContainsFunc(procs, func(p host.Process) bool { return p.Command == c }) {
			nameless = append(nameless, c)
		}
	}
	return elsewhere, nameless
}

// unowned reports whether a socket of the Run that a process holds (it has
// an inode) has no known owner.
func (r *Run) unowned() bool {
	for s := range r.Sockets() {
		if s.Inode != 0 && len(r.Owners[s.Inode]) == 0 {
			return true
		}
	}
	return false
}

// An OwnersError is a process the owner selectors name whose open files
// cannot be read (another user's, without CAP_SYS_PTRACE): which sockets it
// holds is not known, and the selection cannot be made.
type OwnersError struct {
	Process host.Process
}

func (e *OwnersError) Error() string {
	return fmt.Sprintf("the open files of process %d (%s), which the selection names, cannot be read, so its sockets are not known; run tcpreap as root (it needs CAP_SYS_PTRACE to read another user's)", e.Process.PID, e.Process.Command)
}

// A query is one Query's work, namespace by namespace.
type query struct {
	sel     *Selection
	filter  sockdiag.Filter
	guards  kill.Guards
	run     *Run
	workers int
	infoMu  sync.Mutex
	// subflows takes the MPTCP subflows that stay targets (subflowCloser).
	subflows func(*sockdiag.Socket) bool
}

// in dials the kernel in namespace ns and plans the selection there.
func (q *query) in(ctx context.Context, ns *host.Namespace) (part, error) {
	filter := q.filter
	if name := q.sel.Interface; name != "" {
		var index uint32
		var addrs []netip.Addr
		err := ns.Do(func() (err error) {
			index, addrs, err = host.Interface(name)
			return err
		})
		if ne := (*host.NoInterfaceError)(nil); errors.As(err, &ne) && ns != nil {
			ne.NetNS = ns.String() // said in its sentence, not before it
		}
		if err != nil {
			return part{}, &InputError{InputInterface, err} // Query says in which namespace
		}
		filter.Interface = &sockdiag.Interface{Name: name, Index: index, Addrs: addrs}
	}
	if filter.WithInfo && filter.InfoStates != 0 {
		ns.Do(func() error { filter.InfoWhole = fewSockets(); return nil })
	}
	conn, err := dialIn(ns, q.workers)
	if err != nil {
		return part{}, err
	}
	var opts []sockdiag.QueryOption
	if q.run.Infos != nil {
		opts = append(opts, sockdiag.WithTCPInfo(func(s *sockdiag.Socket, info sockdiag.TCPInfo) {
			q.infoMu.Lock()
			q.run.Infos[s.ID.Cookie] = info // cookies are the host's, whatever the namespace
			q.infoMu.Unlock()
		}))
	}
	size := 0
	if q.sel.Owners == nil && q.sel.PeerNotIn == nil {
		ns.Do(func() error { size = planSize(&filter); return nil })
	}
	sockets := func() iter.Seq2[sockdiag.Socket, error] {
		all := conn.Query(ctx, &filter, opts...)
		if q.sel.Owners == nil && q.sel.PeerNotIn == nil {
			return all
		}
		return func(yield func(sockdiag.Socket, error) bool) {
			for s, err := range all {
				if err == nil && q.sel.Owners != nil && (s.Inode == 0 || !q.sel.Owners.hold(q.run.Owners[s.Inode])) {
					continue
				}
				if err == nil && q.sel.PeerNotIn != nil && !q.sel.outsideLive(&s) {
					continue
				}
				if !yield(s, err) {
					return
				}
			}
		}
	}
	plan, err := kill.NewPlanSized(sockets(), q.guards, size)
	for attempt := 1; sockdiag.LostAnswer(err) && attempt < queryAttempts; attempt++ {
		// An answer of the dump was lost: nothing is destroyed yet, and the
		// plan is made again, from the start.
		plan, err = kill.NewPlanSized(sockets(), q.guards, size)
	}
	if err == nil && q.sel.LocalGone {
		err = keepLocalGone(ns, plan)
	}
	if err == nil && plan.MaySubflow() {
		var subflows map[sockdiag.Cookie]uint32
		subflows, err = conn.MPTCPSubflows(ctx, &filter)
		plan.KeepSubflows(subflows, q.subflows)
	}
	if err != nil {
		conn.Close()
		return part{}, queryError(err)
	}
	noteStale(ctx, ns, conn, q.guards.Session, &q.run.notes)
	return part{ns: ns, conn: conn, plan: plan}, nil
}

// keepLocalGone narrows the plan, made in namespace ns, to the sockets
// whose local address ns no longer has. The addresses are read after the
// dump: a socket whose address came back meanwhile is not gone, and one
// made on an address added after the read cannot be in the dump.
func keepLocalGone(ns *host.Namespace, plan *kill.Plan) error {
	seen := map[host.LocalAddr]bool{}
	var addrs []host.LocalAddr
	for s := range plan.Sockets() {
		la := host.LocalAddr{Addr: s.ID.Local.Addr(), Interface: s.ID.Interface}
		if !seen[la] {
			seen[la] = true
			addrs = append(addrs, la)
		}
	}
	var gone map[host.LocalAddr]bool
	err := ns.Do(func() (err error) {
		gone, err = host.GoneAddrs(addrs)
		return err
	})
	if err != nil {
		return err
	}
	plan.Narrow(func(s *sockdiag.Socket) bool {
		return gone[host.LocalAddr{Addr: s.ID.Local.Addr(), Interface: s.ID.Interface}]
	})
	return nil
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

// fewSockets is the families of which the calling thread's namespace has
// fewer full TCP sockets (those whose tcp_info the kernel fills) than cost
// what a walk of the kernel's table costs (sockdiag.Filter.InfoWhole).
func fewSockets() []inet.Family {
	count, err := host.CountSockets()
	if err != nil {
		return nil
	}
	var few []inet.Family
	if count.TCP-count.TCP6 < fewFullSockets {
		few = append(few, inet.IPv4)
	}
	if count.TCP6 < fewFullSockets {
		few = append(few, inet.IPv6)
	}
	return few
}

// fewFullSockets is how many full sockets' tcp_info cost less than a walk
// of the kernel's table: on the bench's machine, a walk of a table of
// 190,000 sockets took 60 ms of system time, tcp_info 1.5 µs a socket.
const fewFullSockets = 10000

// maxPlanSize bounds the size planSize foresees: a plan of a million
// sockets (112 MB) is allocated at once, a larger one grows as it is read.
const maxPlanSize = 1 << 20

// queryAttempts is how many times a plan whose dump lost an answer is made.
const queryAttempts = 3

// queryError explains a failed dump, and wraps it: a caller still finds the
// errno (errors.Is) and the sockdiag.Cause (sockdiag.Explain) in it.
func queryError(err error) error {
	if why, ok := sockdiag.Explain(err); ok {
		return fmt.Errorf("%s: %w", why, err)
	}
	return fmt.Errorf("cannot list sockets: %w", err)
}
