package flows

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"testing"

	"github.com/tcpreap/tcpreap/inet"
	"golang.org/x/sys/unix"
)

// fakeTable answers deletes by id and dumps what is left; it counts the
// batches it is asked.
type fakeTable struct {
	flows         []Flow
	answer        map[uint32]error // a delete's answer; nil deletes
	keep          map[uint32]bool  // answered nil, but left in the table
	dumpErr       error
	deleted       []uint32
	gets, deletes int // batches
	// between runs after each Get batch, before the Delete: the world
	// moving on in between.
	between func(t *fakeTable)
}

func (t *fakeTable) Delete(_ context.Context, fls []Flow) []error {
	t.deletes++
	errs := make([]error, len(fls))
	for i, fl := range fls {
		t.deleted = append(t.deleted, fl.ID)
		if err := t.answer[fl.ID]; err != nil {
			errs[i] = err
			continue
		}
		found := false
		for j, f := range t.flows {
			if f.ID == fl.ID && f.Orig == fl.Orig && f.Zone == fl.Zone {
				found = true
				if !t.keep[fl.ID] {
					t.flows = append(t.flows[:j], t.flows[j+1:]...)
				}
				break
			}
		}
		if !found {
			errs[i] = &OpError{Op: "delete", Err: unix.ENOENT}
		}
	}
	return errs
}

// Get is the entry with each flow's tuple and zone, whatever its id; a
// stranger the test put in its place when there is one.
func (t *fakeTable) Get(_ context.Context, fls []Flow) ([]Flow, []error) {
	t.gets++
	now, errs := make([]Flow, len(fls)), make([]error, len(fls))
	for i, fl := range fls {
		errs[i] = &OpError{Op: "get", Err: unix.ENOENT}
		for _, f := range t.flows {
			if f.Orig == fl.Orig && f.Zone == fl.Zone {
				now[i], errs[i] = f, nil
				break
			}
		}
	}
	if t.between != nil {
		t.between(t)
	}
	return now, errs
}

func (t *fakeTable) Walk(_ context.Context, f *Filter, fn func(*Flow)) error {
	if t.dumpErr != nil {
		return t.dumpErr
	}
	for _, fl := range t.flows {
		if f.Match(&fl) {
			fn(&fl)
		}
	}
	return nil
}

// TestPlanKeepsHeldConnections: an entry of a connection an SSH server
// holds is kept back, by its original or its reply tuple, as the session's
// when the session is told apart, as an SSH server's when it is not (tmux,
// screen); others are targets.
func TestPlanKeepsHeldConnections(t *testing.T) {
	ap := netip.MustParseAddrPort
	held := flow(inet.TCP, "192.0.2.2:50000>192.0.2.1:22", "192.0.2.1:22>192.0.2.2:50000")
	natted := flow(inet.TCP, "198.51.100.2:40000>198.51.100.1:2222", "192.0.2.1:22>198.51.100.2:40000")
	other := flow(inet.TCP, "192.0.2.2:50001>192.0.2.1:22", "192.0.2.1:22>192.0.2.2:50001")
	held.ID, natted.ID, other.ID = 1, 2, 3
	conns := [][2]netip.AddrPort{{ap("192.0.2.1:22"), ap("192.0.2.2:50000")}, {ap("[::ffff:192.0.2.1]:22"), ap("[::ffff:198.51.100.2]:40000")}}
	for _, everyone := range []bool{false, true} {
		want := ReasonSession
		if everyone {
			want = ReasonSSHServer
		}
		plan := NewPlan([]Flow{held, natted, other}, &inet.Session{Conns: conns, Everyone: everyone})
		if len(plan.Targets) != 1 || plan.Targets[0].ID != 3 || len(plan.Skipped) != 2 {
			t.Fatalf("everyone %v: plan %+v, want 1 and 2 kept back, 3 a target", everyone, plan)
		}
		for _, r := range plan.Skipped {
			if r.Reason != want {
				t.Errorf("everyone %v: entry %d kept back for %q, want %q", everyone, r.Flow.ID, r.Reason, want)
			}
		}
	}
}

