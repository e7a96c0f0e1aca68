package sockdiag

import (
	"context"
	"errors"
)

// The kernel acts on the requests of one sendmsg in order, in the sending
// thread, and a destroy waits for its socket's lock (tcp_abort's
// lock_sock): when an application holds it, stuck in the kernel, the
// destroy waits, and so do the requests after it in the batch. They are not
// lost: they are still to be acted on, when the lock is released, whether
// tcpreap still runs or not.

// ErrPending is wrapped by the error of a destroy that was sent, not
// answered in time, and is still to be acted on: its socket may still be
// destroyed (ErrLockHeld, ErrQueued).
var ErrPending = errors.New("pending")

// lockHeldSentence is what to say once of a batch held by a socket's lock.
const lockHeldSentence = "a socket's lock is held, most likely by its application, stuck in the kernel (in a send on a hung NFS or FUSE file?): " +
	"its destroy, and those sent after it, wait for the lock, and the sockets may still be destroyed when it is released; tcpreap cannot free it"

// The causes of the destroys a held lock keeps waiting.
var (
	// ErrLockHeld: the destroy waits for the socket's lock.
	ErrLockHeld = &Cause{short: "its lock is held: the destroy waits for it", sentence: lockHeldSentence}
	// ErrQueued: the destroy was sent after one that waits for its
	// socket's lock, and waits behind it.
	ErrQueued = &Cause{short: "sent behind the destroy of a socket whose lock is held: it waits for that one", sentence: lockHeldSentence}
)

// A stuckBatch is the error of every target of a batch the watchdog gave
// up, one value per batch, so that settleStuck finds the batch again.
type stuckBatch struct{ start int }

func (*stuckBatch) Error() string   { return ErrStuck.Error() + ": " + ErrNoAnswer.Error() }
func (*stuckBatch) Unwrap() []error { return []error{ErrStuck, ErrNoAnswer} }

// A pendingError is the error of a destroy still to be acted on.
type pendingError struct{ cause *Cause }

func (e pendingError) Error() string   { return e.cause.Error() }
func (e pendingError) Unwrap() []error { return []error{e.cause, ErrPending} }

// settleStuck tells, for each batch the watchdog gave up, what the kernel
// did and what waits: it looks the batch's targets up again, in the order
// the kernel acts on them. Those gone before the first one still there were
// destroyed (or had gone); the first one still there is the one whose lock
// is held (ErrLockHeld); those after it are queued behind it (ErrQueued),
// or gone by themselves (ErrGone). Before Linux 6.9 a look-up would wait
// behind the held lock too (sock_diag_mutex): there every target of the
// batch is pending, with ErrStuck. A target whose look-up failed keeps "no
// answer", for verification. One look-up per target of a stuck batch; none
// when no batch was stuck.
//
// A destroy the kernel refused before the held one (an error answer, not
// read) leaves its socket there, and that socket would be named instead: a
// refusal is rare in a run that reached the destroys.
func (c *Conn) settleStuck(ctx context.Context, targets []Socket, errs []error) {
	var batches []*stuckBatch
	members := map[*stuckBatch][]int{}
	for i, err := range errs {
		if b, ok := err.(*stuckBatch); ok {
			if members[b] == nil {
				batches = append(batches, b)
			}
			members[b] = append(members[b], i)
		}
	}
	for _, b := range batches {
		at := members[b]
		if c.serialized() {
			for _, i := range at {
				errs[i] = pendingError{ErrStuck}
			}
			continue
		}
		socks := make([]Socket, len(at))
		for k, i := range at {
			socks[k] = targets[i]
		}
		held := false
		for k, seen := range c.Lookup(ctx, socks) {
			i := at[k]
			switch {
			case seen.Err != nil:
			case seen.Connected() && !held:
				errs[i], held = pendingError{ErrLockHeld}, true
			case seen.Connected():
				errs[i] = pendingError{ErrQueued}
			case held:
				errs[i] = ErrGone
			default:
				errs[i] = nil
			}
		}
	}
}
