package flows

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/tcpreap/tcpreap/inet"
)

// randomFlows are n entries in no order (each with an id of its own: two
// entries with one id, tuple and zone are one), of both families and protocols,
// that share addresses and prefixes (IPv6 clients alike in their first 64
// bits, where a List's sort key ends), with zones of both kinds, and some
// sent twice by the dump (with another timeout, as a second read sees it).
func randomFlows(rng *rand.Rand, n int) []Flow {
	var out []Flow
	for i := range n {
		fl := Flow{ID: uint32(i), Protocol: []inet.Protocol{inet.TCP, inet.UDP}[rng.IntN(2)],
			Status: Status(rng.Uint32()) & statusMask, Mark: rng.Uint32N(3), Zone: uint16(rng.IntN(2)),
			zoneDir: zoneDir(rng.IntN(3)), Timeout: rng.Uint32N(4000)}
		if fl.Protocol == inet.TCP {
			fl.State = TCPState(1 + rng.IntN(9))
		}
		port := func() uint16 { return []uint16{22, 53, 1024, 65535}[rng.IntN(4)] }
		var addr func() netip.Addr
		if rng.IntN(2) == 0 {
			fl.Family = inet.IPv4
			addr = func() netip.Addr { return netip.AddrFrom4([4]byte{192, 0, 2, byte(rng.IntN(3))}) }
		} else {
			fl.Family = inet.IPv6
			addr = func() netip.Addr {
				b := netip.MustParseAddr("2001:db8::").As16()
				b[7], b[15] = byte(rng.IntN(2)), byte(rng.IntN(3))
				return netip.AddrFrom16(b)
			}
		}
		fl.Orig = Tuple{netip.AddrPortFrom(addr(), port()), netip.AddrPortFrom(addr(), port())}
		fl.Reply = Tuple{netip.AddrPortFrom(addr(), port()), netip.AddrPortFrom(addr(), port())}
		out = append(out, fl)
		if i%5 == 0 {
			again := fl
			again.Timeout++
			out = append(out, again)
		}
	}
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// TestListIsTheDryRun: a List shows what the dry run of the plan of a
// dump shows, entry for entry, in its order, each entry sent twice once,
// the session's kept back with the plan's reasons; and counts as it.
func TestListIsTheDryRun(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	sessions := []*inet.Session{nil, {Hidden: true, SSHPort: 22},
		{Client: netip.MustParseAddrPort("192.0.2.1:1024"), Server: netip.MustParseAddrPort("192.0.2.2:22")}}
	for round := range 60 {
		all := randomFlows(rng, 1+rng.IntN(300))
		session := sessions[round%len(sessions)]
		f := &Filter{Protocols: []inet.Protocol{inet.TCP, inet.UDP}}
		l, err := NewList(context.Background(), &fakeTable{flows: all}, f, session)
		if err != nil {
			t.Fatal(err)
		}
		// What Dump returns: the walk, sorted, each entry once (which of
		// its two timeouts is the sort's).
		dumped := sortFlows(slices.Clone(all))
		want := NewPlan(dumped, session).DryRun()
		got := slices.Collect(l.Results())
		if len(got) != len(want) {
			t.Fatalf("round %d: %d entries listed, want %d", round, len(got), len(want))
		}
		for i := range want {
			g, w := got[i], want[i]
			g.Flow.Timeout, w.Flow.Timeout = 0, 0
			if g != w {
				t.Fatalf("round %d: entry %d is\n%+v, want\n%+v", round, i, got[i], want[i])
			}
		}
		if s := inet.Summarize(want); l.Summary() != s || l.Len() != len(want) || l.Targets() != s.WouldKill {
			t.Errorf("round %d: summary %+v (%d, %d targets), want %+v", round, l.Summary(), l.Len(), l.Targets(), s)
		}
		if again := slices.Collect(l.Results()); !slices.Equal(again, got) {
			t.Errorf("round %d: a second range over the results differs", round)
		}
	}
}

// TestListSelectsAndFails: a List holds what the filter selects, and a
// failed dump is its error.
func TestListSelectsAndFails(t *testing.T) {
	tcp := flow(inet.TCP, "192.0.2.1:1024>192.0.2.2:80", "192.0.2.2:80>192.0.2.1:1024")
	udp := flow(inet.UDP, "192.0.2.1:1024>192.0.2.2:53", "192.0.2.2:53>192.0.2.1:1024")
	l, err := NewList(context.Background(), &fakeTable{flows: []Flow{tcp, udp}}, &Filter{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := slices.Collect(l.Results()); len(got) != 1 || got[0].Flow != tcp || got[0].Action != inet.WouldKill {
		t.Errorf("list %+v, want the TCP entry alone", got)
	}
	boom := errors.New("boom")
	if _, err := NewList(context.Background(), &fakeTable{dumpErr: boom}, &Filter{}, nil); !errors.Is(err, boom) {
		t.Errorf("a failed dump: %v", err)
	}
	empty, err := NewList(context.Background(), &fakeTable{}, &Filter{}, nil)
	if err != nil || empty.Len() != 0 || empty.Summary() != (inet.Summary{}) {
		t.Errorf("an empty table: %+v, %v", empty, err)
	}
}

// TestListManyChunks: a List of more entries than a chunk holds keeps
// them all, in order, each once.
func TestListManyChunks(t *testing.T) {
	var all []Flow
	for i := range 3*chunkRows + 7 {
		fl := flow(inet.UDP, "198.51.100.1:1>192.0.2.2:53", "192.0.2.2:53>198.51.100.1:1")
		fl.ID = uint32(i)
		fl.Orig.Src = netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 51, 100, byte(i % 7)}), uint16(i))
		all = append(all, fl)
	}
	want := sortFlows(slices.Clone(all))
	// Every third entry sent twice, the second time among the last.
	for i := 0; i < len(want); i += 3 {
		all = append(all, want[i])
	}
	l, err := NewList(context.Background(), &fakeTable{flows: all}, &Filter{Protocols: []inet.Protocol{inet.UDP}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := slices.Collect(l.Results())
	if len(got) != len(want) {
		t.Fatalf("%d entries, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].Flow != want[i] {
			t.Fatalf("entry %d: %v, want %v", i, got[i].Flow, want[i])
		}
	}
}

func TestStatusAppendWords(t *testing.T) {
	for _, s := range []Status{0, SeenReply, Assured | SeenReply, Assured | SrcNAT | DstNAT | Expected | Dying | Offloaded, HWOffload | SeenReply} {
		if got, want := string(s.AppendWords([]byte("x "))), "x "+strings.Join(s.Words(), ","); got != want {
			t.Errorf("%#x: %q, want %q", uint32(s), got, want)
		}
	}
}

// TestListRowSize: a List's row is as small as its doc says.
func TestListRowSize(t *testing.T) {
	if n := unsafe.Sizeof(row{}); n != 52 {
		t.Errorf("a row of %d bytes, where the List's doc says 52", n)
	}
}
