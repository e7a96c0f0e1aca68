package kill_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tcpreap/tcpreap/inet"
	"github.com/tcpreap/tcpreap/kill"
	"github.com/tcpreap/tcpreap/sockdiag"
	"github.com/tcpreap/tcpreap/sockdiag/sockdiagtest"
	"golang.org/x/sys/unix"
)

// TestVerifyCatchesIneffectiveDestroy is a kernel before 6.11 and an
// orphaned socket: the destroy answers 0 and the socket stays.
func TestVerifyCatchesIneffectiveDestroy(t *testing.T) {
	socks := []sockdiag.Socket{socket(sockdiag.FinWait1, 40000, 1), socket(sockdiag.Established, 40001, 2)}
	// A kernel before 6.11, whose orphan fix no probe can find here.
	k := &sockdiagtest.Kernel{Sockets: slices.Clone(socks), Ineffective: true, Release: sockdiag.Release{Major: 6, Minor: 6}}
	results := (&kill.Plan{Targets: socks}).Execute(t.Context(), k.Conn())
	for _, r := range results {
		if r.Action != inet.Failed || !errors.Is(r.Err, sockdiag.ErrStillPresent) {
			t.Errorf("cookie %d: %s %v, want failed: still present after destroy", r.Socket.ID.Cookie, r.Action, r.Err)
		}
	}
	if sum := inet.Summarize(results); sum.Killed != 0 || sum.Failed != 2 {
		t.Errorf("summary %+v counts what verification did not confirm", sum)
	}
}

func TestVerifyConfirmsRealDestroys(t *testing.T) {
	socks := []sockdiag.Socket{socket(sockdiag.Established, 40000, 1), socket(sockdiag.Established, 40001, 2)}
	socks[0].Inode, socks[1].Inode = 100, 101
	survivor := socket(sockdiag.Established, 40002, 3)
	for _, all := range []bool{false, true} {
		// Linux 6.11 destroys orphans too: its 0 is the truth.
		k := &sockdiagtest.Kernel{Sockets: append(slices.Clone(socks), survivor), Release: sockdiag.Release{Major: 6, Minor: 11}}
		results := (&kill.Plan{Targets: socks}).ExecuteWith(t.Context(), k.Conn(), kill.Options{VerifyAll: all})
		if sum := inet.Summarize(results); sum.Killed != 2 {
			t.Fatalf("summary %+v, want 2 killed", sum)
		}
		// The destroys, then, only when asked for, a lookup of each target:
		// the kernel's 0 is the truth.
		lookups := 0
		for _, r := range k.Requests[2:] {
			if r.ID.Cookie == 1 || r.ID.Cookie == 2 {
				lookups++
			}
		}
		if want := map[bool]int{false: 0, true: 2}[all]; lookups != want {
			t.Errorf("verify all %v: %d lookups after the destroys, want %d (%+v)", all, lookups, want, k.Requests)
		}
	}
}

// TestVerifyLooksAtOrphans: before Linux 6.11 a destroy of an orphan
// answered 0 and left it. A socket held when dumped may have been orphaned
// since, so there every full TCP socket is looked up; from 6.11 none is.
func TestVerifyLooksAtOrphans(t *testing.T) {
	held := socket(sockdiag.Established, 40000, 1)
	held.Inode = 100
	orphan := socket(sockdiag.FinWait1, 40001, 2)
	for _, tc := range []struct {
		release sockdiag.Release
		lookups int
	}{{sockdiag.Release{Major: 6, Minor: 6}, 2}, {sockdiag.Release{Major: 6, Minor: 11}, 0}} {
		k := &sockdiagtest.Kernel{Sockets: []sockdiag.Socket{held, orphan}, Release: tc.release}
		(&kill.Plan{Targets: []sockdiag.Socket{held, orphan}}).Execute(t.Context(), k.Conn())
		if n := len(k.Requests) - 2; n != tc.lookups {
			t.Errorf("%v: %d lookups after the destroys, want %d", tc.release, n, tc.lookups)
		}
	}
}

// TestVerifyCatchesReuseportSurvivor: the kernel answers ENOENT because its
// lookup by tuple found a sibling, and the target is still there.
func TestVerifyCatchesReuseportSurvivor(t *testing.T) {
	target := listener(1)
	k := &sockdiagtest.Kernel{Sockets: []sockdiag.Socket{target}, DestroyErr: func(sockdiag.Socket) unix.Errno { return unix.ENOENT }}
	results := (&kill.Plan{Targets: []sockdiag.Socket{target}}).Execute(t.Context(), k.Conn())
	if results[0].Action != inet.Failed || !errors.Is(results[0].Err, sockdiag.ErrUnreachable) {
		t.Fatalf("result %s %v, want failed: unreachable", results[0].Action, results[0].Err)
	}
}

// TestVerifyCatchesBoundDeviceSurvivor: for a socket bound to a device the
// kernel's lookup by tuple may find an unbound socket with the same tuple
// first and answer ENOENT while the target lives.
func TestVerifyCatchesBoundDeviceSurvivor(t *testing.T) {
	target := socket(sockdiag.Established, 40000, 1)
	target.Inode, target.ID.Interface = 100, 7
	k := &sockdiagtest.Kernel{Sockets: []sockdiag.Socket{target}, DestroyErr: func(sockdiag.Socket) unix.Errno { return unix.ENOENT }}
	results := (&kill.Plan{Targets: []sockdiag.Socket{target}}).Execute(t.Context(), k.Conn())
	if results[0].Action != inet.Failed {
		t.Fatalf("result %s %v, want failed: the socket is still there", results[0].Action, results[0].Err)
	}
}

