package flows

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"testing"

	"github.com/tcpreap/tcpreap/inet"
)

// seenTable is a fakeTable that can delete as its dump shows entries (a
// SeenDeleter): each entry twice, as a dump that restarted a bucket sends
// it, and a dump that fails after failAfter entries when failAfter > 0.
type seenTable struct {
	*fakeTable
	failAfter int
	walks     int // DeleteSeen calls
}

func (t *seenTable) Entries() int { return len(t.flows) }

func (t *seenTable) DeleteSeen(ctx context.Context, f *Filter, pick func(*Flow) bool, done func(*Flow, error)) error {
	t.walks++
	var picked []Flow
	var err error
	for k, fl := range slices.Clone(t.flows) {
		if t.failAfter > 0 && k == t.failAfter {
			err = errors.New("the dump broke off")
			break
		}
		for range 2 {
			if f.Match(&fl) && pick(&fl) {
				picked = append(picked, fl)
			}
		}
	}
	for i, derr := range t.Delete(ctx, picked) {
		done(&picked[i], derr)
	}
	return err
}

// manyFlows are n UDP entries to server:53, ids from id on.
func manyFlows(n int, server string, id uint32) []Flow {
	var fls []Flow
	for i := range n {
		src := fmt.Sprintf("198.51.100.2:%d", 1024+i)
		fl := flow(inet.UDP, src+">"+server+":53", server+":53>"+src)
		fl.ID = id + uint32(i)
		fls = append(fls, fl)
	}
	return fls
}

// TestPlanExecuteSeen: when the targets are most of the table, each is compared with
// the plan as a second dump shows it and deleted then, without a GET: a stranger in its
// place and a target the dump does not show are gone, an entry shown twice is deleted
// once, and nothing else is touched.
func TestPlanExecuteSeen(t *testing.T) {
	targets := manyFlows(200, "192.0.2.2", 1)
	others := manyFlows(20, "192.0.2.3", 1000)
	table := &seenTable{fakeTable: &fakeTable{flows: slices.Concat(targets, others)}}
	// Target 5 died and a stranger has its tuple; target 7 is gone.
	table.flows[5].ID = 5000
	table.flows = slices.Delete(table.flows, 7, 8)
	// The plan's dump showed target 9 and then its replacement, 200, which is the
	// one in the table.
	replacement := targets[9]
	replacement.ID = 9000
	table.flows[8].ID = 9000 // target 9, one down since 7 went
	// Target 201 has target 3's id (ids are hashes): a GET reads it.
	twin := manyFlows(1, "192.0.2.4", 3)[0]
	table.flows = append(table.flows, twin)
	results := NewPlan(append(slices.Clone(targets), replacement, twin), nil).Execute(context.Background(), table)
	if table.walks != 1 || table.gets != 1 {
		t.Errorf("%d dumps that delete and %d batches of gets, want 1 and 1", table.walks, table.gets)
	}
	killed := 0
	for i, r := range results {
		switch {
		case i == 5 || i == 7 || i == 9:
			if r.Action != inet.Gone {
				t.Errorf("target %d: %v, want gone", i, r.Action)
			}
		case r.Action == inet.Killed:
			killed++
		default:
			t.Errorf("target %d: %v %v, want killed", i, r.Action, r.Err)
		}
	}
	if killed != 199 || len(table.deleted) != 199 {
		t.Errorf("%d killed, %d deletes; want 199 each (an entry shown twice is deleted once)", killed, len(table.deleted))
	}
	for _, i := range []int{200, 201} {
		if r := results[i]; r.Action != inet.Killed {
			t.Errorf("target %d (id %d): %v %v, want killed", i, r.Flow.ID, r.Action, r.Err)
		}
	}
	if slices.Contains(table.deleted, 5000) {
		t.Error("the stranger was deleted")
	}
	if len(table.flows) != 21 {
		t.Errorf("%d entries left, want the stranger and the 20 others", len(table.flows))
	}
}

// TestPlanExecuteSeenBrokenDump: a second dump that fails leaves the targets it did not
// show to GETs; a small share of a big table is read by GETs alone.
func TestPlanExecuteSeenBrokenDump(t *testing.T) {
	targets := manyFlows(200, "192.0.2.2", 1)
	table := &seenTable{fakeTable: &fakeTable{flows: slices.Clone(targets)}, failAfter: 50}
	for i, r := range NewPlan(targets, nil).Execute(context.Background(), table) {
		if r.Action != inet.Killed {
			t.Errorf("target %d: %v %v, want killed", i, r.Action, r.Err)
		}
	}
	if table.walks != 1 || table.gets == 0 || len(table.flows) != 0 {
		t.Errorf("%d dumps that delete, %d batches of gets, %d entries left; want 1, some, 0", table.walks, table.gets, len(table.flows))
	}

	big := &seenTable{fakeTable: &fakeTable{flows: slices.Concat(targets, manyFlows(300, "192.0.2.3", 1000))}}
	for i, r := range NewPlan(targets, nil).Execute(context.Background(), big) {
		if r.Action != inet.Killed {
			t.Errorf("big table, target %d: %v %v, want killed", i, r.Action, r.Err)
		}
	}
	if big.walks != 0 || big.gets == 0 {
		t.Errorf("200 targets of 500: %d dumps that delete, %d batches of gets; want GETs alone", big.walks, big.gets)
	}
}

// TestKeyOf: a flow's key tells apart what the kernel tells apart (family, each end of
// the original tuple, zone) and, when asked, the id; nothing else changes it.
func TestKeyOf(t *testing.T) {
	base := manyFlows(1, "192.0.2.2", 7)[0]
	mapped := base
	mapped.Family = inet.IPv6
	mapped.Orig.Src = netip.AddrPortFrom(netip.AddrFrom16(base.Orig.Src.Addr().As16()), base.Orig.Src.Port())
	mapped.Orig.Dst = netip.AddrPortFrom(netip.AddrFrom16(base.Orig.Dst.Addr().As16()), base.Orig.Dst.Port())
	other := func(change func(*Flow)) Flow { f := base; change(&f); return f }
	for name, f := range map[string]Flow{
		"v4-mapped IPv6": mapped,
		"source port":    other(func(f *Flow) { f.Orig.Src = netip.AddrPortFrom(f.Orig.Src.Addr(), 9) }),
		"destination":    other(func(f *Flow) { f.Orig.Dst = netip.MustParseAddrPort("192.0.2.3:53") }),
		"zone":           other(func(f *Flow) { f.Zone = 1 }),
	} {
		if keyOf(&f, true) == keyOf(&base, true) || keyOf(&f, false) == keyOf(&base, false) {
			t.Errorf("%s: same key as %v", name, base)
		}
	}
	newID := other(func(f *Flow) { f.ID, f.Mark, f.Reply = 8, 3, Tuple{} })
	if keyOf(&newID, true) == keyOf(&base, true) || keyOf(&newID, false) != keyOf(&base, false) {
		t.Error("the id changes the key with ids alone; the mark and reply tuple never")
	}
}
