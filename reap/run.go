package reap

import (
	"context"
	"errors"
	"iter"
	"maps"
	"time"

	"github.com/tcpreap/tcpreap/host"
	"github.com/tcpreap/tcpreap/inet"
	"github.com/tcpreap/tcpreap/kill"
	"github.com/tcpreap/tcpreap/planfile"
	"github.com/tcpreap/tcpreap/sockdiag"
)

// A Run is a selection planned in each of its network namespaces, on a
// connection to the kernel made there, ready to be shown or destroyed. It
// holds the namespaces and the connections until Close.
type Run struct {
	parts []part
	notes []string
	// Owners are the processes that hold each socket, by inode, when the
	// selection asked for them (Selection.WantOwners) or selects by them
	// (Selection.Owners); nil otherwise.
	Owners map[uint32][]host.Owner
	// showOwners: the selection asked for the owners (WantOwners), so its
	// reports carry them; owners read only to select stay the Run's.
	showOwners bool
	// Infos are what struct tcp_info says of each socket, by cookie, when
	// the selection asked for it (Selection.WantInfo); nil otherwise.
	Infos map[sockdiag.Cookie]sockdiag.TCPInfo
	// When owner selectors selected nothing, why: Elsewhere are processes
	// they name that hold sockets, none in the namespaces looked at (a
	// container's process, whose sockets are in its own); Nameless the
	// command names no running process has.
	Elsewhere []host.Process
	Nameless  []string
}

// A part is the plan of one network namespace, and the connection to the
// kernel made in it.
type part struct {
	ns   *host.Namespace // nil: the namespace tcpreap runs in
	conn *sockdiag.Conn
	plan *kill.Plan
}

// Notes are what a person should read with the plan: a namespace passed
// over, an SSH session that cannot be fully protected, owners that could
// not be read.
func (r *Run) Notes() []string { return r.notes }

// Targets is how many sockets the Run would destroy, in every namespace:
// the targets of its plans but those a re-check of a plan file found gone
// (their destroys are still sent, by cookie, and answer that they are).
func (r *Run) Targets() int {
	n := 0
	for _, p := range r.parts {
		n += p.targets()
	}
	return n
}

// targets is how many sockets the part would destroy.
func (p part) targets() int { return len(p.plan.Targets) - len(p.plan.Absent) }

// Skipped is how many sockets a guard kept back, in every namespace.
func (r *Run) Skipped() int {
	n := 0
	for _, p := range r.parts {
		n += len(p.plan.Skipped)
	}
	return n
}

// A SpaceCount is how many targets a Run has in one network namespace.
type SpaceCount struct {
	NetNS   string // as a person gave it; "" for the one tcpreap runs in
	Targets int
}

// Spaces counts the targets of each namespace the Run works in, in order.
func (r *Run) Spaces() []SpaceCount {
	out := make([]SpaceCount, len(r.parts))
	for i, p := range r.parts {
		out[i] = SpaceCount{NetNS: p.ns.String(), Targets: p.targets()}
	}
	return out
}

// Breakdown counts the targets of every namespace by state and by peer,
// for the confirmation.
func (r *Run) Breakdown() kill.Breakdown {
	if len(r.parts) == 1 {
		return r.parts[0].plan.Breakdown()
	}
	all := &kill.Plan{Absent: map[sockdiag.Cookie]bool{}}
	for _, p := range r.parts {
		all.Targets = append(all.Targets, p.plan.Targets...)
		maps.Copy(all.Absent, p.plan.Absent) // cookies are the host's, whatever the namespace
	}
	return all.Breakdown()
}

// Sockets yields every socket of the Run: each namespace's targets, then
// its skipped ones.
func (r *Run) Sockets() iter.Seq2[sockdiag.Socket, error] {
	return func(yield func(sockdiag.Socket, error) bool) {
		for _, p := range r.parts {
			for s, err := range p.plan.Sockets() {
				if !yield(s, err) {
					return
				}
			}
		}
	}
}

// SocketsIn yields the sockets of the Run's i-th namespace, in the order
// of Spaces: its targets, then its skipped ones.
func (r *Run) SocketsIn(i int) iter.Seq2[sockdiag.Socket, error] {
	return r.parts[i].plan.Sockets()
}

