package kill

import (
	"errors"

	"github.com/tcpreap/tcpreap/inet"
	"github.com/tcpreap/tcpreap/sockdiag"
)

// A Result is the outcome for one socket. Socket points into the plan the
// result is of (a plan of 250,000 targets is not copied again).
type Result struct {
	Socket *sockdiag.Socket
	Action inet.Action
	Reason Reason // for Skipped
	Err    error  // for Failed, and Pending: why it waits
	// Engine names the engine whose answer the result is (Engine.Name):
	// "" for a target no engine was asked for (a skip, a dry run).
	Engine string
}

// Outcome is the result's action, which inet.Summarize counts.
func (r Result) Outcome() inet.Action { return r.Action }

// classify turns the engine's answer for one target into a result.
func classify(s *sockdiag.Socket, err error) Result {
	switch {
	case err == nil:
		return Result{Socket: s, Action: inet.Killed}
	case errors.Is(err, sockdiag.ErrGone):
		return Result{Socket: s, Action: inet.Gone}
	case errors.Is(err, sockdiag.ErrTimeWait):
		return Result{Socket: s, Action: inet.Skipped, Reason: ReasonTimeWait}
	case errors.Is(err, sockdiag.ErrPending):
		return Result{Socket: s, Action: inet.Pending, Err: err}
	}
	return Result{Socket: s, Action: inet.Failed, Err: err}
}
