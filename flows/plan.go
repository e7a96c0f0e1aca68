package flows

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"

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

// answered records the kernel's answer to the target's DELETE: none is
// deleted (the Action it had), ENOENT gone, any other failed.
func (r *Result) answered(err error) {
	switch {
	case err == nil:
	case errors.Is(err, unix.ENOENT):
		r.Action = inet.Gone
	default:
		r.Action, r.Err = inet.Failed, err
	}
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

// A SeenDeleter is a Table that can delete entries as a dump shows them
// (*Conn): Entries is how many entries the last dump read, DeleteSeen
// dumps and deletes those pick selects (see Conn.DeleteSeen).
type SeenDeleter interface {
	Entries() int
	DeleteSeen(ctx context.Context, f *Filter, pick func(*Flow) bool, done func(fl *Flow, err error)) error
}

// Execute deletes every target by its tuple, zone and id, then dumps the
// table again: a target still there with its id is failed, whatever the
// kernel answered. It returns a result per target, then the skipped ones.
//
// Right before its delete, each target is read again and compared with
// the plan: an entry's id is a hash of its address and tuples, which a new
// entry in the freed memory of a deleted one can repeat, so what is there
// now is compared with the plan by everything the kernel shows, and a
// stranger is never deleted. It is read again one of two ways:
//
//   - When the targets are at least half the table the plan's dump read,
//     and the table is a SeenDeleter: a second dump, whose entries are
//     compared with the plan and deleted as each datagram comes (on a
//     second socket, so that the kernel dumps on one CPU and deletes on
//     another). A target the dump does not show is gone. A GET costs the
//     kernel about what two entries of a dump do, and a syscall's share
//     besides.
//   - Else, and for the targets a second dump that failed did not show: a
//     window (window requests in one sendmsg) of GETs, and the window's
//     entries that are still the one planned are deleted at once.
//
// What stays open is the time between the kernel's showing an entry and
// its handling of the DELETE, a window's round trip (well under a
// millisecond per entry): only an entry that dies in it and is replaced,
// in the same memory, by one with the same tuple would be deleted in its
// place. The kernel cannot close it: ctnetlink_del_conntrack finds the
// entry by tuple and zone and compares CTA_ID alone, and a flush that
// matches marks matches no tuple.
//
// A cancelled ctx stops it between windows; the targets not tried are
// failed, "not attempted", with ctx's cause (the signal).
func (p *Plan) Execute(ctx context.Context, t Table) []Result {
	out := make([]Result, len(p.Targets), len(p.Targets)+len(p.Skipped))
	for i, fl := range p.Targets {
		out[i] = Result{Flow: fl, Action: inet.Killed}
	}
	rest := []int(nil) // the targets to GET
	if sd, ok := t.(SeenDeleter); ok && len(p.Targets) > window && 2*len(p.Targets) >= sd.Entries() {
		rest = p.deleteSeen(ctx, sd, out)
	} else {
		rest = make([]int, len(p.Targets))
		for i := range rest {
			rest[i] = i
		}
	}
	p.getDelete(ctx, t, rest, out)
	protocols := map[inet.Protocol]bool{}
	for _, r := range out {
		if r.Action == inet.Killed || r.Action == inet.Gone || errors.Is(r.Err, ErrNoAnswer) {
			protocols[r.Flow.Protocol] = true
		}
	}
	if len(protocols) > 0 {
		// Even when ctx was cancelled: what was deleted is reported as it is
		// (the dump has its own time limit).
		p.verify(context.WithoutCancel(ctx), t, protocols, out)
	}
	return append(out, p.Skipped...)
}

// A flowKey is an entry's family, original tuple and zone, and its id
// where it has one, in flat bytes: a map's key that hashes in one pass,
// where a Tuple's addresses (netip.Addr holds a pointer) hash field by
// field, a tenth of a cut's CPU time in its maps.
type flowKey [44]byte

// keyOf is fl's key: what the kernel looks an entry up by (its original
// tuple and zone), and with withID its id.
func keyOf(fl *Flow, withID bool) flowKey {
	var k flowKey
	k[0] = byte(fl.Family)
	for i, ap := range [2]netip.AddrPort{fl.Orig.Src, fl.Orig.Dst} {
		b := k[1+18*i:]
		a := ap.Addr().As16()
		copy(b, a[:])
		binary.BigEndian.PutUint16(b[16:], ap.Port())
	}
	binary.BigEndian.PutUint16(k[37:], fl.Zone)
	if withID {
		binary.BigEndian.PutUint32(k[39:], fl.ID)
	}
	return k
}

// deleteSeen deletes the targets as a second dump shows them (see
// Execute) and sets their results; it returns the targets left to GET:
// those a dump that failed did not show (when it was whole, a target it
// did not show is gone), and a target whose id another target has (ids
// are 32-bit hashes: a hundred thousand targets share one now and then).
// The entries the dump shows are found by id, a small key, then compared
// with the target by tuple and zone: an entry with another id is another
// entry, and the target, if the dump does not show it, is gone.
func (p *Plan) deleteSeen(ctx context.Context, sd SeenDeleter, out []Result) []int {
	at := make(map[uint32]int, len(p.Targets))
	var f Filter
	var rest []int
	for i, fl := range p.Targets {
		if _, ok := at[fl.ID]; ok {
			rest = append(rest, i)
			continue
		}
		at[fl.ID] = i
		if !slices.Contains(f.Protocols, fl.Protocol) {
			f.Protocols = append(f.Protocols, fl.Protocol)
		}
		if !slices.Contains(f.Families, fl.Family) {
			f.Families = append(f.Families, fl.Family)
		}
	}
	// seen is written by pick alone, out[i] by pick for a stranger or by
	// done for a delete: never both for one i.
	seen := make([]bool, len(p.Targets))
	pick := func(now *Flow) bool {
		i, ok := at[now.ID]
		if !ok || seen[i] || keyOf(now, false) != keyOf(&p.Targets[i], false) {
			return false
		}
		seen[i] = true
		if stranger(&p.Targets[i], now) {
			out[i].Action = inet.Gone
			return false
		}
		return true
	}
	done := func(fl *Flow, err error) { out[at[fl.ID]].answered(err) }
	err := sd.DeleteSeen(ctx, &f, pick, done)
	for _, i := range at {
		switch {
		case seen[i]:
		case err == nil:
			out[i].Action = inet.Gone
		default:
			rest = append(rest, i)
		}
	}
	slices.Sort(rest)
	return rest
}

// getDelete reads the targets of which again with a window of GETs, and
// deletes at once those that are still the entry planned (see Execute),
// setting their results.
func (p *Plan) getDelete(ctx context.Context, t Table, which []int, out []Result) {
	chunk := make([]Flow, 0, window)
	for start := 0; start < len(which); start += window {
		idx := which[start:min(start+window, len(which))]
		if ctx.Err() != nil {
			for _, i := range which[start:] {
				out[i].Action, out[i].Err = inet.Failed, fmt.Errorf("not attempted: %w", context.Cause(ctx))
			}
			return
		}
		chunk = chunk[:0]
		for _, i := range idx {
			chunk = append(chunk, p.Targets[i])
		}
		now, gerrs := t.Get(ctx, chunk)
		var same []Flow
		var sameAt []int
		for k, i := range idx {
			switch gerr := gerrs[k]; {
			case gerr == nil && stranger(&chunk[k], &now[k]), errors.Is(gerr, unix.ENOENT):
				out[i].Action = inet.Gone
			default:
				// The entry planned; or a GET that failed otherwise, where
				// the delete's id still guards.
				same, sameAt = append(same, chunk[k]), append(sameAt, i)
			}
		}
		if len(same) == 0 {
			continue
		}
		for k, err := range t.Delete(ctx, same) {
			out[sameAt[k]].answered(err)
		}
	}
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
	// Only the results are kept, not the table: memory bounded by the plan.
	at := make(map[flowKey]int, len(results))
	for i := range results {
		at[keyOf(&results[i].Flow, true)] = i
	}
	still := make([]bool, len(results))
	err := t.Walk(ctx, f, func(now *Flow) {
		if i, ok := at[keyOf(now, true)]; ok && !stranger(&results[i].Flow, now) {
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