// TestVerifyUDPDisconnected: udp_abort leaves an explicitly bound socket in
// the table, unconnected, with its cookie: the connection is destroyed.
func TestVerifyUDPDisconnected(t *testing.T) {
	s := socket(sockdiag.Established, 53, 1)
	s.Protocol = inet.UDP
	left := s
	left.State = sockdiag.Close
	k := &sockdiagtest.Kernel{Sockets: []sockdiag.Socket{s}, Ineffective: true}
	k.DestroyErr = func(sockdiag.Socket) unix.Errno {
		k.Sockets[0] = left // called with the kernel's lock held
		return 0
	}
	results := (&kill.Plan{Targets: []sockdiag.Socket{s}}).Execute(t.Context(), k.Conn())
	if results[0].Action != inet.Killed {
		t.Fatalf("result %s %v, want killed", results[0].Action, results[0].Err)
	}
}

// TestVerifyFailureIsNotASuccess: when the second look fails, no target
// counts as killed; each says it was not verified.
func TestVerifyFailureIsNotASuccess(t *testing.T) {
	socks := []sockdiag.Socket{socket(sockdiag.Established, 40000, 1)}
	k := &sockdiagtest.Kernel{Sockets: slices.Clone(socks)}
	results := (&kill.Plan{Targets: socks}).ExecuteWith(t.Context(), lookupFails{k.Conn()}, kill.Options{VerifyAll: true})
	if results[0].Action != inet.Failed || !strings.Contains(results[0].Err.Error(), "not verified") {
		t.Fatalf("result %s %v, want failed: not verified", results[0].Action, results[0].Err)
	}
}

// lookupFails is an engine whose second look always fails.
type lookupFails struct{ *sockdiag.Conn }

func (lookupFails) Lookup(_ context.Context, targets []sockdiag.Socket) []sockdiag.Seen {
	seen := make([]sockdiag.Seen, len(targets))
	for i := range seen {
		seen[i].Err = errors.New("the dump broke")
	}
	return seen
}

// stuckLookups is an engine whose look-ups the kernel holds (before Linux
// 6.9, behind a destroy stuck on a socket's lock).
type stuckLookups struct {
	*sockdiag.Conn
	release chan struct{}
}

func (s stuckLookups) Lookup(ctx context.Context, targets []sockdiag.Socket) []sockdiag.Seen {
	<-s.release
	return s.Conn.Lookup(ctx, targets)
}

// TestVerifyDoesNotWaitForAHeldKernel: the report does not wait for look-ups
// the kernel holds; their targets are not verified, and nothing more is sent.
func TestVerifyDoesNotWaitForAHeldKernel(t *testing.T) {
	defer kill.SetVerifyTimeout(200 * time.Millisecond)()
	socks := []sockdiag.Socket{socket(sockdiag.Established, 40000, 1), socket(sockdiag.Established, 40001, 2)}
	k := &sockdiagtest.Kernel{Sockets: slices.Clone(socks)}
	e := stuckLookups{k.Conn(), make(chan struct{})}
	defer close(e.release)
	start := time.Now()
	results := (&kill.Plan{Targets: socks}).ExecuteWith(t.Context(), e, kill.Options{VerifyAll: true})
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Execute took %v with the look-ups held", d)
	}
	for _, r := range results {
		if r.Action != inet.Failed || !strings.Contains(r.Err.Error(), "not verified: the kernel did not answer") {
			t.Errorf("cookie %d: %s %v, want failed, not verified", r.Socket.ID.Cookie, r.Action, r.Err)
		}
	}
}

// TestVerifyPending: a destroy still waiting behind a held lock stays pending while its
// socket is there or cannot be looked up (it may still be destroyed), is killed once the
// socket is gone, and is never failed "still there".
func TestVerifyPending(t *testing.T) {
	socks := []sockdiag.Socket{socket(sockdiag.Established, 40000, 1), socket(sockdiag.Established, 40001, 2), socket(sockdiag.Established, 40002, 3)}
	k := &sockdiagtest.Kernel{Sockets: slices.Clone(socks[:2])} // the third was destroyed meanwhile
	held := fmt.Errorf("%w: %w", sockdiag.ErrLockHeld, sockdiag.ErrPending)
	queued := fmt.Errorf("%w: %w", sockdiag.ErrQueued, sockdiag.ErrPending)
	e := pendingEngine{Conn: k.Conn(), answers: []error{held, queued, queued}}
	results := (&kill.Plan{Targets: socks}).Execute(t.Context(), e)
	for i, want := range []struct {
		action inet.Action
		err    error
	}{{inet.Pending, sockdiag.ErrLockHeld}, {inet.Pending, sockdiag.ErrQueued}, {inet.Killed, nil}} {
		if r := results[i]; r.Action != want.action || !errors.Is(r.Err, want.err) || want.err == nil && r.Err != nil {
			t.Errorf("target %d: %s %v, want %s %v", i, r.Action, r.Err, want.action, want.err)
		}
	}
	unknown := pendingLookupFails{e}
	results = (&kill.Plan{Targets: socks[:1]}).Execute(t.Context(), unknown)
	if results[0].Action != inet.Pending {
		t.Errorf("pending, not looked up: %s %v, want pending", results[0].Action, results[0].Err)
	}
}

// pendingEngine answers every destroy with answers, in order, and sends none.
type pendingEngine struct {
	*sockdiag.Conn
	answers []error
}

func (e pendingEngine) Destroy(_ context.Context, targets []sockdiag.Socket, _ func(int)) []error {
	return e.answers[:len(targets)]
}

// pendingLookupFails is a pendingEngine whose second look fails.
type pendingLookupFails struct{ pendingEngine }

func (pendingLookupFails) Lookup(ctx context.Context, targets []sockdiag.Socket) []sockdiag.Seen {
	return lookupFails{}.Lookup(ctx, targets)
}
