package kill_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/tcpreap/tcpreap/kill"
	"github.com/tcpreap/tcpreap/sockdiag"
	"github.com/tcpreap/tcpreap/sockdiag/sockdiagtest"
	"golang.org/x/sys/unix"
)

// TestVerifyCatchesIneffectiveDestroy is a kernel before 6.11 and an
// orphaned socket: the destroy answers 0 and the socket stays.
func TestVerifyCatchesIneffectiveDestroy(t *testing.T) {
	socks := []sockdiag.Socket{socket(sockdiag.FinWait1, 40000, 1), socket(sockdiag.Established, 40001, 2)}
	k := &sockdiagtest.Kernel{Sockets: slices.Clone(socks), Ineffective: true}
	results := (&kill.Plan{Targets: socks}).Execute(k.Conn())
	for _, r := range results {
		if r.Action != kill.Failed || !errors.Is(r.Err, kill.ErrStillPresent) {
			t.Errorf("cookie %d: %s %v, want failed: still present after destroy", r.Socket.ID.Cookie, r.Action, r.Err)
		}
	}
	if sum := kill.Summarize(results); sum.Killed != 0 || sum.Failed != 2 {
		t.Errorf("summary %+v counts what verification did not confirm", sum)
	}
}

func TestVerifyConfirmsRealDestroys(t *testing.T) {
	socks := []sockdiag.Socket{socket(sockdiag.Established, 40000, 1), socket(sockdiag.Established, 40001, 2)}
	survivor := socket(sockdiag.Established, 40002, 3)
	k := &sockdiagtest.Kernel{Sockets: append(slices.Clone(socks), survivor)}
	results := (&kill.Plan{Targets: socks}).Execute(k.Conn())
	if sum := kill.Summarize(results); sum.Killed != 2 {
		t.Fatalf("summary %+v, want 2 killed", sum)
	}
	// Destroys, then one verification dump of the family.
	last := k.Requests[len(k.Requests)-1]
	if last.States != sockdiag.AllStates || last.Family != sockdiag.IPv4 {
		t.Fatalf("verification request %+v, want a dump of every state", last)
	}
}

// TestPreflightStopsAtTheFirstRefusal: without CAP_NET_ADMIN the first
// answer is EPERM and the rest are not sent.
func TestPreflightStopsAtTheFirstRefusal(t *testing.T) {
	for _, tc := range []struct {
		errno unix.Errno
		cause error
	}{{unix.EPERM, kill.ErrPermission}, {unix.EOPNOTSUPP, kill.ErrNoDestroy}} {
		var socks []sockdiag.Socket
		for i := range 300 {
			socks = append(socks, socket(sockdiag.Established, uint16(40000+i), sockdiag.Cookie(i+1)))
		}
		k := &sockdiagtest.Kernel{Sockets: slices.Clone(socks), DestroyErr: func(sockdiag.Socket) unix.Errno { return tc.errno }}
		results := (&kill.Plan{Targets: socks}).Execute(k.Conn())
		if len(k.Requests) != 1 {
			t.Errorf("%v: the kernel saw %d requests, want the first destroy only", tc.errno, len(k.Requests))
		}
		for _, r := range results {
			if r.Action != kill.Failed || !errors.Is(r.Err, tc.cause) {
				t.Fatalf("%v: result %s %v, want failed: %v", tc.errno, r.Action, r.Err, tc.cause)
			}
		}
		if len(k.Sockets) != 300 {
			t.Errorf("%v: %d sockets left of 300", tc.errno, len(k.Sockets))
		}
	}
}

// TestPreflightPassesAmbiguousAnswers: a socket that is gone or a TIME_WAIT
// socket on an old kernel says nothing about the rest, so tcpreap goes on
// one at a time until a destroy succeeds, then batches.
func TestPreflightPassesAmbiguousAnswers(t *testing.T) {
	kill.KernelBefore6(t)
	socks := []sockdiag.Socket{
		socket(sockdiag.CloseWait, 40000, 1), // gone
		socket(sockdiag.TimeWait, 40001, 2),  // EOPNOTSUPP before 6.0
		socket(sockdiag.Established, 40002, 3),
		socket(sockdiag.Established, 40003, 4),
		socket(sockdiag.Established, 40004, 5),
	}
	k := &sockdiagtest.Kernel{Sockets: slices.Clone(socks[1:]), DestroyErr: func(s sockdiag.Socket) unix.Errno {
		if s.State == sockdiag.TimeWait {
			return unix.EOPNOTSUPP
		}
		return 0
	}}
	results := (&kill.Plan{Targets: socks}).Execute(k.Conn())
	got := []kill.Action{}
	for _, r := range results {
		got = append(got, r.Action)
	}
	want := []kill.Action{kill.Gone, kill.Skipped, kill.Killed, kill.Killed, kill.Killed}
	if !slices.Equal(got, want) {
		t.Fatalf("actions %v, want %v", got, want)
	}
}

