package kill

import (
	"context"
	"errors"
	"fmt"

	"github.com/tcpreap/tcpreap/sockdiag"
)

// verify looks every target up again and corrects what the destroys'
// answers said: a target still there with its cookie is failed; one the
// kernel did not answer for is killed if it is gone. Only what this
// confirms counts as killed.
func verify(ctx context.Context, e Engine, results []Result) {
	var check []int
	var targets []sockdiag.Socket
	for i, r := range results {
		if r.Action == Skipped || r.Action == Failed && !errors.Is(r.Err, sockdiag.ErrNoAnswer) {
			continue
		}
		check = append(check, i)
		targets = append(targets, r.Socket)
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
			r.Err = fmt.Errorf("%w (%w)", sockdiag.ErrStillPresent, r.Err)
		case r.Action == Failed: // no answer, and gone: destroyed
			r.Action, r.Err = Killed, nil
		}
	}
}
