package kill

import (
	"errors"

	"github.com/tcpreap/tcpreap/sockdiag"
)

// An Action is what became of one socket of a plan.
type Action uint8

// The actions, as their String names them.
const (
	WouldKill Action = iota // a dry run: it would be destroyed
	Killed                  // destroyed
	Gone                    // already closed, or replaced by another socket on its tuple
	Failed                  // the kernel refused or did not answer
	Skipped                 // a guard, or the kernel, kept it back; Reason says why
)

var actionNames = [...]string{
	WouldKill: "would_kill",
	Killed:    "killed",
	Gone:      "gone",
	Failed:    "failed",
	Skipped:   "skipped",
}

func (a Action) String() string { return actionNames[a] }

// A Result is the outcome for one socket. Socket points into the plan the
// result is of (a plan of 250,000 targets is not copied again).
type Result struct {
	Socket *sockdiag.Socket
	Action Action
	Reason Reason // for Skipped
	Err    error  // for Failed
}

// A Summary counts the results.
type Summary struct {
	Matched, WouldKill, Killed, Gone, Failed, Skipped int
}

// Summarize counts results by action; every result is a matched socket.
func Summarize(results []Result) Summary {
	s := Summary{Matched: len(results)}
	for _, r := range results {
		switch r.Action {
		case WouldKill:
			s.WouldKill++
		case Killed:
			s.Killed++
		case Gone:
			s.Gone++
		case Failed:
			s.Failed++
		case Skipped:
			s.Skipped++
		}
	}
	return s
}

// classify turns the engine's answer for one target into a result.
func classify(s *sockdiag.Socket, err error) Result {
	switch {
	case err == nil:
		return Result{Socket: s, Action: Killed}
	case errors.Is(err, sockdiag.ErrGone):
		return Result{Socket: s, Action: Gone}
	case errors.Is(err, sockdiag.ErrTimeWait):
		return Result{Socket: s, Action: Skipped, Reason: ReasonTimeWait}
	}
	return Result{Socket: s, Action: Failed, Err: err}
}
