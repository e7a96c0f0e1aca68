package kill_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/tcpreap/tcpreap/inet"
	"github.com/tcpreap/tcpreap/kill"
	"github.com/tcpreap/tcpreap/sockdiag"
	"github.com/tcpreap/tcpreap/sockdiag/sockdiagtest"
	"golang.org/x/sys/unix"
)

// TestExecuteRecordsTheEngine: every result the kernel answered names the
// diag engine; a guard's skip names none.
func TestExecuteRecordsTheEngine(t *testing.T) {
	socks := []sockdiag.Socket{socket(sockdiag.Established, 40000, 1), socket(sockdiag.CloseWait, 40001, 2)}
	k := &sockdiagtest.Kernel{Sockets: slices.Clone(socks[:1])}
	plan := &kill.Plan{Targets: socks, Skipped: []kill.Skip{{Socket: listener(9), Reason: kill.ReasonListen}}}
	results := plan.Execute(t.Context(), k.Conn())
	for i, want := range []string{"diag", "diag", ""} {
		if results[i].Engine != want {
			t.Errorf("result %d (%s): engine %q, want %q", i, results[i].Action, results[i].Engine, want)
		}
	}
}

// TestExecuteFallsBack: the targets the first engine refuses (a kernel
// without SOCK_DESTROY for them, an MPTCP listener) go to the next engine,
// whose answer and name their results take; its own failures stay its; a
// target the next engine refuses too keeps the first engine's answer.
func TestExecuteFallsBack(t *testing.T) {
	socks := []sockdiag.Socket{
		socket(sockdiag.Established, 40000, 1), // diag destroys it
		socket(sockdiag.Established, 40001, 2), // diag refuses, next destroys it
		socket(sockdiag.Established, 40002, 3), // diag refuses, next fails
		socket(sockdiag.Established, 40003, 4), // both refuse
	}
	k := &sockdiagtest.Kernel{Sockets: slices.Clone(socks), DestroyErr: func(s sockdiag.Socket) unix.Errno {
		if s.ID.Cookie == 1 {
			return 0
		}
		return unix.EOPNOTSUPP
	}}
	conn := k.Conn()
	next := &answering{Conn: conn, kernel: k, answers: map[sockdiag.Cookie]error{
		3: unix.EBUSY,
		4: sockdiag.ErrNoDestroy,
	}}
	results := (&kill.Plan{Targets: socks}).ExecuteWith(t.Context(), conn, kill.Options{Fallback: []kill.Engine{next}})
	for i, want := range []struct {
		action inet.Action
		engine string
		err    error
	}{
		{inet.Killed, "diag", nil},
		{inet.Killed, "next", nil},
		{inet.Failed, "next", unix.EBUSY},
		{inet.Failed, "diag", sockdiag.ErrNoDestroy},
	} {
		r := results[i]
		if r.Action != want.action || r.Engine != want.engine || (want.err == nil) != (r.Err == nil) || want.err != nil && !errors.Is(r.Err, want.err) {
			t.Errorf("target %d: %s by %q (%v); want %s by %q (%v)", i, r.Action, r.Engine, r.Err, want.action, want.engine, want.err)
		}
	}
	if !slices.Equal(next.sent, []sockdiag.Cookie{2, 3, 4}) {
		t.Errorf("the next engine was sent %v, want the refused targets 2, 3, 4", next.sent)
	}
}

// answering is an engine named "next" that answers by cookie (nil: it
// destroys the socket in kernel) and looks up through Conn.
type answering struct {
	*sockdiag.Conn
	kernel  *sockdiagtest.Kernel
	answers map[sockdiag.Cookie]error
	sent    []sockdiag.Cookie
}

func (*answering) Name() string { return "next" }

func (e *answering) Destroy(_ context.Context, targets []sockdiag.Socket, _ func(int)) []error {
	errs := make([]error, len(targets))
	for i, s := range targets {
		e.sent = append(e.sent, s.ID.Cookie)
		errs[i] = e.answers[s.ID.Cookie]
		if errs[i] == nil {
			e.kernel.Sockets = slices.DeleteFunc(e.kernel.Sockets, func(k sockdiag.Socket) bool { return k.ID.Cookie == s.ID.Cookie })
		}
	}
	return errs
}
