package kill

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tcpreap/tcpreap/inet"
	"github.com/tcpreap/tcpreap/sockdiag"
)

// An Engine is what executing a plan needs of the kernel, in targets and
// cookies: *sockdiag.Conn is one, the diag engine (SOCK_DESTROY); the fd
// engine (package sockfd) is another. Batching, parallel sockets and the pre-flight (not sending what
// cannot succeed) are the Engine's.
type Engine interface {
	// Name is the engine's name, as each result records it and --engine
	// takes it: "diag", "fd".
	Name() string
	// Destroy destroys each target by its cookie and returns one error per
	// target, in order: nil for destroyed, else one that wraps what the
	// kernel's answer means (sockdiag.ErrGone, sockdiag.ErrTimeWait, …).
	// progress, when not nil, is told how many targets each step settled.
	Destroy(ctx context.Context, targets []sockdiag.Socket, progress func(settled int)) []error
	// Lookup looks each target up again by its cookie: as the kernel
	// shows it now, if it is there, or why that could not be told.
	Lookup(ctx context.Context, targets []sockdiag.Socket) []sockdiag.Seen
	// Doubtful reports whether the kernel's answer to the destroy of s (as
	// Destroy returned it) may not be what happened: only then does a
	// target need a second look.
	Doubtful(ctx context.Context, s *sockdiag.Socket, err error) bool
}

// Options change how a plan is executed.
type Options struct {
	// VerifyAll looks every target up again after its destroy, whatever
	// the kernel answered (tcpreap --verify).
	VerifyAll bool
	// Progress, when not nil, is told how many targets each step of the
	// destroy settled, for a progress bar; it may be called from several
	// goroutines at once.
	Progress func(settled int)
	// Fallback are the engines that take, in order, the targets the
	// engine before them refused (Refused): the kernel cannot destroy
	// them that way, and the next engine may reach them.
	Fallback []Engine
	// MPTCP is the engine that closes the MPTCP connections of the plan's
	// Subflows at their MPTCP socket (the fd engine); nil keeps them back,
	// with ReasonMPTCPSubflow. They go to no other engine.
	MPTCP Engine
	// Pacer, when not nil, sends the targets in batches at its pace
	// (Pace.Start), each looked up again by its cookie just before it is
	// sent; one Pacer paces the plans of every namespace of a run.
	Pacer *Pacer
}

var _ Engine = (*sockdiag.Conn)(nil)

// Execute destroys the plan's targets, each by its dumped cookie, verifies
// that they are gone, and returns one result per socket: the targets in
// order, then the skips. Targets the kernel could not reach because it found
// a sibling of their SO_REUSEPORT group are sent again while the group
// shrinks (see retryUnreachable). ctx bounds the destroys and the
// verification. When ctx is done (an interrupt), no further destroy is
// sent, the targets not sent fail with its cause, and what was sent is still
// verified, within verifyTimeout.
func (p *Plan) Execute(ctx context.Context, e Engine) []Result {
	return p.ExecuteWith(ctx, e, Options{})
}

// ExecuteWith is Execute with options.
func (p *Plan) ExecuteWith(ctx context.Context, e Engine, o Options) []Result {
	if o.Pacer != nil {
		return p.executePaced(ctx, e, o)
	}
	return p.appendSkips(p.executeTargets(ctx, e, o))
}

// executeTargets destroys the targets, the subflows of MPTCP connections
// with o.MPTCP, and returns their results, in order.
func (p *Plan) executeTargets(ctx context.Context, e Engine, o Options) []Result {
	if len(p.Subflows) == 0 {
		results, answered := destroy(ctx, e, p.Targets, o, make([]Result, 0, len(p.Targets)+len(p.Skipped)))
		if answered {
			retryUnreachable(ctx, e, results, o)
		}
		return results
	}
	var plain, subflows []int
	for i := range p.Targets {
		if _, ok := p.Subflows[p.Targets[i].ID.Cookie]; ok {
			subflows = append(subflows, i)
		} else {
			plain = append(plain, i)
		}
	}
	results := make([]Result, len(p.Targets), len(p.Targets)+len(p.Skipped))
	p.executeSome(ctx, e, o, plain, results)
	if o.MPTCP == nil {
		for _, i := range subflows {
			results[i] = Result{Socket: &p.Targets[i], Action: inet.Skipped, Reason: ReasonMPTCPSubflow}
		}
	} else {
		p.executeSome(ctx, o.MPTCP, Options{VerifyAll: o.VerifyAll, Progress: o.Progress}, subflows, results)
	}
	return results
}

// executeSome destroys the targets at the indexes at with e and puts each
// one's result in results at its index.
func (p *Plan) executeSome(ctx context.Context, e Engine, o Options, at []int, results []Result) {
	if len(at) == 0 {
		return
	}
	targets := make([]sockdiag.Socket, len(at))
	for k, i := range at {
		targets[k] = p.Targets[i]
	}
	done, answered := destroy(ctx, e, targets, o, make([]Result, 0, len(at)))
	if answered {
		retryUnreachable(ctx, e, done, o)
	}
	for k, r := range done {
		r.Socket = &p.Targets[at[k]] // the plan's, not the copy's
		results[at[k]] = r
	}
}

