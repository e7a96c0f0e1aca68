package kill_test

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"testing"

	"github.com/tcpreap/tcpreap/inet"
	"github.com/tcpreap/tcpreap/kill"
	"github.com/tcpreap/tcpreap/sockdiag"
	"github.com/tcpreap/tcpreap/sockdiag/sockdiagtest"
	"golang.org/x/sys/unix"
)

func TestExecuteClassifiesEveryAnswer(t *testing.T) {
	socks := []sockdiag.Socket{
		socket(sockdiag.Established, 40000, 1), // destroyed
		socket(sockdiag.CloseWait, 40001, 2),   // gone before the destroy
		socket(sockdiag.TimeWait, 40002, 3),    // kernel before 6.0
		socket(sockdiag.FinWait2, 40003, 4),    // no CONFIG_INET_DIAG_DESTROY
		socket(sockdiag.LastAck, 40004, 5),     // no permission
		socket(sockdiag.Closing, 40005, 6),     // something else
	}
	k := &sockdiagtest.Kernel{Sockets: slices.Clone(socks), Release: before6, DestroyErr: func(s sockdiag.Socket) unix.Errno {
		return map[sockdiag.Cookie]unix.Errno{3: unix.EOPNOTSUPP, 4: unix.EOPNOTSUPP, 5: unix.EPERM, 6: unix.EBUSY}[s.ID.Cookie]
	}}
	k.Sockets = slices.Delete(k.Sockets, 1, 2)
	plan := &kill.Plan{Targets: socks, Skipped: []kill.Skip{{Socket: listener(9), Reason: kill.ReasonListen}}}
	results := plan.Execute(t.Context(), k.Conn())

	want := []struct {
		action inet.Action
		err    error
		reason kill.Reason
	}{
		{action: inet.Killed},
		{action: inet.Gone},
		{action: inet.Skipped, reason: kill.ReasonTimeWait},
		{action: inet.Failed, err: sockdiag.ErrNoDestroy},
		{action: inet.Failed, err: sockdiag.ErrPermission},
		{action: inet.Failed, err: unix.EBUSY},
		{action: inet.Skipped, reason: kill.ReasonListen},
	}
	if len(results) != len(want) {
		t.Fatalf("%d results, want %d", len(results), len(want))
	}
	for i, w := range want {
		r := results[i]
		if r.Action != w.action || r.Reason != w.reason || (w.err == nil) != (r.Err == nil) || w.err != nil && !errors.Is(r.Err, w.err) {
			t.Errorf("result %d (%s): %s %v %v; want %s %v %v", i, r.Socket.State, r.Action, r.Reason, r.Err, w.action, w.reason, w.err)
		}
	}
	sum := inet.Summarize(results)
	if sum != (inet.Summary{Matched: 7, Killed: 1, Gone: 1, Failed: 3, Skipped: 2}) {
		t.Errorf("summary %+v", sum)
	}
	if slices.ContainsFunc(k.Sockets, func(s sockdiag.Socket) bool { return s.ID.Cookie == 1 }) {
		t.Error("the killed socket is still in the kernel")
	}
}

// TestTimeWaitOnNewKernel: from 6.0 on, EOPNOTSUPP for a timewait socket
// (TIME_WAIT, or FIN_WAIT2 with the timewait timer) means no SOCK_DESTROY.
func TestTimeWaitOnNewKernel(t *testing.T) {
	tw := socket(sockdiag.FinWait2, 40000, 1)
	tw.Timer = 3
	k := &sockdiagtest.Kernel{Sockets: []sockdiag.Socket{tw}, DestroyErr: func(sockdiag.Socket) unix.Errno { return unix.EOPNOTSUPP }}
	results := (&kill.Plan{Targets: k.Sockets}).Execute(t.Context(), k.Conn())
	if results[0].Action != inet.Failed || !errors.Is(results[0].Err, sockdiag.ErrNoDestroy) {
		t.Fatalf("result %s %v, want failed: no SOCK_DESTROY", results[0].Action, results[0].Err)
	}
}

