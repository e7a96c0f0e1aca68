package kill

import (
	"context"
	"errors"
	"fmt"

	"github.com/tcpreap/tcpreap/inet"
	"github.com/tcpreap/tcpreap/sockdiag"
)

// verify looks the targets up again whose destroys' answers may not be
// what happened (Engine.Doubtful; all of them with all) or are pending, and
// corrects what the answers said: a target still there with its cookie is
// failed, unless its destroy is pending (it may still come); one the kernel
// did not answer for, or pending, is killed if it is gone. answers[i] is
// the destroy's answer for results[i], given by engine by[i], which tells
// whether it is doubtful; e looks the targets up. It reports false when the kernel did not
// answer the look-ups before ctx ended: the Engine is then still in use, by
// a look-up the kernel holds, and must not be used again.
func verify(ctx context.Context, e Engine, results []Result, answers []error, by []Engine, all bool) (answered bool) {
	var check []int
	var targets []sockdiag.Socket
	for i, r := range results {
		if r.Action == inet.Skipped || r.Action == inet.Failed && !errors.Is(r.Err, sockdiag.ErrNoAnswer) {
			continue
		}
		if !all && r.Action != inet.Pending && !by[i].Doubtful(ctx, r.Socket, answers[i]) {
			continue
		}
		check = append(check, i)
		targets = append(targets, *r.Socket)
	}
	if len(check) == 0 {
		return true
	}
	seen, answered := lookupWithin(ctx, e, targets)
	for k, seen := range seen {
		r := &results[check[k]]
		present := seen.Connected()
		switch {
		case r.Action == inet.Pending && (seen.Err != nil || present):
			// Still waiting, or not known: it may still be destroyed.
		case r.Action == inet.Pending:
			r.Action, r.Err = inet.Killed, nil // the lock was released meanwhile
		case seen.Err != nil:
			r.Action, r.Err = inet.Failed, fmt.Errorf("not verified: %w", seen.Err)
		case present && r.Action == inet.Gone:
			r.Action, r.Err = inet.Failed, sockdiag.ErrUnreachable
		case present && r.Action == inet.Killed:
			r.Action, r.Err = inet.Failed, sockdiag.ErrStillPresent
		case present: // no answer, and still there
			r.Err = fmt.Errorf("%w; still there", r.Err)
		case r.Action == inet.Failed: // no answer, and gone: destroyed
			r.Action, r.Err = inet.Killed, nil
		}
	}
	return answered
}

// lookupWithin is e.Lookup, given up when ctx ends. Before Linux 6.9 the
// kernel runs every sock_diag request under one mutex, so a destroy stuck on
// a socket's lock (see sockdiag.ErrStuck) holds the look-ups too, in the
// kernel, where no deadline reaches them; the report must not wait for it.
func lookupWithin(ctx context.Context, e Engine, targets []sockdiag.Socket) ([]sockdiag.Seen, bool) {
	done := make(chan []sockdiag.Seen, 1)
	go func() { done <- e.Lookup(ctx, targets) }()
	select {
	case seen := <-done:
		return seen, true
	case <-ctx.Done():
		seen := make([]sockdiag.Seen, len(targets))
		for i := range seen {
			seen[i].Err = fmt.Errorf("the kernel did not answer: %w", context.Cause(ctx))
		}
		return seen, false
	}
}
