package kill

import "github.com/tcpreap/tcpreap/sockdiag"

// A Destroyer sends SOCK_DESTROY for sockets and returns one error per
// socket, in order; *sockdiag.Conn is one.
type Destroyer interface {
	Destroy(socks []sockdiag.Socket) []error
}

var _ Destroyer = (*sockdiag.Conn)(nil)

// DryRun returns the plan's results without destroying anything: every
// target would be killed, every skip stays skipped.
func (p *Plan) DryRun() []Result {
	results := make([]Result, 0, len(p.Targets)+len(p.Skipped))
	for _, s := range p.Targets {
		results = append(results, Result{Socket: s, Action: WouldKill})
	}
	return append(results, p.skips()...)
}

// Execute destroys the plan's targets, each by its dumped cookie, and
// returns one result per socket: the targets in order, then the skips.
func (p *Plan) Execute(d Destroyer) []Result {
	errs := d.Destroy(p.Targets)
	results := make([]Result, 0, len(p.Targets)+len(p.Skipped))
	for i, s := range p.Targets {
		results = append(results, classify(s, errs[i]))
	}
	return append(results, p.skips()...)
}

func (p *Plan) skips() []Result {
	out := make([]Result, 0, len(p.Skipped))
	for _, s := range p.Skipped {
		out = append(out, Result{Socket: s.Socket, Action: Skipped, Reason: s.Reason})
	}
	return out
}
