package kill_test

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/tcpreap/tcpreap/kill"
	"github.com/tcpreap/tcpreap/sockdiag"
	"github.com/tcpreap/tcpreap/sockdiag/sockdiagtest"
)

func TestSessionGuard(t *testing.T) {
	ss := &kill.Session{Client: netip.MustParseAddrPort("192.0.2.2:40000"), Server: netip.MustParseAddrPort("192.0.2.1:5432")}
	mapped := socket(sockdiag.Established, 40000, 2)
	mapped.Family = sockdiag.IPv6
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
	s.Protocol = sockdiag.UDP
	k := &sockdiagtest.Kernel{Sockets: []sockdiag.Socket{s}}
	plan, err := kill.NewPlan(k.Conn().Query(t.Context(), &sockdiag.Filter{Protocols: []sockdiag.Protocol{sockdiag.UDP}, States: sockdiag.AllStates}), kill.Guards{ListenNamed: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Targets) != 0 || len(plan.Skipped) != 1 || plan.Skipped[0].Reason != kill.ReasonUnconnectedUDP {
		t.Fatalf("plan %+v", plan)
	}
}

func TestReasonCodes(t *testing.T) {
	for _, r := range []kill.Reason{kill.ReasonListen, kill.ReasonSession, kill.ReasonUnconnectedUDP, kill.ReasonTimeWait} {
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