func TestPlanExecute(t *testing.T) {
	a := flow(inet.TCP, "198.51.100.2:1>192.0.2.2:80", "192.0.2.2:80>198.51.100.2:1")
	b, c, d := a, a, a
	a.ID, b.ID, c.ID, d.ID = 1, 2, 3, 4
	b.Orig.Src = netip.MustParseAddrPort("198.51.100.2:2")
	c.Orig.Src = netip.MustParseAddrPort("198.51.100.2:3")
	d.Orig.Src = netip.MustParseAddrPort("198.51.100.2:4")
	ssh := flow(inet.TCP, "198.51.100.7:50000>198.51.100.1:22", "198.51.100.1:22>198.51.100.7:50000")
	ssh.ID = 5
	table := &fakeTable{flows: []Flow{a, c, d, ssh}, // b is gone: the kernel answers ENOENT
		answer: map[uint32]error{2: &OpError{Op: "delete", Err: unix.ENOENT}, 3: &OpError{Op: "delete", Err: unix.EPERM}},
		keep:   map[uint32]bool{4: true}}
	session := &inet.Session{Client: netip.MustParseAddrPort("198.51.100.7:50000"), Server: netip.MustParseAddrPort("198.51.100.1:22")}
	plan := NewPlan([]Flow{a, b, c, d, ssh}, session)
	if len(plan.Targets) != 4 || len(plan.Skipped) != 1 || plan.Skipped[0].Flow.ID != 5 || plan.Skipped[0].Reason != ReasonSession {
		t.Fatalf("plan %+v", plan)
	}
	dry := plan.DryRun()
	if s := inet.Summarize(dry); s != (inet.Summary{Matched: 5, WouldKill: 4, Skipped: 1}) {
		t.Errorf("dry run %+v", s)
	}
	results := plan.Execute(context.Background(), table)
	want := []inet.Action{inet.Killed, inet.Gone, inet.Failed, inet.Failed, inet.Skipped}
	for i, r := range results {
		if r.Action != want[i] {
			t.Errorf("entry %d: %v (%v), want %v", r.Flow.ID, r.Action, r.Err, want[i])
		}
	}
	if !errors.Is(results[2].Err, unix.EPERM) || results[3].Err == nil {
		t.Errorf("errors: %v, %v", results[2].Err, results[3].Err)
	}
	// b, no longer in the table, is not asked for; nor is the ssh session's entry.
	if !slices.Equal(table.deleted, []uint32{1, 3, 4}) {
		t.Errorf("deleted %v; want 1, 3 and 4 asked for", table.deleted)
	}
	if s := inet.Summarize(results); s != (inet.Summary{Matched: 5, Killed: 1, Gone: 1, Failed: 2, Skipped: 1}) {
		t.Errorf("summary %+v", s)
	}
}

// TestPlanVerifyFails: a table that cannot be read again leaves no entry reported killed.
func TestPlanVerifyFails(t *testing.T) {
	a := flow(inet.UDP, "198.51.100.2:1>192.0.2.2:53", "192.0.2.2:53>198.51.100.2:1")
	table := &fakeTable{flows: []Flow{a}, dumpErr: errors.New("boom")}
	results := NewPlan([]Flow{a}, nil).Execute(context.Background(), table)
	if results[0].Action != inet.Failed {
		t.Errorf("%v, want failed when the verification cannot dump", results[0].Action)
	}
}

// TestPlanExecuteInterrupted: after the context ends, no further window is
// asked for; each target left says it was not attempted, for the context's
// cause (the signal), not "context canceled"; what was deleted before stays
// reported killed.
func TestPlanExecuteInterrupted(t *testing.T) {
	targets := udpFlows(window + 1)
	cause := errors.New("interrupted (SIGINT)")
	ctx, cancel := context.WithCancelCause(context.Background())
	table := &cancellingTable{fakeTable: fakeTable{flows: slices.Clone(targets)}, cancel: func() { cancel(cause) }}
	results := NewPlan(targets, nil).Execute(ctx, table)
	if len(table.deleted) != window {
		t.Errorf("deletes asked for: %d, want the first window's %d, before the interrupt", len(table.deleted), window)
	}
	if results[0].Action != inet.Killed || results[window-1].Action != inet.Killed {
		t.Errorf("first window: %v, %v, want killed", results[0].Action, results[window-1].Action)
	}
	if r := results[window]; r.Action != inet.Failed || !errors.Is(r.Err, cause) || r.Err.Error() != "not attempted: interrupted (SIGINT)" {
		t.Errorf("last: %v (%v), want failed: not attempted: interrupted (SIGINT)", r.Action, r.Err)
	}
}