// executePaced destroys the targets in batches, each when the pacer has it
// due, as executeTargets does. Just before a batch is sent its targets are
// looked up again by cookie: a target that has become another socket than
// the one planned (changedKind: in a spread of minutes a UDP socket may
// connect elsewhere) is kept back with ReasonChanged, after the targets;
// one closed or replaced since answers its destroy, by cookie, that it is
// gone. Once ctx is done no batch is sent: the targets not sent fail with
// sockdiag.ErrNotAttempted and its cause, and what was sent is verified.
func (p *Plan) executePaced(ctx context.Context, e Engine, o Options) []Result {
	results := make([]Result, 0, len(p.Targets)+len(p.Skipped))
	var changed []Result
	for done := 0; done < len(p.Targets); {
		n := o.Pacer.next(ctx, len(p.Targets)-done)
		if n == 0 {
			notSent := fmt.Errorf("%w: %w", sockdiag.ErrNotAttempted, context.Cause(ctx))
			for i := done; i < len(p.Targets); i++ {
				results = append(results, Result{Socket: &p.Targets[i], Action: inet.Failed, Err: notSent})
			}
			break
		}
		batch := p.Targets[done : done+n]
		done += n
		send := &Plan{Subflows: p.Subflows} // copies: a result's Socket points into it
		for i, seen := range e.Lookup(ctx, batch) {
			if seen.Present && changedKind(&batch[i], &seen.Now) {
				changed = append(changed, Result{Socket: &seen.Now, Action: inet.Skipped, Reason: ReasonChanged})
				continue
			}
			send.Targets = append(send.Targets, batch[i])
		}
		if o.Progress != nil && len(send.Targets) < n {
			o.Progress(n - len(send.Targets))
		}
		if len(send.Targets) > 0 {
			results = append(results, send.executeTargets(ctx, e, o)...)
		}
	}
	return p.appendSkips(append(results, changed...))
}

// destroy destroys the targets and verifies the outcome: it appends one
// result each to results, and returns it, and whether the kernel answered
// the verification (see verify).
func destroy(ctx context.Context, e Engine, targets []sockdiag.Socket, o Options, results []Result) ([]Result, bool) {
	answers := e.Destroy(ctx, targets, o.Progress)
	by := make([]Engine, len(targets))
	for i := range by {
		by[i] = e
	}
	fallBack(ctx, o.Fallback, targets, answers, by)
	start := len(results)
	for i, err := range answers {
		r := classify(&targets[i], err)
		r.Engine = by[i].Name()
		results = append(results, r)
	}
	vctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), verifyTimeout)
	defer cancel()
	answered := verify(vctx, e, results[start:], answers, by, o.VerifyAll)
	return results, answered
}

// fallBack sends the targets the engine before refused to each engine of
// next in turn, and takes the answer of the first that does not refuse:
// answers[i] and by[i] are then its. A target every engine refuses keeps
// the first engine's answer, which says what this kernel lacks. No target
// is sent after ctx ends.
func fallBack(ctx context.Context, next []Engine, targets []sockdiag.Socket, answers []error, by []Engine) {
	for _, e := range next {
		var at []int
		var again []sockdiag.Socket
		for i := range answers {
			if Refused(answers[i]) && ctx.Err() == nil {
				at = append(at, i)
				again = append(again, targets[i])
			}
		}
		if len(at) == 0 {
			return
		}
		for k, err := range e.Destroy(ctx, again, nil) {
			if !Refused(err) {
				answers[at[k]], by[at[k]] = err, e
			}
		}
	}
}

// Refused reports whether an engine's answer for a target says that this
// engine cannot destroy it here, as the kernel is or as the target is,
// so that another engine may: a kernel without SOCK_DESTROY, an MPTCP
// listener SOCK_DESTROY refuses, or an answer of another engine that says
// it is a refusal (it has a method Refused that returns true).
func Refused(err error) bool {
	var r interface{ Refused() bool }
	return errors.Is(err, sockdiag.ErrNoDestroy) || errors.Is(err, sockdiag.ErrMPTCPListener) || errors.As(err, &r) && r.Refused()
}

// verifyTimeout bounds a second look, which runs even after an interrupt.
var verifyTimeout = time.Minute

// retryUnreachable sends the destroys of the unreachable targets again, in
// rounds, for as long as a round destroys one of them, and leaves each
// result as its last round found it. A round costs one destroy per survivor
// and one verification dump; there are at most as many rounds as targets.
//
// The kernel finds a destroy's target by its tuple and only then compares
// the cookie (inet_diag_find_one_icsk). For a listener of an SO_REUSEPORT
// group the tuple lookup picks one member of the group by a hash of the
// tuple (inet_lookup_reuseport, reuseport_select_sock), the same member for
// every destroy while the group stays as it is (unless members set
// SO_INCOMING_CPU: then the CPU the destroy runs on counts too), and the
// destroys of the other members answer ENOENT though they are alive. If
// that member is a target, its own destroy succeeds, the group shrinks, and
// the pick moves to another member: the next round reaches it. If the pick
// is a member that is no target, nothing changes, and a round without a
// kill ends the retries.
func retryUnreachable(ctx context.Context, e Engine, results []Result, o Options) {
	for ctx.Err() == nil {
		var again []int
		var targets []sockdiag.Socket
		for i, r := range results {
			if r.Action == inet.Failed && errors.Is(r.Err, sockdiag.ErrUnreachable) {
				again = append(again, i)
				targets = append(targets, *r.Socket)
			}
		}
		if len(again) == 0 {
			return
		}
		killed := false
		round, answered := destroy(ctx, e, targets, o, nil)
		for k, r := range round {
			r.Socket = results[again[k]].Socket // the plan's, not the copy's
			results[again[k]] = r
			killed = killed || r.Action == inet.Killed
		}
		if !killed || !answered {
			return
		}
	}
}
