package kill_test

import (
	"errors"
	"net/netip"
	"slices"
	"testing"

	"github.com/tcpreap/tcpreap/kill"
	"github.com/tcpreap/tcpreap/sockdiag"
	"github.com/tcpreap/tcpreap/sockdiag/sockdiagtest"
	"golang.org/x/sys/unix"
)

func socket(state sockdiag.State, port uint16, cookie sockdiag.Cookie) sockdiag.Socket {
	return sockdiag.Socket{
		Protocol: sockdiag.TCP, Family: sockdiag.IPv4, State: state,
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
	plan, err := kill.NewPlan(k.Conn().Query(f), kill.Guards{})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Targets) != 1 || plan.Targets[0].ID.Cookie != 2 {
		t.Fatalf("targets %+v, want the established socket", plan.Targets)
	}
	if len(plan.Skipped) != 1 || plan.Skipped[0].Socket.ID.Cookie != 1 || plan.Skipped[0].Reason != kill.ReasonListen {
		t.Fatalf("skipped %+v, want the listener with its reason", plan.Skipped)
	}

	plan, err = kill.NewPlan(k.Conn().Query(f), kill.Guards{ListenNamed: true})
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

func TestExecuteClassifiesEveryAnswer(t *testing.T) {
	kill.KernelBefore6(t)
	socks := []sockdiag.Socket{
		socket(sockdiag.Established, 40000, 1), // destroyed
		socket(sockdiag.CloseWait, 40001, 2),   // gone before the destroy
		socket(sockdiag.TimeWait, 40002, 3),    // kernel before 6.0
		socket(sockdiag.FinWait2, 40003, 4),    // no CONFIG_INET_DIAG_DESTROY
		socket(sockdiag.LastAck, 40004, 5),     // no permission
		socket(sockdiag.Closing, 40005, 6),     // something else
	}
	k := &sockdiagtest.Kernel{Sockets: slices.Clone(socks), DestroyErr: func(s sockdiag.Socket) unix.Errno {
		return map[sockdiag.Cookie]unix.Errno{3: unix.EOPNOTSUPP, 4: unix.EOPNOTSUPP, 5: unix.EPERM, 6: unix.EBUSY}[s.ID.Cookie]
	}}
	k.Sockets = slices.Delete(k.Sockets, 1, 2)
	plan := &kill.Plan{Targets: socks, Skipped: []kill.Skip{{Socket: listener(9), Reason: kill.ReasonListen}}}
	results := plan.Execute(k.Conn())

	want := []struct {
		action kill.Action
		err    error
		reason string
	}{
		{action: kill.Killed},
		{action: kill.Gone},
		{action: kill.Skipped, reason: kill.ReasonTimeWait},
		{action: kill.Failed, err: kill.ErrNoDestroy},
		{action: kill.Failed, err: kill.ErrPermission},
		{action: kill.Failed, err: unix.EBUSY},
		{action: kill.Skipped, reason: kill.ReasonListen},
	}
	if len(results) != len(want) {
		t.Fatalf("%d results, want %d", len(results), len(want))
	}
	for i, w := range want {
		r := results[i]
		if r.Action != w.action || r.Reason != w.reason || (w.err == nil) != (r.Err == nil) || w.err != nil && !errors.Is(r.Err, w.err) {
			t.Errorf("result %d (%s): %s %q %v; want %s %q %v", i, r.Socket.State, r.Action, r.Reason, r.Err, w.action, w.reason, w.err)
		}
	}
	sum := kill.Summarize(results)
	if sum != (kill.Summary{Matched: 7, Killed: 1, Gone: 1, Failed: 3, Skipped: 2}) {
		t.Errorf("summary %+v", sum)
	}
	if slices.ContainsFunc(k.Sockets, func(s sockdiag.Socket) bool { return s.ID.Cookie == 1 }) {
		t.Error("the killed socket is still in the kernel")
	}
}

func TestDryRunDestroysNothing(t *testing.T) {
	socks := []sockdiag.Socket{socket(sockdiag.Established, 40000, 1)}
	plan := &kill.Plan{Targets: socks}
	results := plan.DryRun()
	if len(results) != 1 || results[0].Action != kill.WouldKill {
		t.Fatalf("results %+v", results)
	}
}

func mapAddrPort(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom16(ap.Addr().As16()), ap.Port())
}

// TestTimeWaitOnNewKernel: from 6.0 on, EOPNOTSUPP for a timewait socket
// (TIME_WAIT, or FIN_WAIT2 with the timewait timer) means no SOCK_DESTROY.
func TestTimeWaitOnNewKernel(t *testing.T) {
	tw := socket(sockdiag.FinWait2, 40000, 1)
	tw.Timer = 3
	k := &sockdiagtest.Kernel{Sockets: []sockdiag.Socket{tw}, DestroyErr: func(sockdiag.Socket) unix.Errno { return unix.EOPNOTSUPP }}
	results := (&kill.Plan{Targets: k.Sockets}).Execute(k.Conn())
	if results[0].Action != kill.Failed || !errors.Is(results[0].Err, kill.ErrNoDestroy) {
		t.Fatalf("result %s %v, want failed: no SOCK_DESTROY", results[0].Action, results[0].Err)
	}
}

// TestTimeWaitSubstateOnOldKernel: a FIN_WAIT2 timewait socket before 6.0
// is skipped like TIME_WAIT, and does not stop the run.
func TestTimeWaitSubstateOnOldKernel(t *testing.T) {
	kill.KernelBefore6(t)
	tw := socket(sockdiag.FinWait2, 40000, 1)
	tw.Timer = 3
	socks := []sockdiag.Socket{tw, socket(sockdiag.Established, 40001, 2)}
	k := &sockdiagtest.Kernel{Sockets: slices.Clone(socks), DestroyErr: func(s sockdiag.Socket) unix.Errno {
		if s.Timer == 3 {
			return unix.EOPNOTSUPP
		}
		return 0
	}}
	results := (&kill.Plan{Targets: socks}).Execute(k.Conn())
	if results[0].Action != kill.Skipped || results[0].Reason != kill.ReasonTimeWait || results[1].Action != kill.Killed {
		t.Fatalf("results %+v", results)
	}
}
