package kill_test

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/tcpreap/tcpreap/inet"
	"github.com/tcpreap/tcpreap/kill"
	"github.com/tcpreap/tcpreap/sockdiag"
	"github.com/tcpreap/tcpreap/sockdiag/sockdiagtest"
)

func TestSessionGuard(t *testing.T) {
	ss := &inet.Session{Client: netip.MustParseAddrPort("192.0.2.2:40000"), Server: netip.MustParseAddrPort("192.0.2.1:5432")}
	mapped := socket(sockdiag.Established, 40000, 2)
	mapped.Family = inet.IPv6
	mapped.ID.Local = mapAddrPort(mapped.ID.Local)
	mapped.ID.Remote = mapAddrPort(mapped.ID.Remote)
	k := &sockdiagtest.Kernel{Sockets: []sockdiag.Socket{
		socket(sockdiag.Established, 40000, 1), // the session
		mapped,                                 // the session, seen on a dual-stack sshd
		socket(sockdiag.Established, 40001, 3), // another connection of the same client
	}}
	plan, err := kill.NewPlan(k.Conn().Query(t.Context(), &sockdiag.Filter{}), kill.Guards{Session: ss})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Targets) != 1 || plan.Targets[0].ID.Cookie != 3 {
		t.Errorf("targets %+v, want only cookie 3", plan.Targets)
	}
	if len(plan.Skipped) != 2 || plan.Skipped[0].Reason != kill.ReasonSession {
		t.Errorf("skipped %+v, want the session twice", plan.Skipped)
	}
}

func TestUnconnectedUDPIsSkipped(t *testing.T) {
	s := socket(sockdiag.Close, 0, 1)
	s.Protocol = inet.UDP
	k := &sockdiagtest.Kernel{Sockets: []sockdiag.Socket{s}}
	plan, err := kill.NewPlan(k.Conn().Query(t.Context(), &sockdiag.Filter{Protocols: []inet.Protocol{inet.UDP}, States: sockdiag.AllStates}), kill.Guards{ListenNamed: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Targets) != 0 || len(plan.Skipped) != 1 || plan.Skipped[0].Reason != kill.ReasonUnconnectedUDP {
		t.Fatalf("plan %+v", plan)
	}
}

func TestReasonCodes(t *testing.T) {
	for _, r := range []kill.Reason{kill.ReasonListen, kill.ReasonSession, kill.ReasonUnconnectedUDP, kill.ReasonTimeWait, kill.ReasonSSHServer, kill.ReasonChanged, kill.ReasonSSHUnsure, kill.ReasonSSHHidden, kill.ReasonMPTCPSubflow} {
		got, ok := kill.ReasonByCode(r.Code())
		if !ok || got != r || r.Code() == "" || r.String() == "" {
			t.Errorf("reason %d: code %q reads back as %v, %v; sentence %q", r, r.Code(), got, ok, r)
		}
		if strings.Contains(r.String(), "--") {
			t.Errorf("reason %q names a command-line option: that is the command line's to say", r)
		}
	}
	if _, ok := kill.ReasonByCode("bogus"); ok {
		t.Error(`ReasonByCode("bogus") found a reason`)
	}
}

// TestSessionHeldSockets: the sockets SSH server processes hold are kept
// back, as the session's when the servers are tcpreap's ancestors, else as
// any SSH server's; a LISTEN socket is no session's.
func TestSessionHeldSockets(t *testing.T) {
	held := socket(sockdiag.Established, 40000, 1)
	held.Inode = 500
	other := socket(sockdiag.Established, 40001, 2)
	other.Inode = 501
	lis := listener(3)
	lis.Inode = 400
	orphan := socket(sockdiag.FinWait1, 40002, 4) // no owner: inode 0
	for _, everyone := range []bool{false, true} {
		ss := &inet.Session{Held: map[uint32]bool{500: true, 400: true, 0: true}, Everyone: everyone}
		k := &sockdiagtest.Kernel{Sockets: []sockdiag.Socket{held, other, lis, orphan}}
		plan, err := kill.NewPlan(k.Conn().Query(t.Context(), &sockdiag.Filter{States: sockdiag.AllStates}), kill.Guards{ListenNamed: true, Session: ss})
		if err != nil {
			t.Fatal(err)
		}
		want := kill.ReasonSession
		if everyone {
			want = kill.ReasonSSHServer
		}
		if len(plan.Skipped) != 1 || plan.Skipped[0].Socket.ID.Cookie != 1 || plan.Skipped[0].Reason != want {
			t.Errorf("everyone %v: skipped %+v, want the held connection for %v", everyone, plan.Skipped, want)
		}
		if len(plan.Targets) != 3 {
			t.Errorf("everyone %v: %d targets, want the other connection, the listener and the orphan", everyone, len(plan.Targets))
		}
	}
}

// TestSessionZone: a link-local session is kept on its own link only; the
// same tuple on another link is another connection.
func TestSessionZone(t *testing.T) {
	ll := func(ifindex uint32, cookie sockdiag.Cookie) sockdiag.Socket {
		s := socket(sockdiag.Established, 46068, cookie)
		s.Family = inet.IPv6
		s.ID.Local = netip.MustParseAddrPort("[fe80::1]:22")
		s.ID.Remote = netip.MustParseAddrPort("[fe80::2]:46068")
		s.ID.Interface = ifindex
		return s
	}
	ss := &inet.Session{Client: netip.MustParseAddrPort("[fe80::2]:46068"), Server: netip.MustParseAddrPort("[fe80::1]:22"), Interface: 2}
	k := &sockdiagtest.Kernel{Sockets: []sockdiag.Socket{ll(2, 1), ll(3, 2)}}
	plan, err := kill.NewPlan(k.Conn().Query(t.Context(), &sockdiag.Filter{}), kill.Guards{Session: ss})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Skipped) != 1 || plan.Skipped[0].Socket.ID.Cookie != 1 || len(plan.Targets) != 1 || plan.Targets[0].ID.Cookie != 2 {
		t.Errorf("skipped %+v, targets %+v; want the session on link 2 kept, the same tuple on link 3 a target", plan.Skipped, plan.Targets)
	}
}