// TestTimeWaitSubstateOnOldKernel: a FIN_WAIT2 timewait socket before 6.0
// is skipped like TIME_WAIT, and does not stop the run.
func TestTimeWaitSubstateOnOldKernel(t *testing.T) {
	tw := socket(sockdiag.FinWait2, 40000, 1)
	tw.Timer = 3
	socks := []sockdiag.Socket{tw, socket(sockdiag.Established, 40001, 2)}
	k := &sockdiagtest.Kernel{Sockets: slices.Clone(socks), Release: before6, DestroyErr: func(s sockdiag.Socket) unix.Errno {
		if s.Timer == 3 {
			return unix.EOPNOTSUPP
		}
		return 0
	}}
	results := (&kill.Plan{Targets: socks}).Execute(t.Context(), k.Conn())
	if results[0].Action != inet.Skipped || results[0].Reason != kill.ReasonTimeWait || results[1].Action != inet.Killed {
		t.Fatalf("results %+v", results)
	}
}

// TestPreflightStopsAtTheFirstRefusal: without CAP_NET_ADMIN the first
// answer is EPERM, and without SOCK_DESTROY the probe says so: either way
// the rest are not sent, and every target fails with the cause.
func TestPreflightStopsAtTheFirstRefusal(t *testing.T) {
	var socks []sockdiag.Socket
	for i := range 300 {
		socks = append(socks, socket(sockdiag.Established, uint16(40000+i), sockdiag.Cookie(i+1)))
	}
	for _, tc := range []struct {
		kernel *sockdiagtest.Kernel
		sent   int
		cause  error
	}{
		{&sockdiagtest.Kernel{DestroyErr: func(sockdiag.Socket) unix.Errno { return unix.EPERM }}, 1, sockdiag.ErrPermission},
		{&sockdiagtest.Kernel{NoDestroy: true}, 0, sockdiag.ErrNoDestroy},
	} {
		k := tc.kernel
		k.Sockets = slices.Clone(socks)
		results := (&kill.Plan{Targets: socks}).Execute(t.Context(), k.Conn())
		destroys := slices.DeleteFunc(slices.Clone(k.Requests), func(r sockdiag.Request) bool { return r.States != 0 })
		if len(destroys) != tc.sent {
			t.Errorf("%v: the kernel saw %d destroys, want %d", tc.cause, len(destroys), tc.sent)
		}
		for _, r := range results {
			if r.Action != inet.Failed || !errors.Is(r.Err, tc.cause) {
				t.Fatalf("%v: result %s %v, want failed: %v", tc.cause, r.Action, r.Err, tc.cause)
			}
		}
		if len(k.Sockets) != 300 {
			t.Errorf("%v: %d sockets left of 300", tc.cause, len(k.Sockets))
		}
	}
}

// TestPreflightPassesAmbiguousAnswers: a socket that is gone or a TIME_WAIT
// socket on an old kernel says nothing about the rest, so tcpreap goes on
// in small batches until a destroy succeeds, then in full ones.
func TestPreflightPassesAmbiguousAnswers(t *testing.T) {
	socks := []sockdiag.Socket{
		socket(sockdiag.CloseWait, 40000, 1), // gone
		socket(sockdiag.TimeWait, 40001, 2),  // EOPNOTSUPP before 6.0
		socket(sockdiag.Established, 40002, 3),
		socket(sockdiag.Established, 40003, 4),
		socket(sockdiag.Established, 40004, 5),
	}
	k := &sockdiagtest.Kernel{Sockets: slices.Clone(socks[1:]), Release: before6, DestroyErr: func(s sockdiag.Socket) unix.Errno {
		if s.State == sockdiag.TimeWait {
			return unix.EOPNOTSUPP
		}
		return 0
	}}
	results := (&kill.Plan{Targets: socks}).Execute(t.Context(), k.Conn())
	got := []inet.Action{}
	for _, r := range results {
		got = append(got, r.Action)
	}
	want := []inet.Action{inet.Gone, inet.Skipped, inet.Killed, inet.Killed, inet.Killed}
	if !slices.Equal(got, want) {
		t.Fatalf("actions %v, want %v", got, want)
	}
}

// before6 is a kernel that cannot destroy timewait sockets.
var before6 = sockdiag.Release{Major: 5, Minor: 15}