// Do runs fn on a thread in the Run's first namespace (the only one of a
// Run that works in one, as summary and doctor do), with the connection
// made there: what fn reads of /proc/sys/net and /proc/thread-self/net is
// that namespace's.
func (r *Run) Do(fn func(conn *sockdiag.Conn) error) error {
	if len(r.parts) == 0 {
		return errors.New("no network namespace could be entered")
	}
	return r.DoIn(0, fn)
}

// DoIn runs fn as Do does, in the Run's i-th namespace, in the order of
// Spaces.
func (r *Run) DoIn(i int, fn func(conn *sockdiag.Conn) error) error {
	p := r.parts[i]
	return inSpace(p.ns, p.ns.Do(func() error { return fn(p.conn) }))
}

// File is the Run as a plan file, for apply: command is the command line
// that made it, everything says it was made with no selector. A namespace
// with nothing in the plan is left out (apply would only refuse the plan
// when it is gone).
func (r *Run) File(command []string, everything bool) (*planfile.File, error) {
	here, err := host.Here()
	if err != nil {
		return nil, err
	}
	f := &planfile.File{Header: planfile.Header{Command: command, Everything: everything}}
	for i, p := range r.parts {
		if len(p.plan.Targets)+len(p.plan.Skipped) > 0 || (i == len(r.parts)-1 && len(f.Parts) == 0) {
			f.Parts = append(f.Parts, planfile.Part{Namespace: planfile.NamespaceOf(p.ns, here), Plan: p.plan})
		}
	}
	return f, nil
}

// FromFile makes a Run of a plan file, to apply it: it reopens the
// namespace of each part, dials the kernel there and looks every planned
// socket up again (kill.Plan.Recheck), with the guards of where and when it
// is applied: a plan made elsewhere must not cut the session it is applied
// from, nor a socket that became another since. LISTEN targets stay: the
// plan already chose them. includeSelf lifts the guard of the SSH session.
//
// A namespace that is gone or is another now is an *InputError (InputNetNS),
// one that may not be opened wraps fs.ErrPermission too: nothing was
// destroyed. The caller closes the Run.
func FromFile(ctx context.Context, f *planfile.File, includeSelf bool, opts QueryOptions) (*Run, error) {
	spaces, err := f.Open()
	if err != nil {
		return nil, &InputError{InputNetNS, err}
	}
	guards := kill.Guards{ListenNamed: true}
	r := &Run{}
	guards.Session = sessionGuard(includeSelf, Session, &r.notes)
	closes := subflowCloser(opts.Engine)
	for i, ns := range spaces {
		conn, err := dialIn(ns, opts.Workers)
		if err != nil {
			r.Close()
			closeSpaces(spaces[i:])
			return nil, inSpace(ns, err)
		}
		plan := f.Parts[i].Plan.Recheck(ctx, conn, guards)
		// The subflow guard, as a query has it: a plan made by a release
		// without it may hold MPTCP subflows as targets.
		if plan.MaySubflow() {
			subflows, err := conn.MPTCPSubflows(ctx, portsOf(plan))
			if err != nil {
				conn.Close()
				r.Close()
				closeSpaces(spaces[i:])
				return nil, queryError(err)
			}
			plan.KeepSubflows(subflows, closes)
		}
		r.parts = append(r.parts, part{ns: ns, conn: conn, plan: plan})
		noteStale(ctx, ns, conn, guards.Session, &r.notes)
	}
	return r, nil
}

// maxSubflowPorts bounds the ports of a filter that narrows the look for
// subflows to a plan's targets; more, and every TCP socket is looked at.
const maxSubflowPorts = 64

// portsOf is a filter that takes in the TCP sockets on the local ports of
// plan's targets, so that the look for subflows waits on no other socket's
// lock; nil (every socket) when they have more than maxSubflowPorts.
func portsOf(plan *kill.Plan) *sockdiag.Filter {
	f := &sockdiag.Filter{}
	seen := map[uint16]bool{}
	for _, s := range plan.Targets {
		if p := s.ID.Local.Port(); !seen[p] {
			if len(seen) == maxSubflowPorts {
				return nil
			}
			seen[p] = true
			f.LocalPorts = append(f.LocalPorts, inet.PortRange{Lo: p, Hi: p})
		}
	}
	return f
}