// TestHiddenAncestryKeepsTheSSHPort: where tcpreap's ancestry ends out of
// sight (a PID namespace of its own), every TCP connection on the SSH port
// is kept, and nothing else; a listener stays the listen guard's.
func TestHiddenAncestryKeepsTheSSHPort(t *testing.T) {
	ss := &inet.Session{Hidden: true, SSHPort: 22}
	cookie := sockdiag.Cookie(0)
	mk := func(state sockdiag.State, proto inet.Protocol, local string) sockdiag.Socket {
		cookie++
		remote := "192.0.2.2:50000"
		if state == sockdiag.Listen {
			remote = "0.0.0.0:0"
		}
		return sockdiag.Socket{Protocol: proto, Family: inet.IPv4, State: state, Inode: 7, ID: sockdiag.SockID{
			Local: netip.MustParseAddrPort(local), Remote: netip.MustParseAddrPort(remote), Cookie: cookie}}
	}
	k := &sockdiagtest.Kernel{Sockets: []sockdiag.Socket{
		mk(sockdiag.Established, inet.TCP, "192.0.2.1:22"),
		mk(sockdiag.Established, inet.TCP, "192.0.2.1:5432"),
		mk(sockdiag.Established, inet.UDP, "192.0.2.1:22"),
		mk(sockdiag.Listen, inet.TCP, "0.0.0.0:22"),
	}}
	plan, err := kill.NewPlan(k.Conn().Query(t.Context(), &sockdiag.Filter{Protocols: []inet.Protocol{inet.TCP, inet.UDP}, States: sockdiag.AllStates}), kill.Guards{Session: ss})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Skipped) != 2 || plan.Skipped[0].Reason != kill.ReasonSSHHidden || plan.Skipped[1].Reason != kill.ReasonListen || len(plan.Targets) != 2 {
		t.Errorf("plan %+v", plan)
	}
}
