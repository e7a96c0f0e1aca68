package kill

import (
	"context"
	"errors"
	"fmt"

	"github.com/tcpreap/tcpreap/sockdiag"
)

// verify looks the targets up again whose destroys' answers may not be
// what happened (Engine.Doubtful; all of them with all), and corrects what
// the answers said: a target still there with its cookie is failed; one the
// kernel did not answer for is killed if it is gone. answers[i] is the
// destroy's answer for results[i].
func verify(ctx context.Context, e Engine, results []Result, answers []error, all bool) {
	var check []int
	var targets []sockdiag.Socket
	for i, r := range results {
		if r.Action == Skipped || r.Action == Failed && !errors.Is(r.Err, sockdiag.ErrNoAnswer) {
			continue
		}
		if !all && !e.Doubtful(ctx, r.Socket, answers[i]) {
			continue
		}
		check = append(check, i)
		targets = append(targets, *r.Socket)
	}
	if len(check) == 0 {
		return
	}
	for k, seen := range e.Lookup(ctx, targets) {
		r := &results[check[k]]
		present := seen.Connected()
		switch {
		case seen.Err != nil:
			r.Action, r.Err = Failed, fmt.Errorf("not verified: %w", seen.Err)
		case present && r.Action == Gone:
			r.Action, r.Err = Failed, sockdiag.ErrUnreachable
		case present && r.Action == Killed:
			r.Action, r.Err = Failed, sockdiag.ErrStillPresent
		case present: // no answer, and still there
			r.Err = fmt.Errorf("%w; still there", r.Err)
		case r.Action == Failed: // no answer, and gone: destroyed
			r.Action, r.Err = Killed, nil
		}
	}
}
