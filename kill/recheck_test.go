package kill_test

import (
	"testing"

	"github.com/tcpreap/tcpreap/inet"
	"github.com/tcpreap/tcpreap/kill"
	"github.com/tcpreap/tcpreap/sockdiag"
	"github.com/tcpreap/tcpreap/sockdiag/sockdiagtest"
)

// TestRecheck: planned sockets that became another kind of socket with the
// same cookie are kept back as they are now; the others are targets as they
// are now; one that is gone stays planned, for its destroy to tell, and a
// dry run of the rechecked plan reports it gone.
func TestRecheck(t *testing.T) {
	est := socket(sockdiag.Established, 40000, 1)
	closeWait := est
	closeWait.State = sockdiag.CloseWait
	toListen := socket(sockdiag.Established, 40001, 2)
	listening := toListen
	listening.State = sockdiag.Listen
	toTW := socket(sockdiag.Established, 40002, 3)
	tw := toTW
	tw.State = sockdiag.TimeWait
	toUnconn := socket(sockdiag.Established, 40003, 4)
	toUnconn.Protocol = inet.UDP
	unconn := toUnconn
	unconn.State = sockdiag.Close
	gone := socket(sockdiag.Established, 40004, 5)
	session := socket(sockdiag.Established, 40005, 6)

	k := &sockdiagtest.Kernel{Sockets: []sockdiag.Socket{closeWait, listening, tw, unconn, session}}
	planned := &kill.Plan{
		Targets: []sockdiag.Socket{est, toListen, toTW, toUnconn, gone, session},
		Skipped: []kill.Skip{{Socket: listener(9), Reason: kill.ReasonListen}},
	}
	ss := &inet.Session{Client: session.ID.Remote, Server: session.ID.Local}
	plan := planned.Recheck(t.Context(), k.Conn(), kill.Guards{ListenNamed: true, Session: ss})

	if len(plan.Targets) != 2 || plan.Targets[0] != closeWait || plan.Targets[1] != gone {
		t.Errorf("targets %+v, want the connection as it is now (close_wait) and the gone one as planned", plan.Targets)
	}
	want := map[sockdiag.Cookie]struct {
		state  sockdiag.State
		reason kill.Reason
	}{
		9: {sockdiag.Listen, kill.ReasonListen}, 2: {sockdiag.Listen, kill.ReasonChanged}, 3: {sockdiag.TimeWait, kill.ReasonChanged},
		4: {sockdiag.Close, kill.ReasonChanged}, 6: {sockdiag.Established, kill.ReasonSession},
	}
	if len(plan.Skipped) != len(want) {
		t.Errorf("skipped %+v", plan.Skipped)
	}
	for _, s := range plan.Skipped {
		w, ok := want[s.Socket.ID.Cookie]
		if !ok || s.Socket.State != w.state || s.Reason != w.reason {
			t.Errorf("skipped cookie %d: %v %v, want %v %v", s.Socket.ID.Cookie, s.Socket.State, s.Reason, w.state, w.reason)
		}
	}
	if len(plan.Absent) != 1 || !plan.Absent[gone.ID.Cookie] {
		t.Errorf("absent %v, want cookie %d alone", plan.Absent, gone.ID.Cookie)
	}
	results := plan.DryRun()
	if results[0].Action != inet.WouldKill || results[1].Action != inet.Gone || results[1].Socket.ID.Cookie != gone.ID.Cookie {
		t.Errorf("dry run of the rechecked plan: %v %v", results[0].Action, results[1].Action)
	}
	if s := inet.Summarize(results); s.WouldKill != 1 || s.Gone != 1 || s.Skipped != 5 {
		t.Errorf("dry run summary %+v", s)
	}
	if bd := plan.Breakdown(); len(bd.States) != 1 || bd.States[0].N != 1 || bd.States[0].State != sockdiag.CloseWait {
		t.Errorf("the confirmation counts %+v, want the close_wait target alone (not the one gone)", bd.States)
	}
}