// udpFlows are n UDP flows to 192.0.2.2:53, ids 1 to n, each from a port
// of its own.
func udpFlows(n int) []Flow {
	var out []Flow
	for i := range n {
		fl := flow(inet.UDP, "198.51.100.2:1>192.0.2.2:53", "192.0.2.2:53>198.51.100.2:1")
		fl.ID = uint32(i + 1)
		fl.Orig.Src = netip.AddrPortFrom(fl.Orig.Src.Addr(), uint16(1000+i))
		fl.Reply.Dst = fl.Orig.Src
		out = append(out, fl)
	}
	return out
}

// cancellingTable ends the context at its first delete, as a signal would.
type cancellingTable struct {
	fakeTable
	cancel func()
}

func (t *cancellingTable) Delete(ctx context.Context, fls []Flow) []error {
	defer t.cancel()
	return t.fakeTable.Delete(ctx, fls)
}

// TestPlanExecuteBatches: the targets go a window at a time, one GET batch
// and one DELETE batch each; an entry replaced between the plan and its
// window (same id, tuple and zone: another mark) is gone and left alone;
// one deleted by someone else meanwhile is gone; every other is killed and
// the entries outside the plan stay.
func TestPlanExecuteBatches(t *testing.T) {
	const n = 3*window + 5
	targets := udpFlows(n)
	others := udpFlows(n + 20)[n:] // in the table, not in the plan
	table := &fakeTable{flows: slices.Concat(targets, others)}
	replaced, vanished := 2*window+1, window+7
	table.flows[replaced].Mark = 99
	table.flows = slices.Delete(table.flows, vanished, vanished+1)
	results := NewPlan(targets, nil).Execute(context.Background(), table)
	if want := (n + window - 1) / window; table.gets != want || table.deletes != want {
		t.Errorf("%d GET and %d DELETE batches, want %d each", table.gets, table.deletes, want)
	}
	for i, r := range results {
		want := inet.Killed
		if i == replaced || i == vanished {
			want = inet.Gone
		}
		if r.Action != want {
			t.Errorf("target %d: %v (%v), want %v", i, r.Action, r.Err, want)
		}
	}
	if slices.Contains(table.deleted, targets[replaced].ID) || slices.Contains(table.deleted, targets[vanished].ID) {
		t.Error("a delete was asked for the replaced or the vanished entry")
	}
	if len(table.flows) != len(others)+1 || table.flows[0].Mark != 99 {
		t.Errorf("left in the table: %d entries, want the %d others and the newcomer", len(table.flows), len(others))
	}
}

// TestPlanExecuteReplacedInTheWindow: an entry replaced after its window's
// GET and before the DELETE, by one with another id, is not deleted (the
// kernel compares CTA_ID) and reported gone.
func TestPlanExecuteReplacedInTheWindow(t *testing.T) {
	targets := udpFlows(3)
	table := &fakeTable{flows: slices.Clone(targets)}
	table.between = func(t *fakeTable) { t.flows[1].ID = 1000 }
	results := NewPlan(targets, nil).Execute(context.Background(), table)
	if results[1].Action != inet.Gone || results[0].Action != inet.Killed || results[2].Action != inet.Killed {
		t.Errorf("%v %v %v, want killed gone killed", results[0].Action, results[1].Action, results[2].Action)
	}
	if len(table.flows) != 1 || table.flows[0].ID != 1000 {
		t.Errorf("left %+v, want the newcomer", table.flows)
	}
}

// TestPlanVerifyGone: an entry the kernel answered ENOENT for (gone) but which is still in
// the table with its id is failed, not gone: the delete did not find it (as with a zone the
// request did not carry), and the report must not say it is gone.
func TestPlanVerifyGone(t *testing.T) {
	a := flow(inet.UDP, "198.51.100.2:1>192.0.2.2:53", "192.0.2.2:53>198.51.100.2:1")
	b := a
	a.ID, b.ID = 1, 2
	b.Orig.Src = netip.MustParseAddrPort("198.51.100.2:2")
	enoent := &OpError{Op: "delete", Err: unix.ENOENT}
	table := &fakeTable{flows: []Flow{a}, answer: map[uint32]error{1: enoent, 2: enoent}}
	results := NewPlan([]Flow{a, b}, nil).Execute(context.Background(), table)
	if r := results[0]; r.Action != inet.Failed || r.Err == nil {
		t.Errorf("still there: %v (%v), want failed", r.Action, r.Err)
	}
	if r := results[1]; r.Action != inet.Gone {
		t.Errorf("not there: %v (%v), want gone", r.Action, r.Err)
	}
}

