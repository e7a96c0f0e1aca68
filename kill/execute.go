package kill

import (
	"errors"
	"fmt"
	"iter"

	"github.com/tcpreap/tcpreap/sockdiag"
)

// A Conn is what executing a plan needs of the kernel; *sockdiag.Conn is one.
type Conn interface {
	Destroy(socks []sockdiag.Socket) []error
	Dump(req sockdiag.Request) iter.Seq2[sockdiag.Socket, error]
}

var _ Conn = (*sockdiag.Conn)(nil)

// DryRun returns the plan's results without destroying anything: every
// target would be killed, every skip stays skipped.
func (p *Plan) DryRun() []Result {
	results := make([]Result, 0, len(p.Targets)+len(p.Skipped))
	for _, s := range p.Targets {
		results = append(results, Result{Socket: s, Action: WouldKill})
	}
	return append(results, p.skips()...)
}

// Execute destroys the plan's targets, each by its dumped cookie, verifies
// that they are gone, and returns one result per socket: the targets in
// order, then the skips.
//
// The first destroys go one at a time until the kernel has shown that it can
// destroy here at all: when it answers EPERM or has no SOCK_DESTROY, the
// rest are not sent and fail with the same cause, said once.
func (p *Plan) Execute(c Conn) []Result {
	results := make([]Result, 0, len(p.Targets)+len(p.Skipped))
	rest := p.Targets
	for len(rest) > 0 {
		r := classify(rest[0], c.Destroy(rest[:1])[0])
		results = append(results, r)
		rest = rest[1:]
		if cause := fatal(r); cause != nil {
			for _, s := range rest {
				results = append(results, Result{Socket: s, Action: Failed, Err: fmt.Errorf("not attempted: %w", cause)})
			}
			rest = nil
		}
		if r.Action == Killed {
			break
		}
	}
	for i, err := range c.Destroy(rest) {
		results = append(results, classify(rest[i], err))
	}
	verify(c, results)
	return append(results, p.skips()...)
}

// fatal returns the cause when a result shows that no destroy can succeed.
func fatal(r Result) error {
	for _, cause := range []error{ErrPermission, ErrNoDestroy} {
		if errors.Is(r.Err, cause) {
			return cause
		}
	}
	return nil
}

// ErrStillPresent is the error of a target that the kernel said it destroyed
// but that a new dump still shows with its cookie: kernels before 6.11
// answered 0 for an orphaned socket and left it.
var ErrStillPresent = errors.New("still present after destroy")

// verify dumps every (protocol, family) that has killed targets again, in
// every state, and turns each killed target still there with its cookie into
// a failure. Only what verification confirmed counts as killed.
func verify(c Conn, results []Result) {
	type dumpKey struct {
		proto sockdiag.Protocol
		fam   sockdiag.Family
	}
	killed := map[dumpKey]map[sockdiag.Cookie]int{}
	for i, r := range results {
		if r.Action != Killed {
			continue
		}
		k := dumpKey{r.Socket.Protocol, r.Socket.Family}
		if killed[k] == nil {
			killed[k] = map[sockdiag.Cookie]int{}
		}
		killed[k][r.Socket.ID.Cookie] = i
	}
	for k, cookies := range killed {
		req := sockdiag.Request{Family: k.fam, Protocol: k.proto, States: sockdiag.AllStates}
		for s, err := range c.Dump(req) {
			if err != nil {
				for _, i := range cookies {
					results[i].Action, results[i].Err = Failed, fmt.Errorf("destroyed, but not verified: %w", err)
				}
				break
			}
			if i, ok := cookies[s.ID.Cookie]; ok {
				results[i].Action, results[i].Err = Failed, ErrStillPresent
				delete(cookies, s.ID.Cookie)
			}
		}
	}
}

func (p *Plan) skips() []Result {
	out := make([]Result, 0, len(p.Skipped))
	for _, s := range p.Skipped {
		out = append(out, Result{Socket: s.Socket, Action: Skipped, Reason: s.Reason})
	}
	return out
}
