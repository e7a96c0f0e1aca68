package sockdiag_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mdlayher/netlink"
	"github.com/tcpreap/tcpreap/inet"
	"github.com/tcpreap/tcpreap/sockdiag"
	"github.com/tcpreap/tcpreap/sockdiag/sockdiagtest"
	"golang.org/x/sys/unix"
)

func TestDestroyRefusesMalformedAnswers(t *testing.T) {
	target := sockets(1, sockdiag.Established, 1)
	c := kernelSays(func(seq uint32) []netlink.Message {
		return []netlink.Message{{Header: netlink.Header{Type: sockDiagByFamily, Sequence: seq}, Data: make([]byte, 4)}}
	})
	if err := c.Destroy(t.Context(), target, nil)[0]; err == nil || !strings.Contains(err.Error(), "unexpected netlink message type") {
		t.Errorf("a non-ack answer: error %v", err)
	}
	c = kernelSays(func(uint32) []netlink.Message { return nil })
	if err := c.Destroy(t.Context(), target, nil)[0]; err == nil || !strings.Contains(err.Error(), "no answer from the kernel") {
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
	errs := k.Conn().Destroy(t.Context(), targets, nil)
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
	if err := k.Conn().Destroy(t.Context(), k.Sockets[:1], nil)[0]; err != nil {
		t.Fatal(err)
	}
	if len(k.Requests) != 1 || k.Requests[0].ID.Cookie != 77 {
		t.Fatalf("destroy requests %+v, want one with cookie 77", k.Requests)
	}
}

func TestDestroyRefusesNoCookie(t *testing.T) {
	s := sockets(1, sockdiag.Established, 1<<64-1)
	k := &sockdiagtest.Kernel{Sockets: s}
	if err := k.Conn().Destroy(t.Context(), s, nil)[0]; err == nil {
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
	for i, err := range c.Destroy(t.Context(), targets, nil) {
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

// TestDestroyNilMeansDestroyedAfterAFatalAnswer: a fatal answer (EPERM) in
// the parallel phase stops the run, and every target that was not sent must
// then carry "not attempted" and the cause, never nil, which means
// destroyed. Found in review: parallel() returns len(socks), so run() marks
// nothing, and the batches the workers skip keep a nil error.
func TestDestroyNilMeansDestroyedAfterAFatalAnswer(t *testing.T) {
	socks := sockets(2000, sockdiag.Established, 1)
	k := &sockdiagtest.Kernel{Sockets: slices.Clone(socks), DestroyErr: func(s sockdiag.Socket) unix.Errno {
		if s.ID.Cookie == 300 {
			return unix.EPERM
		}
		return 0
	}}
	c := k.Conn()
	defer c.Close()
	nilMeansDestroyed(t, k, socks, c.Destroy(t.Context(), socks, nil))
}

// nilMeansDestroyed asserts that no target with a nil error is still in the
// fake kernel: nil is the kernel's own answer to a destroy it was sent.
func nilMeansDestroyed(t *testing.T, k *sockdiagtest.Kernel, socks []sockdiag.Socket, errs []error) {
	t.Helper()
	left := map[sockdiag.Cookie]bool{}
	for _, s := range k.Sockets {
		left[s.ID.Cookie] = true
	}
	bad := 0
	for i, err := range errs {
		if err == nil && left[socks[i].ID.Cookie] {
			if bad == 0 {
				t.Errorf("target %d (cookie %d): nil error (destroyed) but the kernel never saw a destroy for it", i, socks[i].ID.Cookie)
			}
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%d targets reported destroyed that are still there", bad)
	}
}

// TestDestroyNilMeansDestroyedAfterCancel: the same when the context ends
// in the parallel phase.
func TestDestroyNilMeansDestroyedAfterCancel(t *testing.T) {
	socks := sockets(2000, sockdiag.Established, 1)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	k := &sockdiagtest.Kernel{Sockets: slices.Clone(socks), DestroyErr: func(s sockdiag.Socket) unix.Errno {
		if s.ID.Cookie == 300 {
			cancel()
		}
		return 0
	}}
	c := k.Conn()
	defer c.Close()
	nilMeansDestroyed(t, k, socks, c.Destroy(ctx, socks, nil))
}

// TestDestroyWithoutSockDestroySendsNothing: the probe shows there is no
// SOCK_DESTROY; no target is sent, each says why.
func TestDestroyWithoutSockDestroySendsNothing(t *testing.T) {
	socks := sockets(300, sockdiag.Established, 1)
	k := &sockdiagtest.Kernel{Sockets: slices.Clone(socks), NoDestroy: true}
	for i, err := range k.Conn().Destroy(t.Context(), socks, nil) {
		if !errors.Is(err, sockdiag.ErrNoDestroy) || !strings.Contains(err.Error(), "not attempted") {
			t.Fatalf("target %d: %v, want not attempted: no SOCK_DESTROY", i, err)
		}
	}
	if len(k.Requests) != 0 {
		t.Errorf("the kernel saw %d destroys", len(k.Requests))
	}
}

// TestDestroyAfterTheEnd: a destroy asked after its context ended (an
// interrupt before a later namespace's turn) sends nothing, and each target
// says it was not attempted because of the end, not because a probe failed.
func TestDestroyAfterTheEnd(t *testing.T) {
	socks := sockets(3, sockdiag.Established, 1)
	k := &sockdiagtest.Kernel{Sockets: slices.Clone(socks)}
	ctx, cancel := context.WithCancelCause(t.Context())
	interrupted := errors.New("interrupted (SIGINT)")
	cancel(interrupted)
	for i, err := range k.Conn().Destroy(ctx, socks, nil) {
		if !errors.Is(err, sockdiag.ErrNotAttempted) || !errors.Is(err, interrupted) || strings.Contains(err.Error(), "dump") {
			t.Errorf("target %d: %v, want not attempted: interrupted", i, err)
		}
	}
	if len(k.Requests) != 0 || len(k.Sockets) != 3 {
		t.Errorf("the kernel saw %d requests, %d sockets left of 3", len(k.Requests), len(k.Sockets))
	}
}

// TestDestroyStopsAtThePermission: without CAP_NET_ADMIN the first answer
// is EPERM and the rest are not sent.
func TestDestroyStopsAtThePermission(t *testing.T) {
	socks := sockets(300, sockdiag.Established, 1)
	k := &sockdiagtest.Kernel{Sockets: slices.Clone(socks), DestroyErr: func(sockdiag.Socket) unix.Errno { return unix.EPERM }}
	errs := k.Conn().Destroy(t.Context(), socks, nil)
	if len(k.Requests) != 1 {
		t.Errorf("the kernel saw %d destroys, want the first only", len(k.Requests))
	}
	if !errors.Is(errs[0], unix.EPERM) || !errors.Is(errs[0], sockdiag.ErrPermission) {
		t.Errorf("first target: %v, want EPERM meaning no permission", errs[0])
	}
	for i, err := range errs[1:] {
		if !errors.Is(err, sockdiag.ErrPermission) || !strings.Contains(err.Error(), "not attempted") {
			t.Fatalf("target %d: %v, want not attempted: no permission", i+1, err)
		}
	}
}

// TestDestroyRampsThroughGoneSockets: a long run of sockets that are already
// gone says nothing about the permission, and still costs a few round
// trips, not one per socket; the first real destroy then opens the gates.
func TestDestroyRampsThroughGoneSockets(t *testing.T) {
	live := sockets(300, sockdiag.Established, 5000)
	gone := sockets(700, sockdiag.CloseWait, 1)
	k := &sockdiagtest.Kernel{Sockets: slices.Clone(live)}
	targets := append(slices.Clone(gone), live...)
	errs := k.Conn().Destroy(t.Context(), targets, nil)
	for i, err := range errs {
		if i < len(gone) && !errors.Is(err, sockdiag.ErrGone) || i >= len(gone) && err != nil {
			t.Fatalf("target %d: %v", i, err)
		}
	}
	if len(k.Sockets) != 0 {
		t.Errorf("%d sockets left", len(k.Sockets))
	}
	if k.Sends > 20 {
		t.Errorf("%d round trips for %d targets, want a ramp, not one per socket", k.Sends, len(targets))
	}
}

// TestDestroyMeaningOfEOPNOTSUPP: tcp_abort learnt timewait sockets in 6.0;
// before, EOPNOTSUPP for one (TIME_WAIT, or FIN_WAIT2 with the timewait
// timer) means only that, and the other sockets are destroyed.
func TestDestroyMeaningOfEOPNOTSUPP(t *testing.T) {
	tw := sockets(1, sockdiag.FinWait2, 1)[0]
	tw.Timer = 3
	for _, tc := range []struct {
		release sockdiag.Release
		want    error
	}{{sockdiag.Release{Major: 5, Minor: 15}, sockdiag.ErrTimeWait}, {sockdiag.Release{Major: 6, Minor: 0}, sockdiag.ErrNoDestroy}} {
		other := sockets(1, sockdiag.Established, 2)[0]
		k := &sockdiagtest.Kernel{Sockets: []sockdiag.Socket{tw, other}, Release: tc.release, DestroyErr: func(s sockdiag.Socket) unix.Errno {
			if s.Timer == 3 {
				return unix.EOPNOTSUPP
			}
			return 0
		}}
		errs := k.Conn().Destroy(t.Context(), []sockdiag.Socket{tw, other}, nil)
		if !errors.Is(errs[0], tc.want) {
			t.Errorf("%v: timewait socket: %v, want %v", tc.release, errs[0], tc.want)
		}
		if tc.want == sockdiag.ErrTimeWait && errs[1] != nil {
			t.Errorf("%v: the other socket: %v, want destroyed", tc.release, errs[1])
		}
	}
}

func TestDestroyStopsWithTheContext(t *testing.T) {
	socks := sockets(10, sockdiag.Established, 1)
	k := &sockdiagtest.Kernel{Sockets: slices.Clone(socks)}
	c := k.Conn()
	c.Probe(t.Context())
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	for i, err := range c.Destroy(ctx, socks, nil) {
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("target %d: %v, want canceled", i, err)
		}
	}
	if len(k.Requests) != 0 || len(k.Sockets) != 10 {
		t.Errorf("a canceled run sent %d destroys; %d sockets left", len(k.Requests), len(k.Sockets))
	}
}

// TestDestroyWatchdog: a target whose lock is held holds its batch's sendmsg
// in the kernel; the watchdog gives that batch up, the other batches are
// destroyed, and the connection can still look the targets up. Of the
// batch, the targets before the held one were destroyed, the held one is
// named (ErrLockHeld), and the ones after it wait behind it (ErrQueued):
// all pending. Once the lock is released, the kernel destroys them.
func TestDestroyWatchdog(t *testing.T) {
	socks := sockets(1000, sockdiag.Established, 1)
	k := stuckKernel(t, socks, sockdiag.Release{})
	c := k.Conn()
	start := time.Now()
	errs := c.Destroy(t.Context(), socks, nil)
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Destroy took %v with a stuck target", d)
	}
	held, queued, done := 0, 0, 0
	for i, err := range errs {
		switch {
		case errors.Is(err, sockdiag.ErrLockHeld) && errors.Is(err, sockdiag.ErrPending):
			held++
			if socks[i].ID.Cookie != 700 {
				t.Errorf("target %d (cookie %d) named as the one whose lock is held", i, socks[i].ID.Cookie)
			}
		case errors.Is(err, sockdiag.ErrQueued) && errors.Is(err, sockdiag.ErrPending):
			queued++
			if socks[i].ID.Cookie <= 700 {
				t.Errorf("target %d (cookie %d), sent before the held one: queued", i, socks[i].ID.Cookie)
			}
		case err == nil:
			done++
		default:
			t.Errorf("unexpected: %v", err)
		}
	}
	if held != 1 || queued == 0 || queued >= sockdiag.BatchSize || done+held+queued != len(socks) {
		t.Errorf("%d held, %d queued behind it, %d destroyed, of %d", held, queued, done, len(socks))
	}
	seen := c.Lookup(t.Context(), socks[699:701])
	if seen[0].Err != nil || !seen[0].Present || seen[1].Err != nil || !seen[1].Present {
		t.Errorf("the held target and the next, looked up again: %+v", seen)
	}
}

// TestDestroyPendingAfterRelease: the destroys that waited behind a held
// lock are acted on once it is released, as the kernel does.
func TestDestroyPendingAfterRelease(t *testing.T) {
	t.Cleanup(sockdiag.SetStuckTimeout(100 * time.Millisecond))
	socks := sockets(300, sockdiag.Established, 1)
	k := &sockdiagtest.Kernel{Sockets: slices.Clone(socks), Unstick: make(chan struct{}),
		Stuck: func(s sockdiag.Socket) bool { return s.ID.Cookie == 100 }}
	c := k.Conn()
	pending := 0
	for _, err := range c.Destroy(t.Context(), socks, nil) {
		if errors.Is(err, sockdiag.ErrPending) {
			pending++
		}
	}
	if pending == 0 {
		t.Fatal("no destroy pending behind the held lock")
	}
	close(k.Unstick)
	deadline := time.Now().Add(5 * time.Second)
	for {
		left := 0
		for _, seen := range c.Lookup(t.Context(), socks) {
			if seen.Present {
				left++
			}
		}
		if left == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of the %d pending sockets still there after the lock was released", left, pending)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestDestroyScrambledAnswers: answers of every kind (destroyed, ENOENT,
// EBUSY, EPERM, and batches whose answers were lost), spread by a seeded
// random draw over many batches destroyed on several sockets at once (run it
// with -race): every target's result is exactly what the fake kernel did
// with its request, or that the request was not sent after the EPERM.
func TestDestroyScrambledAnswers(t *testing.T) {
	for seed := range uint64(6) {
		rng := rand.New(rand.NewPCG(seed, 7))
		socks := sockets(2500, sockdiag.Established, 1)
		kind := map[sockdiag.Cookie]int{}
		for _, s := range socks {
			kind[s.ID.Cookie] = rng.IntN(200)
		}
		// One EPERM, after the ramp: the run stops at its batch.
		eperm := socks[600+rng.IntN(1800)].ID.Cookie
		k := &sockdiagtest.Kernel{Sockets: slices.Clone(socks),
			DestroyErr: func(s sockdiag.Socket) unix.Errno {
				switch {
				case s.ID.Cookie == eperm:
					return unix.EPERM
				case kind[s.ID.Cookie] < 10:
					return unix.EBUSY
				}
				return 0
			},
			Lose: func(s sockdiag.Socket) bool { return kind[s.ID.Cookie] == 199 },
		}
		targets := slices.Clone(socks)
		for i := range targets {
			if k := kind[targets[i].ID.Cookie]; k >= 10 && k < 30 {
				targets[i].ID.Cookie += 1 << 32 // replaced since the dump: ENOENT
			}
		}
		c := k.Conn()
		errs := c.Destroy(t.Context(), targets, nil)
		c.Close()
		for i, err := range errs {
			cookie := targets[i].ID.Cookie
			answer, sent := k.Answered[cookie]
			var want error
			switch {
			case !sent:
				want = sockdiag.ErrNotAttempted
			case k.Lost[cookie]:
				want = sockdiag.ErrNoAnswer
			case answer == unix.EPERM:
				want = sockdiag.ErrPermission
			case answer == unix.ENOENT:
				want = sockdiag.ErrGone
			case answer != 0:
				want = answer
			}
			if want == nil && err != nil || want != nil && !errors.Is(err, want) {
				t.Fatalf("seed %d, target %d (cookie %d; the kernel was sent it: %v, answered %v, lost: %v): %v, want %v",
					seed, i, cookie, sent, answer, k.Lost[cookie], err, want)
			}
		}
		if len(k.Lost) == 0 || len(k.Answered) == len(targets) {
			t.Errorf("seed %d: %d answers lost, %d of %d sent: the draw tests nothing", seed, len(k.Lost), len(k.Answered), len(targets))
		}
	}
}

// TestDestroyWatchdogSerialized: before Linux 6.9 every sock_diag request
// waits behind the stuck one, so nothing more is sent after it.
func TestDestroyWatchdogSerialized(t *testing.T) {
	socks := sockets(2000, sockdiag.Established, 1)
	k := stuckKernel(t, socks, sockdiag.Release{Major: 6, Minor: 6})
	errs := k.Conn().Destroy(t.Context(), socks, nil)
	var stuck, done, unsent int
	for i, err := range errs {
		switch {
		case errors.Is(err, sockdiag.ErrNotAttempted) && errors.Is(err, sockdiag.ErrStuck):
			unsent++
			if _, sent := k.AnswerTo(socks[i].ID.Cookie); sent {
				t.Errorf("target %d: %v, but the kernel was sent it", i, err)
			}
		case errors.Is(err, sockdiag.ErrStuck) && errors.Is(err, sockdiag.ErrPending):
			stuck++
		case err == nil:
			done++
		default:
			t.Errorf("target %d: unexpected %v", i, err)
		}
	}
	if stuck == 0 || unsent == 0 || stuck+done+unsent != len(socks) {
		t.Errorf("%d stuck, %d destroyed, %d not sent, of %d", stuck, done, unsent, len(socks))
	}
}

// TestDestroyWorkersAfterAQuery: the dumps of a query open extra sockets;
// the destroys still use only as many as workers says: one before Linux
// 6.9, where a stuck batch then stops the rest (found in review: every
// socket the query had opened destroyed at once).
func TestDestroyWorkersAfterAQuery(t *testing.T) {
	socks := sockets(2000, sockdiag.Established, 1)
	k := stuckKernel(t, socks, sockdiag.Release{Major: 6, Minor: 6})
	c := k.Conn()
	for _, err := range c.Query(t.Context(), &sockdiag.Filter{Protocols: []inet.Protocol{inet.TCP, inet.UDP}}) {
		if err != nil {
			t.Fatal(err)
		}
	}
	unsent := 0
	for _, err := range c.Destroy(t.Context(), socks, nil) {
		if errors.Is(err, sockdiag.ErrNotAttempted) {
			unsent++
		}
	}
	if unsent == 0 {
		t.Errorf("after a query, a stuck batch on Linux 6.6 stopped nothing: the destroys went out on several sockets")
	}
}

// stuckKernel is a fake kernel of the given release holding socks, where the
// lock of the socket with cookie 700 is held (until the test ends), and the
// watchdog gives a batch 200 ms.
func stuckKernel(t *testing.T, socks []sockdiag.Socket, release sockdiag.Release) *sockdiagtest.Kernel {
	t.Cleanup(sockdiag.SetStuckTimeout(200 * time.Millisecond))
	k := &sockdiagtest.Kernel{Sockets: slices.Clone(socks), Unstick: make(chan struct{}), Release: release,
		Stuck: func(s sockdiag.Socket) bool { return s.ID.Cookie == 700 }}
	t.Cleanup(func() { close(k.Unstick) })
	return k
}