// TestPlanKeepsSessionBehindNAT: the session's flow is kept whichever tuple
// names it: the original (a session to this router), or the reply (a
// session DNATed to a host behind it, whose SSH_CONNECTION names the
// translated addresses); a flow of another client port is not kept.
func TestPlanKeepsSessionBehindNAT(t *testing.T) {
	session := &inet.Session{Client: netip.MustParseAddrPort("198.51.100.7:50000"), Server: netip.MustParseAddrPort("10.0.3.7:22")}
	dnat := flow(inet.TCP, "198.51.100.7:50000>203.0.113.1:2222", "10.0.3.7:22>198.51.100.7:50000")
	other := flow(inet.TCP, "198.51.100.7:50001>203.0.113.1:2222", "10.0.3.7:22>198.51.100.7:50001")
	plan := NewPlan([]Flow{dnat, other}, session)
	if len(plan.Skipped) != 1 || plan.Skipped[0].Flow.Orig != dnat.Orig || len(plan.Targets) != 1 {
		t.Errorf("plan %+v: want the DNATed session kept, the other targeted", plan)
	}
	if p := NewPlan([]Flow{dnat}, nil); len(p.Targets) != 1 {
		t.Errorf("without a session: %+v", p)
	}
}

// TestPlanKeepsSSHPortWhenHidden: where tcpreap runs in a PID namespace of
// its own, every TCP flow on the SSH port is kept, whichever end has it.
func TestPlanKeepsSSHPortWhenHidden(t *testing.T) {
	ss := &inet.Session{Hidden: true, SSHPort: 22}
	in := flow(inet.TCP, "198.51.100.7:50000>198.51.100.1:22", "198.51.100.1:22>198.51.100.7:50000")
	out := flow(inet.TCP, "198.51.100.1:40000>198.51.100.9:22", "198.51.100.9:22>198.51.100.1:40000")
	web := flow(inet.TCP, "198.51.100.7:50001>198.51.100.1:443", "198.51.100.1:443>198.51.100.7:50001")
	dns := flow(inet.UDP, "198.51.100.7:50002>198.51.100.1:22", "198.51.100.1:22>198.51.100.7:50002")
	plan := NewPlan([]Flow{in, out, web, dns}, ss)
	if len(plan.Skipped) != 2 || plan.Skipped[0].Reason != ReasonSSHHidden || len(plan.Targets) != 2 {
		t.Errorf("plan %+v: want the two TCP flows on port 22 kept", plan)
	}
}

// TestPlanNeverDeletesAStranger: an entry's id is a hash of its address and
// tuples, so an entry made after the plan in the memory of the planned one
// (deleted meanwhile) can have its id and tuple. It is told apart by what
// else the kernel shows (its mark here, its reply tuple, the bits that stay
// set), reported gone, and never deleted.
func TestPlanNeverDeletesAStranger(t *testing.T) {
	planned := flow(inet.TCP, "198.51.100.7:50000>198.51.100.1:80", "198.51.100.1:80>198.51.100.7:50000")
	planned.ID, planned.Mark, planned.Status = 7, 1, SeenReply|Assured|Confirmed
	for name, change := range map[string]func(*Flow){
		"another mark":        func(f *Flow) { f.Mark = 2 },
		"another reply tuple": func(f *Flow) { f.Reply.Src = netip.MustParseAddrPort("10.0.3.7:80") },
		"no reply seen yet":   func(f *Flow) { f.Status = Confirmed },
	} {
		newcomer := planned
		change(&newcomer)
		table := &fakeTable{flows: []Flow{newcomer}}
		results := NewPlan([]Flow{planned}, nil).Execute(context.Background(), table)
		if results[0].Action != inet.Gone || len(table.deleted) != 0 || len(table.flows) != 1 {
			t.Errorf("%s: %v, deleted %v; want gone and the newcomer left alone", name, results[0].Action, table.deleted)
		}
	}
	// The same entry, with a reply seen since and its timeout moved: deleted.
	same := planned
	same.Status |= Dying
	same.Timeout = planned.Timeout + 100
	table := &fakeTable{flows: []Flow{same}}
	if results := NewPlan([]Flow{planned}, nil).Execute(context.Background(), table); results[0].Action != inet.Killed || len(table.flows) != 0 {
		t.Errorf("the planned entry itself: %v, left %v", results[0].Action, table.flows)
	}
}
