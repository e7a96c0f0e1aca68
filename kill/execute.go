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

// Errors of targets that verification found still there.
var (
	// ErrStillPresent: the kernel said it destroyed the socket, or did not
	// answer, and a new dump still shows it (kernels before 6.11 answered 0
	// for an orphaned socket and left it).
	ErrStillPresent = errors.New("still present after destroy")
	// ErrUnreachable: the kernel answered ENOENT but the socket is there. It
	// finds a destroy's target by address and port, and in an SO_REUSEPORT
	// group that lookup can land on a sibling, whose cookie differs.
	ErrUnreachable = errors.New("still present: the kernel's lookup by address and port finds another socket (an SO_REUSEPORT group?)")
)

// verify dumps every (protocol, family) of the targets again, in every
// state, and corrects what the destroys' answers said: a target still there
// with its cookie (and, for UDP, still connected: udp_abort disconnects a
// socket and may leave it bound) is failed; one the kernel did not answer
// for is killed if it is gone. Only what this confirms counts as killed.
func verify(c Conn, results []Result) {
	type dumpKey struct {
		proto sockdiag.Protocol
		fam   sockdiag.Family
	}
	check := map[dumpKey]map[sockdiag.Cookie]int{}
	for i, r := range results {
		if r.Action == Skipped || r.Action == Failed && !errors.Is(r.Err, sockdiag.ErrNoAnswer) {
			continue
		}
		k := dumpKey{r.Socket.Protocol, r.Socket.Family}
		if check[k] == nil {
			check[k] = map[sockdiag.Cookie]int{}
		}
		check[k][r.Socket.ID.Cookie] = i
	}
	for k, cookies := range check {
		req := sockdiag.Request{Family: k.fam, Protocol: k.proto, States: sockdiag.AllStates}
		for s, err := range c.Dump(req) {
			if err != nil {
				for _, i := range cookies {
					results[i].Action, results[i].Err = Failed, fmt.Errorf("not verified: %w", err)
				}
				cookies = nil
				break
			}
			i, ok := cookies[s.ID.Cookie]
			if !ok || s.Protocol == sockdiag.UDP && s.State != sockdiag.Established {
				continue
			}
			delete(cookies, s.ID.Cookie)
			r := &results[i]
			switch r.Action {
			case Gone:
				r.Action, r.Err = Failed, ErrUnreachable
			case Killed:
				r.Action, r.Err = Failed, ErrStillPresent
			default: // no answer
				r.Err = fmt.Errorf("%w (%w)", ErrStillPresent, r.Err)
			}
		}
		for _, i := range cookies {
			if results[i].Action == Failed { // no answer, and gone: destroyed
				results[i].Action, results[i].Err = Killed, nil
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
