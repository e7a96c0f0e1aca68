package sockdiag_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/mdlayher/netlink"
	"github.com/tcpreap/tcpreap/sockdiag"
	"github.com/tcpreap/tcpreap/sockdiag/sockdiagtest"
	"golang.org/x/sys/unix"
)

func TestDestroyRefusesMalformedAnswers(t *testing.T) {
	target := sockets(1, sockdiag.Established, 1)
	c := kernelSays(func(seq uint32) []netlink.Message {
		return []netlink.Message{{Header: netlink.Header{Type: sockDiagByFamily, Sequence: seq}, Data: make([]byte, 4)}}
	})
	if err := c.Destroy(t.Context(), target)[0]; err == nil || !strings.Contains(err.Error(), "unexpected netlink message type") {
		t.Errorf("a non-ack answer: error %v", err)
	}
	c = kernelSays(func(uint32) []netlink.Message { return nil })
	if err := c.Destroy(t.Context(), target)[0]; err == nil || !strings.Contains(err.Error(), "no answer from the kernel") {
		t.Errorf("no answer: error %v", err)
	}
}

func TestDestroyBatchesAndErrors(t *testing.T) {
	// More than one batch, with answers of every kind that does not stop
	// the run.
	socks := sockets(300, sockdiag.Established, 1000)
	k := &sockdiagtest.Kernel{Sockets: socks, DestroyErr: func(s sockdiag.Socket) unix.Errno {
		if s.ID.Cookie%50 == 7 {
			return unix.EBUSY
		}
		return 0
	}}
	targets := append([]sockdiag.Socket(nil), socks...)
	targets[5].ID.Cookie = 1 // replaced: the cookie no longer matches
	errs := k.Conn().Destroy(t.Context(), targets)
	if len(errs) != len(targets) {
		t.Fatalf("%d errors for %d targets", len(errs), len(targets))
	}
	for i, err := range errs {
		var want error
		switch {
		case i == 5:
			want = unix.ENOENT
		case targets[i].ID.Cookie%50 == 7:
			want = unix.EBUSY
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
		t.Fatalf("%d sockets left, want 7 (the replaced one and the six EBUSY)", left)
	}
}

func TestDestroySendsTheCookie(t *testing.T) {
	k := &sockdiagtest.Kernel{Sockets: sockets(1, sockdiag.TimeWait, 77)}
	if err := k.Conn().Destroy(t.Context(), k.Sockets[:1])[0]; err != nil {
		t.Fatal(err)
	}
	if len(k.Requests) != 1 || k.Requests[0].ID.Cookie != 77 {
		t.Fatalf("destroy requests %+v, want one with cookie 77", k.Requests)
	}
}

func TestDestroyRefusesNoCookie(t *testing.T) {
	s := sockets(1, sockdiag.Established, 1<<64-1)
	k := &sockdiagtest.Kernel{Sockets: s}
	if err := k.Conn().Destroy(t.Context(), s)[0]; err == nil {
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
	for i, err := range c.Destroy(t.Context(), targets) {
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
