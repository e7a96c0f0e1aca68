package kill_test

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/tcpreap/tcpreap/inet"
	"github.com/tcpreap/tcpreap/kill"
	"github.com/tcpreap/tcpreap/sockdiag"
	"github.com/tcpreap/tcpreap/sockdiag/sockdiagtest"
	"golang.org/x/sys/unix"
)

func socket(state sockdiag.State, port uint16, cookie sockdiag.Cookie) sockdiag.Socket {
	return sockdiag.Socket{
		Protocol: inet.TCP, Family: inet.IPv4, State: state,
		ID: sockdiag.SockID{
			Local:  netip.AddrPortFrom(netip.MustParseAddr("192.0.2.1"), 5432),
			Remote: netip.AddrPortFrom(netip.MustParseAddr("192.0.2.2"), port),
			Cookie: cookie,
		},
	}
}

func listener(cookie sockdiag.Cookie) sockdiag.Socket {
	s := socket(sockdiag.Listen, 0, cookie)
	s.ID.Remote = netip.AddrPortFrom(netip.IPv4Unspecified(), 0)
	return s
}

func TestPlanKeepsListenersBackUnlessNamed(t *testing.T) {
	k := &sockdiagtest.Kernel{Sockets: []sockdiag.Socket{listener(1), socket(sockdiag.Established, 40000, 2)}}
	f := &sockdiag.Filter{States: sockdiag.Big}
	plan, err := kill.NewPlan(k.Conn().Query(t.Context(), f), kill.Guards{})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Targets) != 1 || plan.Targets[0].ID.Cookie != 2 {
		t.Fatalf("targets %+v, want the established socket", plan.Targets)
	}
	if len(plan.Skipped) != 1 || plan.Skipped[0].Socket.ID.Cookie != 1 || plan.Skipped[0].Reason != kill.ReasonListen {
		t.Fatalf("skipped %+v, want the listener with its reason", plan.Skipped)
	}

	plan, err = kill.NewPlan(k.Conn().Query(t.Context(), f), kill.Guards{ListenNamed: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Targets) != 2 || len(plan.Skipped) != 0 {
		t.Fatalf("with listen named: %d targets, %d skipped; want 2, 0", len(plan.Targets), len(plan.Skipped))
	}
}

func TestPlanReturnsQueryErrors(t *testing.T) {
	failing := func(yield func(sockdiag.Socket, error) bool) {
		yield(sockdiag.Socket{}, unix.ENOENT)
	}
	if _, err := kill.NewPlan(failing, kill.Guards{}); !errors.Is(err, unix.ENOENT) {
		t.Fatalf("error %v, want ENOENT", err)
	}
}

func TestDryRunDestroysNothing(t *testing.T) {
	socks := []sockdiag.Socket{socket(sockdiag.Established, 40000, 1)}
	plan := &kill.Plan{Targets: socks}
	results := plan.DryRun()
	if len(results) != 1 || results[0].Action != inet.WouldKill {
		t.Fatalf("results %+v", results)
	}
}

func mapAddrPort(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom16(ap.Addr().As16()), ap.Port())
}

// TestPlanKeepsSubflows: the targets that are MPTCP subflows become skips with their
// reason; the others stay targets, in order. With a close that takes some, those stay
// targets, recorded with their connection's token.
func TestPlanKeepsSubflows(t *testing.T) {
	plan := &kill.Plan{Targets: []sockdiag.Socket{
		socket(sockdiag.Established, 40000, 1), socket(sockdiag.Established, 40001, 2), socket(sockdiag.CloseWait, 40002, 3),
	}}
	if !plan.MaySubflow() {
		t.Fatal("a plan of TCP connections: MaySubflow false")
	}
	plan.KeepSubflows(map[sockdiag.Cookie]uint32{2: 0xa1, 9: 0xb2}, nil)
	if len(plan.Targets) != 2 || plan.Targets[0].ID.Cookie != 1 || plan.Targets[1].ID.Cookie != 3 ||
		len(plan.Skipped) != 1 || plan.Skipped[0].Socket.ID.Cookie != 2 || plan.Skipped[0].Reason != kill.ReasonMPTCPSubflow || plan.Subflows != nil {
		t.Errorf("plan %+v", plan)
	}
	if (&kill.Plan{Targets: []sockdiag.Socket{socket(sockdiag.Listen, 80, 4)}}).MaySubflow() {
		t.Error("a plan of a listener: MaySubflow true")
	}

	plan = &kill.Plan{Targets: []sockdiag.Socket{
		socket(sockdiag.Established, 40000, 1), socket(sockdiag.Established, 40001, 2), socket(sockdiag.CloseWait, 40002, 3),
	}}
	plan.KeepSubflows(map[sockdiag.Cookie]uint32{2: 0xa1, 3: 0xb2}, func(s *sockdiag.Socket) bool { return s.ID.Cookie == 2 })
	if len(plan.Targets) != 2 || plan.Targets[0].ID.Cookie != 1 || plan.Targets[1].ID.Cookie != 2 ||
		len(plan.Skipped) != 1 || plan.Skipped[0].Socket.ID.Cookie != 3 || len(plan.Subflows) != 1 || plan.Subflows[2] != 0xa1 {
		t.Errorf("plan with a close for subflow 2: %+v", plan)
	}
}

// TestNarrow: the targets and the skipped sockets keep takes stay, in order.
func TestNarrow(t *testing.T) {
	p := &kill.Plan{Targets: []sockdiag.Socket{socket(sockdiag.Established, 1, 1), socket(sockdiag.Established, 2, 2), socket(sockdiag.Established, 3, 3)},
		Skipped: []kill.Skip{{Socket: listener(4), Reason: kill.ReasonListen}, {Socket: listener(5), Reason: kill.ReasonListen}}}
	p.Narrow(func(s *sockdiag.Socket) bool { return s.ID.Cookie%2 == 1 })
	if len(p.Targets) != 2 || p.Targets[0].ID.Cookie != 1 || p.Targets[1].ID.Cookie != 3 || len(p.Skipped) != 1 || p.Skipped[0].Socket.ID.Cookie != 5 {
		t.Errorf("narrowed to %v and %v", p.Targets, p.Skipped)
	}
}