// TestExecuteAfterAFatalAnswerMidRun: when the kernel refuses with EPERM
// after the run is under way, the targets not sent are failed "not
// attempted" with the permission cause, said once; none is blamed on an
// ineffective destroy (ErrStillPresent) that was never sent. Found in
// review: the engine leaves them with a nil error, so they are classified
// killed and verification turns them into "still present after destroy".
func TestExecuteAfterAFatalAnswerMidRun(t *testing.T) {
	var socks []sockdiag.Socket
	for i := range 2000 {
		socks = append(socks, socket(sockdiag.Established, uint16(20000+i), sockdiag.Cookie(1+i)))
	}
	k := &sockdiagtest.Kernel{Sockets: slices.Clone(socks), DestroyErr: func(s sockdiag.Socket) unix.Errno {
		if s.ID.Cookie == 300 {
			return unix.EPERM
		}
		return 0
	}}
	results := (&kill.Plan{Targets: socks}).Execute(t.Context(), k.Conn())
	still := 0
	for _, r := range results {
		if r.Action == inet.Failed && errors.Is(r.Err, sockdiag.ErrStillPresent) {
			still++
		}
	}
	if still > 0 {
		t.Errorf("%d targets that were never sent are failed as %q", still, sockdiag.ErrStillPresent.Explain())
	}
}

// group is n listeners of one SO_REUSEPORT group on 192.0.2.1:5432, with
// cookies from 1.
func group(n int) []sockdiag.Socket {
	var g []sockdiag.Socket
	for i := range n {
		g = append(g, listener(sockdiag.Cookie(i+1)))
	}
	return g
}

// destroys counts the destroy requests the kernel saw.
func destroys(k *sockdiagtest.Kernel) int {
	n := 0
	for _, r := range k.Requests {
		if r.States == 0 {
			n++
		}
	}
	return n
}

// TestExecuteRetriesAShrinkingReuseportGroup: the kernel's lookup by tuple
// lands on one member of the group, so of every round's destroys only the
// one for that member succeeds (or, when it was sent first, the ones after
// it too). Retried while the group shrinks, every member is destroyed,
// whichever member the kernel picks.
func TestExecuteRetriesAShrinkingReuseportGroup(t *testing.T) {
	for name, pick := range map[string]func(int) int{
		"last":   func(n int) int { return n - 1 },
		"first":  func(int) int { return 0 },
		"middle": func(n int) int { return n / 2 },
		"hash":   func(n int) int { return int(uint64(0x9e3779b9) * uint64(n) >> 32) },
	} {
		targets := group(4)
		k := &sockdiagtest.Kernel{Sockets: slices.Clone(targets), Reuseport: pick}
		results := (&kill.Plan{Targets: targets}).Execute(t.Context(), k.Conn())
		for _, r := range results {
			if r.Action != inet.Killed {
				t.Errorf("%s: cookie %d %s %v, want killed", name, r.Socket.ID.Cookie, r.Action, r.Err)
			}
		}
		if len(k.Sockets) != 0 {
			t.Errorf("%s: %d listeners left", name, len(k.Sockets))
		}
		if name == "last" && destroys(k) != 4+3+2+1 {
			t.Errorf("%s: %d destroys, want 10: one round per member", name, destroys(k))
		}
	}
}

// TestExecuteRetriesUntilNoProgress: when the kernel's pick is a member
// that is no target (here one a guard kept back), no retry can reach the
// others; one round that destroys nothing ends the retries, and they fail
// as unreachable.
func TestExecuteRetriesUntilNoProgress(t *testing.T) {
	g := group(4) // the kernel picks the last member still there
	kept := g[2]
	targets := []sockdiag.Socket{g[0], g[1], g[3]}
	k := &sockdiagtest.Kernel{Sockets: slices.Clone(g), Reuseport: func(n int) int { return n - 1 }}
	plan := &kill.Plan{Targets: targets, Skipped: []kill.Skip{{Socket: kept, Reason: kill.ReasonListen}}}
	results := plan.Execute(t.Context(), k.Conn())

	// Round 1 destroys member 4; then member 3, kept back, is the pick:
	// round 2 destroys nothing and is the last.
	want := []inet.Action{inet.Failed, inet.Failed, inet.Killed, inet.Skipped}
	for i, r := range results {
		if r.Action != want[i] || r.Action == inet.Failed && !errors.Is(r.Err, sockdiag.ErrUnreachable) {
			t.Errorf("cookie %d: %s %v, want %s", r.Socket.ID.Cookie, r.Action, r.Err, want[i])
		}
	}
	if got := destroys(k); got != 3+2 {
		t.Errorf("%d destroys, want 5: a first round and one retry", got)
	}
	if len(k.Sockets) != 3 {
		t.Errorf("%d listeners left, want the two unreachable and the one kept back", len(k.Sockets))
	}
}