// DryRun is the Run's plan as the results of a dry run: every target
// would be destroyed, every skip stays skipped.
func (r *Run) DryRun() *Report {
	groups := make([]Group, len(r.parts))
	for i, p := range r.parts {
		groups[i] = Group{NetNS: p.ns.String(), Here: isHere(p.ns), Results: p.plan.DryRun(), InterfaceName: interfaceNames(p.ns)}
	}
	return r.report(true, groups)
}

// ExecuteOptions change how a Run destroys.
type ExecuteOptions struct {
	// VerifyAll looks every target up again after its destroy, whatever
	// the kernel answered.
	VerifyAll bool
	// Progress, when not nil, is told how many targets each step settled,
	// for a progress bar; it may be called from several goroutines at once.
	Progress func(settled int)
	// Engine is the engine choice (ParseEngine): "" or Auto
	// takes SOCK_DESTROY (diag) and, for the targets it refuses, the bpf
	// and fd engines where this host offers them; "diag", "bpf" or "fd"
	// that engine alone. The plan's MPTCP subflows are closed by the fd
	// engine alone (see QueryOptions.Engine).
	Engine string
	// Pace is how fast the targets are destroyed, across every namespace
	// (see kill.Pace); the zero Pace as fast as the kernel takes them.
	// Arrange chooses which go first.
	Pace kill.Pace
}

// Arrange puts the targets of each namespace in order o, for Execute: the
// namespaces are still worked in turn. OrderIdle reads the sockets'
// tcp_info when the Run has none (a plan file's): an error of that dump is
// the kernel's answer, explained, and nothing is destroyed.
func (r *Run) Arrange(ctx context.Context, o Order) error {
	for _, p := range r.parts {
		if err := o.arrange(ctx, p.plan, p.conn, r.Infos); err != nil {
			return inSpace(p.ns, err)
		}
	}
	return nil
}

// Execute destroys the targets of every namespace, each by its cookie,
// verifies that they are gone, and reports every socket (kill.Plan.Execute).
// A paced run (opts.Pace) sends them in batches at its pace, each target
// looked up again by its cookie just before its batch, and takes as long
// as the pace says. After ctx is done (an interrupt) no destroy is sent,
// in this namespace or the next: their targets are reported not attempted,
// and what was sent is still verified.
func (r *Run) Execute(ctx context.Context, opts ExecuteOptions) *Report {
	groups := make([]Group, len(r.parts))
	engines := newEngines(opts.Engine)
	defer engines.close()
	sent := 0 // a plan file's targets found gone are sent too, by cookie
	for _, p := range r.parts {
		sent += len(p.plan.Targets)
	}
	pacer := opts.Pace.Start(sent)
	started := time.Now()
	for i, p := range r.parts {
		e, fallback, mptcp := engines.of(p.conn, p.ns, p.plan.Subflows)
		o := kill.Options{VerifyAll: opts.VerifyAll, Progress: opts.Progress, Fallback: fallback, MPTCP: mptcp, Pacer: pacer}
		done := p.plan.ExecuteWith(ctx, e, o)
		groups[i] = Group{NetNS: p.ns.String(), Here: isHere(p.ns), Results: done, InterfaceName: interfaceNames(p.ns)}
	}
	rep := r.report(false, groups)
	if pacer != nil {
		rep.Pace, rep.Took = opts.Pace, time.Since(started)
	}
	return rep
}

// report is the Report of groups, the Run's results.
func (r *Run) report(dryRun bool, groups []Group) *Report {
	rep := NewReport(dryRun, groups...)
	rep.Infos = r.Infos
	if r.showOwners {
		rep.Owners = r.Owners
	}
	// A namespace of --all-netns is labelled, even tcpreap's own.
	rep.labelled = len(r.parts) > 1 || len(r.parts) == 1 && r.parts[0].ns != nil
	return rep
}

// Close closes the connections and the namespaces.
func (r *Run) Close() {
	for _, p := range r.parts {
		p.conn.Close()
		p.ns.Close()
	}
	r.parts = nil
}
