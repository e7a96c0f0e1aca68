package kill

import (
	"context"

	"github.com/tcpreap/tcpreap/sockdiag"
)

// An Engine is what executing a plan needs of the kernel, in targets and
// cookies: *sockdiag.Conn is one. Batching, parallel sockets and the
// pre-flight (not sending what cannot succeed) are the Engine's.
type Engine interface {
	// Destroy destroys each target by its cookie and returns one error per
	// target, in order: nil for destroyed, else one that wraps what the
	// kernel's answer means (sockdiag.ErrGone, sockdiag.ErrTimeWait, …).
	Destroy(ctx context.Context, targets []sockdiag.Socket) []error
	// Lookup looks each target up again by its cookie: as the kernel
	// shows it now, if it is there, or why that could not be told.
	Lookup(ctx context.Context, targets []sockdiag.Socket) []sockdiag.Seen
}

var _ Engine = (*sockdiag.Conn)(nil)

// Execute destroys the plan's targets, each by its dumped cookie, verifies
// that they are gone, and returns one result per socket: the targets in
// order, then the skips. ctx bounds the destroys and the verification; a
// target it stops is failed, with the context's error.
func (p *Plan) Execute(ctx context.Context, e Engine) []Result {
	results := make([]Result, 0, len(p.Targets)+len(p.Skipped))
	for i, err := range e.Destroy(ctx, p.Targets) {
		results = append(results, classify(p.Targets[i], err))
	}
	verify(ctx, e, results)
	return append(results, p.skips()...)
}
