package kill

import (
	"iter"
	"slices"

	"github.com/tcpreap/tcpreap/inet"
	"github.com/tcpreap/tcpreap/sockdiag"
)

// A Plan is what a run will destroy: the targets, each with the full sockid
// it was dumped with (cookie and interface included), and the skipped
// sockets with their reasons. A dry run prints it and stops.
type Plan struct {
	Targets []sockdiag.Socket
	Skipped []Skip
	// Absent are the targets a Recheck did not find: a dry run reports
	// them gone, a real run still sends their destroy, by cookie, which
	// tells. Nil for a plan made from a dump.
	Absent map[sockdiag.Cookie]bool
	// Subflows are the targets that are subflows of MPTCP connections, by
	// cookie, with the token of each one's connection (see KeepSubflows):
	// they are closed at their MPTCP socket, by Options.MPTCP, and never
	// destroyed as TCP sockets. Nil when there are none.
	Subflows map[sockdiag.Cookie]uint32
}

// A Skip is a socket that matched the selection but that a guard kept back.
type Skip struct {
	Socket sockdiag.Socket
	Reason Reason
}

// NewPlan reads the selected sockets and sorts them into targets and skips.
// It returns the first error of the query.
func NewPlan(sockets iter.Seq2[sockdiag.Socket, error], g Guards) (*Plan, error) {
	return NewPlanSized(sockets, g, 0)
}

// NewPlanSized is NewPlan for a query that selects about size sockets: the
// targets are allocated once, at that size. A plan of 250,000 targets grown
// as it is read would be copied a dozen times over, and the copies held
// until the collector runs: twice the memory, for nothing. Capacity the plan
// does not fill costs address space, not memory: its pages are never
// written.
func NewPlanSized(sockets iter.Seq2[sockdiag.Socket, error], g Guards, size int) (*Plan, error) {
	p := &Plan{Targets: make([]sockdiag.Socket, 0, size)}
	for s, err := range sockets {
		if err != nil {
			return nil, err
		}
		if reason := g.reason(&s); reason != NoReason {
			p.Skipped = append(p.Skipped, Skip{s, reason})
			continue
		}
		p.Targets = append(p.Targets, s)
	}
	return p, nil
}

// MaySubflow reports whether a target may be an MPTCP subflow (see
// KeepSubflows).
func (p *Plan) MaySubflow() bool {
	for i := range p.Targets {
		if p.Targets[i].MaySubflow() {
			return true
		}
	}
	return false
}

// KeepSubflows sorts the targets that are subflows of MPTCP connections
// (subflows: sockdiag.Conn.MPTCPSubflows, with each one's connection's
// token). Destroying a subflow resets it and leaves its connection open,
// its application waiting: so a subflow close takes stays a target, to be
// closed at its MPTCP socket (Subflows, Options.MPTCP), and every other one
// is kept back with ReasonMPTCPSubflow. A nil close keeps back every one.
func (p *Plan) KeepSubflows(subflows map[sockdiag.Cookie]uint32, close func(*sockdiag.Socket) bool) {
	if len(subflows) == 0 {
		return
	}
	kept := p.Targets[:0]
	for _, s := range p.Targets {
		token, ok := subflows[s.ID.Cookie]
		switch {
		case ok && close != nil && close(&s):
			if p.Subflows == nil {
				p.Subflows = map[sockdiag.Cookie]uint32{}
			}
			p.Subflows[s.ID.Cookie] = token
		case ok:
			p.Skipped = append(p.Skipped, Skip{s, ReasonMPTCPSubflow})
			continue
		}
		kept = append(kept, s)
	}
	p.Targets = kept
}

// Narrow keeps, of the targets and the skipped sockets, those keep takes:
// for a selector that can only be judged once the dump is whole.
func (p *Plan) Narrow(keep func(s *sockdiag.Socket) bool) {
	p.Targets = slices.DeleteFunc(p.Targets, func(s sockdiag.Socket) bool { return !keep(&s) })
	p.Skipped = slices.DeleteFunc(p.Skipped, func(s Skip) bool { return !keep(&s.Socket) })
}

// Sockets yields every socket of the plan: the targets, then the skipped.
func (p *Plan) Sockets() iter.Seq2[sockdiag.Socket, error] {
	return func(yield func(sockdiag.Socket, error) bool) {
		for _, s := range p.Targets {
			if !yield(s, nil) {
				return
			}
		}
		for _, s := range p.Skipped {
			if !yield(s.Socket, nil) {
				return
			}
		}
	}
}

// DryRun returns the plan's results without destroying anything: every
// target would be killed, but one a Recheck found gone; every skip stays
// skipped.
func (p *Plan) DryRun() []Result {
	results := make([]Result, 0, len(p.Targets)+len(p.Skipped))
	for i := range p.Targets {
		r := Result{Socket: &p.Targets[i], Action: inet.WouldKill}
		if p.Absent[p.Targets[i].ID.Cookie] {
			r.Action = inet.Gone
		}
		results = append(results, r)
	}
	return p.appendSkips(results)
}

// appendSkips appends the results of the skipped sockets.
func (p *Plan) appendSkips(results []Result) []Result {
	for i := range p.Skipped {
		s := &p.Skipped[i]
		results = append(results, Result{Socket: &s.Socket, Action: inet.Skipped, Reason: s.Reason})
	}
	return results
}
