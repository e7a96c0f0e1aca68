package sockdiag_test

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"testing"

	"github.com/tcpreap/tcpreap/sockdiag"
	"github.com/tcpreap/tcpreap/sockdiag/sockdiagtest"
	"golang.org/x/sys/unix"
)

// sockets makes n IPv4 TCP sockets with peer 192.0.2.2 in the given state.
func sockets(n int, state sockdiag.State, firstCookie sockdiag.Cookie) []sockdiag.Socket {
	out := make([]sockdiag.Socket, n)
	for i := range out {
		out[i] = sockdiag.Socket{
			Protocol: sockdiag.TCP, Family: sockdiag.IPv4, State: state,
			ID: sockdiag.SockID{
				Local:  netip.MustParseAddrPort("192.0.2.1:5432"),
				Remote: netip.AddrPortFrom(netip.MustParseAddr("192.0.2.2"), uint16(40000+i)),
				Cookie: firstCookie + sockdiag.Cookie(i),
			},
		}
	}
	return out
}

func TestDumpSpansDatagrams(t *testing.T) {
	k := &sockdiagtest.Kernel{Sockets: sockets(7, sockdiag.Established, 100), DumpBatch: 3}
	c := k.Conn()
	var got []sockdiag.Socket
	for s, err := range c.Dump(sockdiag.Request{Family: sockdiag.IPv4, Protocol: sockdiag.TCP, States: sockdiag.AllStates}) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, s)
	}
	if len(got) != 7 {
		t.Fatalf("dump returned %d sockets, want 7", len(got))
	}
	for i, s := range got {
		if s != k.Sockets[i] {
			t.Fatalf("socket %d: got %+v, want %+v", i, s, k.Sockets[i])
		}
	}
}

func TestDumpStopsEarlyAndConnStaysUsable(t *testing.T) {
	k := &sockdiagtest.Kernel{Sockets: sockets(6, sockdiag.Established, 1), DumpBatch: 2}
	c := k.Conn()
	req := sockdiag.Request{Family: sockdiag.IPv4, Protocol: sockdiag.TCP, States: sockdiag.AllStates}
	for _, err := range c.Dump(req) {
		if err != nil {
			t.Fatal(err)
		}
		break
	}
	n := 0
	for _, err := range c.Dump(req) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 6 {
		t.Fatalf("second dump returned %d sockets, want 6: the first one's rest leaked into it", n)
	}
}

func TestQueryRechecksInGo(t *testing.T) {
	socks := append(sockets(3, sockdiag.Established, 1), sockets(2, sockdiag.CloseWait, 10)...)
	other := sockets(1, sockdiag.Established, 20)[0]
	other.ID.Remote = netip.MustParseAddrPort("192.0.2.3:40000")
	k := &sockdiagtest.Kernel{Sockets: append(socks, other)}
	f := &sockdiag.Filter{
		States: 1 << sockdiag.CloseWait,
		Peers:  []sockdiag.Endpoint{{Prefix: netip.MustParsePrefix("192.0.2.2/32")}},
	}
	var got []sockdiag.Cookie
	for s, err := range k.Conn().Query(f) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, s.ID.Cookie)
	}
	if fmt.Sprint(got) != "[10 11]" {
		t.Fatalf("query returned cookies %v, want [10 11]", got)
	}
	// One dump per family, each with the state mask and a filter program.
	if len(k.Requests) != 2 || k.Requests[0].Family != sockdiag.IPv4 || k.Requests[1].Family != sockdiag.IPv6 {
		t.Fatalf("requests %+v", k.Requests)
	}
	for _, r := range k.Requests {
		if r.States != 1<<sockdiag.CloseWait || len(r.Bytecode) == 0 {
			t.Fatalf("request %+v lacks the state mask or the program", r)
		}
	}
}

func TestDestroyBatchesAndErrors(t *testing.T) {
	// More than one batch, with answers of every kind.
	socks := sockets(300, sockdiag.Established, 1000)
	k := &sockdiagtest.Kernel{Sockets: socks, DestroyErr: func(s sockdiag.Socket) unix.Errno {
		if s.ID.Cookie%50 == 7 {
			return unix.EPERM
		}
		return 0
	}}
	targets := append([]sockdiag.Socket(nil), socks...)
	targets[5].ID.Cookie = 1 // replaced: the cookie no longer matches
	errs := k.Conn().Destroy(targets)
	if len(errs) != len(targets) {
		t.Fatalf("%d errors for %d targets", len(errs), len(targets))
	}
	for i, err := range errs {
		var want error
		switch {
		case i == 5:
			want = unix.ENOENT
		case targets[i].ID.Cookie%50 == 7:
			want = unix.EPERM
		}
		if want == nil && err != nil || want != nil && !errors.Is(err, want) {
			t.Fatalf("target %d (cookie %d): error %v, want %v", i, targets[i].ID.Cookie, err, want)
		}
		var oe *sockdiag.OpError
		if err != nil && (!errors.As(err, &oe) || oe.Request.ID != targets[i].ID) {
			t.Fatalf("target %d: error %v does not name its request", i, err)
		}
	}
	if left := len(k.Sockets); left != 1+6 {
		t.Fatalf("%d sockets left, want 7 (the replaced one and the six EPERM)", left)
	}
}

func TestDestroySendsTheCookie(t *testing.T) {
	k := &sockdiagtest.Kernel{Sockets: sockets(1, sockdiag.TimeWait, 77)}
	if err := k.Conn().Destroy(k.Sockets[:1])[0]; err != nil {
		t.Fatal(err)
	}
	if len(k.Requests) != 1 || k.Requests[0].ID.Cookie != 77 {
		t.Fatalf("destroy requests %+v, want one with cookie 77", k.Requests)
	}
}

func TestDestroyRefusesNoCookie(t *testing.T) {
	s := sockets(1, sockdiag.Established, 1<<64-1)
	k := &sockdiagtest.Kernel{Sockets: s}
	if err := k.Conn().Destroy(s)[0]; err == nil {
		t.Fatal("a destroy with INET_DIAG_NOCOOKIE was sent")
	}
	if len(k.Requests) != 0 {
		t.Fatalf("the kernel saw %d requests", len(k.Requests))
	}
}

// TestDestroyInParallel spreads many batches over several netlink sockets
// (run it with -race): every target still gets its own answer.
func TestDestroyInParallel(t *testing.T) {
	socks := sockets(5000, sockdiag.Established, 1)
	k := &sockdiagtest.Kernel{Sockets: slices.Clone(socks), DestroyErr: func(s sockdiag.Socket) unix.Errno {
		if s.ID.Cookie%997 == 0 {
			return unix.EBUSY
		}
		return 0
	}}
	targets := slices.Clone(socks)
	for i := range targets {
		if i%1000 == 500 {
			targets[i].ID.Cookie += 100000 // replaced since the dump
		}
	}
	c := k.Conn()
	defer c.Close()
	for i, err := range c.Destroy(targets) {
		var want error
		switch {
		case i%1000 == 500:
			want = unix.ENOENT
		case targets[i].ID.Cookie%997 == 0:
			want = unix.EBUSY
		}
		if want == nil && err != nil || want != nil && !errors.Is(err, want) {
			t.Fatalf("target %d: error %v, want %v", i, err, want)
		}
	}
	if want := 5 + 5; len(k.Sockets) != want {
		t.Fatalf("%d sockets left, want %d", len(k.Sockets), want)
	}
}