// TestUDPGoneIsDoubted: the kernel finds a UDP socket to destroy by its
// tuple first, and of two connected twins on one four-tuple it may find the
// other and answer ENOENT for the one planned, which lives on: a second look
// tells, and it is failed, never reported gone.
func TestUDPGoneIsDoubted(t *testing.T) {
	twin := sockdiag.Socket{Protocol: inet.UDP, Family: inet.IPv4, State: sockdiag.Established, Inode: 9, ID: sockdiag.SockID{
		Local: netip.MustParseAddrPort("192.0.2.1:5353"), Remote: netip.MustParseAddrPort("192.0.2.2:5353"), Cookie: 42}}
	k := &sockdiagtest.Kernel{Sockets: []sockdiag.Socket{twin}, DestroyErr: func(sockdiag.Socket) unix.Errno { return unix.ENOENT }}
	plan := &kill.Plan{Targets: []sockdiag.Socket{twin}}
	results := plan.Execute(t.Context(), k.Conn())
	if results[0].Action != inet.Failed || !errors.Is(results[0].Err, sockdiag.ErrUnreachable) {
		t.Errorf("a UDP twin answered ENOENT and still there: %v %v, want failed, unreachable", results[0].Action, results[0].Err)
	}
}

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

// TestExecuteClosesSubflowsAtMPTCP: the plan's subflows go to the MPTCP engine alone,
// never to the first engine nor its fallbacks, and their results take its name and sit at
// their places among the targets; without an MPTCP engine they are kept back.
func TestExecuteClosesSubflowsAtMPTCP(t *testing.T) {
	socks := []sockdiag.Socket{
		socket(sockdiag.Established, 40000, 1), // a TCP connection: diag
		socket(sockdiag.Established, 40001, 2), // a subflow
		socket(sockdiag.CloseWait, 40002, 3),   // a TCP connection: diag
	}
	k := &sockdiagtest.Kernel{Sockets: slices.Clone(socks)}
	conn := k.Conn()
	mptcp := &answering{Conn: conn, kernel: k, answers: map[sockdiag.Cookie]error{}}
	fallback := &answering{Conn: conn, kernel: k}
	plan := &kill.Plan{Targets: socks, Subflows: map[sockdiag.Cookie]uint32{2: 0xa1}}
	results := plan.ExecuteWith(t.Context(), conn, kill.Options{MPTCP: mptcp, Fallback: []kill.Engine{fallback}})
	for i, want := range []string{"diag", "next", "diag"} {
		if r := results[i]; r.Action != inet.Killed || r.Engine != want || r.Socket != &plan.Targets[i] {
			t.Errorf("target %d: %s by %q (%v); want killed by %q, the plan's socket", i, r.Action, r.Engine, r.Err, want)
		}
	}
	if !slices.Equal(mptcp.sent, []sockdiag.Cookie{2}) || len(fallback.sent) != 0 {
		t.Errorf("the MPTCP engine was sent %v, the fallback %v; want 2, and nothing", mptcp.sent, fallback.sent)
	}

	k = &sockdiagtest.Kernel{Sockets: slices.Clone(socks)}
	results = plan.Execute(t.Context(), k.Conn())
	if r := results[1]; r.Action != inet.Skipped || r.Reason != kill.ReasonMPTCPSubflow || len(k.Sockets) != 1 || k.Sockets[0].ID.Cookie != 2 {
		t.Errorf("without an MPTCP engine: the subflow %s (%v), kernel keeps %v; want skipped, and the subflow alone left", r.Action, r.Reason, k.Sockets)
	}
}