func TestSessionGuard(t *testing.T) {
	ss, err := kill.ParseSession("192.0.2.2 40000 192.0.2.1 5432")
	if err != nil {
		t.Fatal(err)
	}
	mapped := socket(sockdiag.Established, 40000, 2)
	mapped.Family = sockdiag.IPv6
	mapped.ID.Local = mapAddrPort(mapped.ID.Local)
	mapped.ID.Remote = mapAddrPort(mapped.ID.Remote)
	k := &sockdiagtest.Kernel{Sockets: []sockdiag.Socket{
		socket(sockdiag.Established, 40000, 1), // the session
		mapped,                                 // the session, seen on a dual-stack sshd
		socket(sockdiag.Established, 40001, 3), // another connection of the same client
	}}
	plan, err := kill.NewPlan(k.Conn().Query(&sockdiag.Filter{}), kill.Guards{Session: ss})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Targets) != 1 || plan.Targets[0].ID.Cookie != 3 {
		t.Errorf("targets %+v, want only cookie 3", plan.Targets)
	}
	if len(plan.Skipped) != 2 || plan.Skipped[0].Reason != kill.ReasonSession {
		t.Errorf("skipped %+v, want the session twice", plan.Skipped)
	}
	for _, bad := range []string{"", "192.0.2.2 40000 192.0.2.1", "a b c d", "192.0.2.2 99999 192.0.2.1 22"} {
		if _, err := kill.ParseSession(bad); err == nil {
			t.Errorf("ParseSession(%q): no error", bad)
		}
	}
	if ss, err := kill.ParseSession("2001:db8::9 50000 2001:db8::1 22"); err != nil || ss.Server.String() != "[2001:db8::1]:22" {
		t.Errorf("IPv6 session: %+v, %v", ss, err)
	}
}

func FuzzParseSession(f *testing.F) {
	for _, s := range []string{"192.0.2.2 40000 192.0.2.1 22", "2001:db8::9 50000 2001:db8::1 22", "a b c d", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		ss, err := kill.ParseSession(v)
		if err == nil && (!ss.Client.IsValid() || !ss.Server.IsValid()) {
			t.Fatalf("%q: invalid session %+v", v, ss)
		}
	})
}

// TestVerifyCatchesReuseportSurvivor: the kernel answers ENOENT because its
// lookup by tuple found a sibling, and the target is still there.
func TestVerifyCatchesReuseportSurvivor(t *testing.T) {
	target := listener(1)
	k := &sockdiagtest.Kernel{Sockets: []sockdiag.Socket{target}, DestroyErr: func(sockdiag.Socket) unix.Errno { return unix.ENOENT }}
	results := (&kill.Plan{Targets: []sockdiag.Socket{target}}).Execute(k.Conn())
	if results[0].Action != kill.Failed || !errors.Is(results[0].Err, kill.ErrUnreachable) {
		t.Fatalf("result %s %v, want failed: unreachable", results[0].Action, results[0].Err)
	}
}

// TestVerifyUDPDisconnected: udp_abort leaves an explicitly bound socket in
// the table, unconnected, with its cookie: the connection is destroyed.
func TestVerifyUDPDisconnected(t *testing.T) {
	s := socket(sockdiag.Established, 53, 1)
	s.Protocol = sockdiag.UDP
	left := s
	left.State = sockdiag.Close
	k := &sockdiagtest.Kernel{Sockets: []sockdiag.Socket{s}, Ineffective: true}
	k.DestroyErr = func(sockdiag.Socket) unix.Errno {
		k.Sockets[0] = left // called with the kernel's lock held
		return 0
	}
	results := (&kill.Plan{Targets: []sockdiag.Socket{s}}).Execute(k.Conn())
	if results[0].Action != kill.Killed {
		t.Fatalf("result %s %v, want killed", results[0].Action, results[0].Err)
	}
}

func TestUnconnectedUDPIsSkipped(t *testing.T) {
	s := socket(sockdiag.Close, 0, 1)
	s.Protocol = sockdiag.UDP
	k := &sockdiagtest.Kernel{Sockets: []sockdiag.Socket{s}}
	plan, err := kill.NewPlan(k.Conn().Query(&sockdiag.Filter{Protocols: []sockdiag.Protocol{sockdiag.UDP}, States: sockdiag.AllStates}), kill.Guards{ListenNamed: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Targets) != 0 || len(plan.Skipped) != 1 || plan.Skipped[0].Reason != kill.ReasonUnconnectedUDP {
		t.Fatalf("plan %+v", plan)
	}
}
