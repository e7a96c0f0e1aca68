package flows

import (
	"context"
	"errors"
	"fmt"

	"github.com/tcpreap/tcpreap/inet"
	"golang.org/x/sys/unix"
)

// A Result is one entry of a plan and what happened to it.
type Result struct {
	Flow   Flow
	Action inet.Action
	Reason string // Skipped: why
	Err    error  // Failed: why
	// Ends is what the flow's ends were sent when they were reset before
	// the delete ("reset both", "reset client only: the server did not
	// answer in 1 s", "no reset: UDP has none"); "" when none was asked.
	Ends string
}

// Outcome is the result's action, which inet.Summarize counts.
func (r Result) Outcome() inet.Action { return r.Action }

// The reasons a plan keeps entries back: ReasonSession, the SSH session
// tcpreap runs in; ReasonSSHServer, a connection an SSH server holds when
// that session cannot be told apart from the others (tmux, screen);
// ReasonSSHHidden, a TCP flow on the SSH port when tcpreap runs in a PID
// namespace of its own, where an SSH server above it cannot be seen.
const (
	ReasonSession   = "the ssh session tcpreap runs in"
	ReasonSSHServer = "held by an ssh server, and tcpreap cannot tell which connection carries the session it runs in (tmux or screen)"
	ReasonSSHHidden = "may carry the ssh session tcpreap runs in: tcpreap runs in a PID namespace of its own, where an SSH server above it cannot be seen"
)

// keeps returns why the session keeps the flow back, or "": the flow is the
// session's connection, or one its SSH servers hold, in either direction,
// as the router sees it before or after NAT: its original tuple, or its
// reply tuple (a session to the router through a DNAT).
func keeps(ss *inet.Session, fl *Flow) string {
	for _, t := range []Tuple{fl.Orig, fl.Reply} {
		if ss.Carries(t.Dst, t.Src, 0) || ss.Carries(t.Src, t.Dst, 0) {
			return ReasonSession
		}
	}
	for _, t := range []Tuple{fl.Orig, fl.Reply} {
		switch {
		case !ss.Holds(t.Src, t.Dst):
		case ss.Everyone:
			return ReasonSSHServer
		default:
			return ReasonSession
		}
	}
	if ss != nil && ss.Hidden && fl.Protocol == inet.TCP {
		for _, t := range []Tuple{fl.Orig, fl.Reply} {
			if t.Src.Port() == ss.SSHPort || t.Dst.Port() == ss.SSHPort {
				return ReasonSSHHidden
			}
		}
	}
	return ""
}

// stranger reports whether the entry now in the table with planned's tuple
// is another than the one planned, by what the kernel shows of it: its id,
// zone and mark, its reply tuple (its NAT mapping, chosen when it was made),
// its NAT bits, and the bits that, once set, stay (a reply seen, assured).
func stranger(planned, now *Flow) bool {
	const lasting = SeenReply | Assured | Confirmed
	return now.ID != planned.ID || now.Zone != planned.Zone || now.Mark != planned.Mark || now.Reply != planned.Reply ||
		(planned.Status^now.Status)&(SrcNAT|DstNAT) != 0 || planned.Status&lasting&^now.Status != 0
}

// A Plan is the entries a selection matched: those to delete, and those a
// Keep kept back.
type Plan struct {
	Targets []Flow
	Skipped []Result
}

// NewPlan plans to delete flows, except those of the SSH session tcpreap
// runs in (nil: none, or included).
func NewPlan(flows []Flow, session *inet.Session) *Plan {
	p := &Plan{Targets: make([]Flow, 0, len(flows))}
	for _, fl := range flows {
		if why := keeps(session, &fl); why != "" {
			p.Skipped = append(p.Skipped, Result{Flow: fl, Action: inet.Skipped, Reason: why})
			continue
		}
		p.Targets = append(p.Targets, fl)
	}
	return p
}

// DryRun is the plan as a dry run reports it: every target would_kill,
// then the skipped ones.
func (p *Plan) DryRun() []Result {
	out := make([]Result, 0, len(p.Targets)+len(p.Skipped))
	for _, fl := range p.Targets {
		out = append(out, Result{Flow: fl, Action: inet.WouldKill})
	}
	return append(out, p.Skipped...)
}

// A Table is the kernel's conntrack table as a plan needs it; *Conn is one.
// Get and Delete answer each flow they are given, errs[i] for fls[i].
type Table interface {
	Walk(ctx context.Context, f *Filter, fn func(*Flow)) error
	Get(ctx context.Context, fls []Flow) ([]Flow, []error)
	Delete(ctx context.Context, fls []Flow) []error
}

var _ Table = (*Conn)(nil)

// Execute deletes every target by its tuple, zone and id, then dumps the
// table again: a target still there with its id is failed, whatever the
// kernel answered. It returns a result per target, then the skipped ones.
//
// The targets go a window at a time (window requests in one sendmsg): the
// window's entries are fetched (GET), compared with the plan, and those
// that are still the entry planned are deleted at once. An entry's id is a
// hash of its address and tuples, which a new entry in the freed memory of
// a deleted one can repeat: what is there now is compared with the plan by
// everything the kernel shows, and a stranger is never deleted. What stays
// open is the time between the kernel's answer to a window's GET and its
// handling of the DELETE, one round trip (well under a millisecond per
// entry): only an entry that dies in it and is replaced, in the same
// memory, by one with the same tuple would be deleted in its place. The
// kernel cannot close it: ctnetlink_del_conntrack finds the entry by
// tuple and zone and compares CTA_ID alone, and a flush that matches
// marks matches no tuple.
//
// A cancelled ctx stops it between windows; the targets not tried are
// failed, "not attempted", with ctx's cause (the signal).
func (p *Plan) Execute(ctx context.Context, t Table) []Result {
	out := make([]Result, 0, len(p.Targets)+len(p.Skipped))
	protocols := map[inet.Protocol]bool{}
	for start := 0; start < len(p.Targets); start += window {
		chunk := p.Targets[start:min(start+window, len(p.Targets))]
		first := len(out)
		for _, fl := range chunk {
			out = append(out, Result{Flow: fl, Action: inet.Killed})
		}
		results := out[first:]
		if ctx.Err() != nil {
			for i := range results {
				results[i].Action, results[i].Err = inet.Failed, fmt.Errorf("not attempted: %w", context.Cause(ctx))
			}
			continue
		}
		now, gerrs := t.Get(ctx, chunk)
		var same []Flow
		var which []int
		for i := range chunk {
			switch gerr := gerrs[i]; {
			case gerr == nil && stranger(&chunk[i], &now[i]), errors.Is(gerr, unix.ENOENT):
				results[i].Action = inet.Gone
			default:
				// The entry planned; or a GET that failed otherwise, where
				// the delete's id still guards.
				same, which = append(same, chunk[i]), append(which, i)
			}
		}
		derrs := []error{}
		if len(same) > 0 {
			derrs = t.Delete(ctx, same)
		}
		for k, err := range derrs {
			r := &results[which[k]]
			switch {
			case err == nil:
			case errors.Is(err, unix.ENOENT):
				r.Action = inet.Gone
			default:
				r.Action, r.Err = inet.Failed, err
			}
		}
		for _, r := range results {
			if r.Action == inet.Killed || r.Action == inet.Gone || errors.Is(r.Err, ErrNoAnswer) {
				protocols[r.Flow.Protocol] = true
			}
		}
	}
	if len(protocols) > 0 {
		// Even when ctx was cancelled: what was deleted is reported as it is
		// (the dump has its own time limit).
		p.verify(context.WithoutCancel(ctx), t, protocols, out)
	}
	return append(out, p.Skipped...)
}

// verify dumps the protocols of the killed and gone targets, every state
// and family, and fails a killed or gone target that is still there with
// its id: a gone one the delete did not find where it is (in another zone,
// say).
func (p *Plan) verify(ctx context.Context, t Table, protocols map[inet.Protocol]bool, results []Result) {
	f := &Filter{}
	for proto := range protocols {
		f.Protocols = append(f.Protocols, proto)
	}
	type key struct {
		id   uint32
		orig Tuple
		zone uint16
	}
	// Only the results are kept, not the table: memory bounded by the plan.
	at := make(map[key]int, len(results))
	for i, r := range results {
		at[key{r.Flow.ID, r.Flow.Orig, r.Flow.Zone}] = i
	}
	still := make([]bool, len(results))
	err := t.Walk(ctx, f, func(now *Flow) {
		if i, ok := at[key{now.ID, now.Orig, now.Zone}]; ok && !stranger(&results[i].Flow, now) {
			still[i] = true
		}
	})
	if err != nil {
		for i := range results {
			if results[i].Action == inet.Killed {
				results[i].Action, results[i].Err = inet.Failed, fmt.Errorf("deleted, but the table could not be read again to verify it: %w", err)
			}
		}
		return
	}
	for i, r := range results {
		if !still[i] {
			if r.Action == inet.Failed && errors.Is(r.Err, ErrNoAnswer) {
				// Its answer was lost, and it is gone.
				results[i].Action, results[i].Err = inet.Killed, nil
			}
			continue // gone, or another entry in its place
		}
		switch r.Action {
		case inet.Killed:
			results[i].Action, results[i].Err = inet.Failed, errors.New("the kernel answered the delete, but the entry is still in the table")
		case inet.Gone:
			results[i].Action, results[i].Err = inet.Failed, errors.New("the kernel did not find the entry to delete, but it is still in the table")
		}
	}
}
