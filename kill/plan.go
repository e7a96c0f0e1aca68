// Package kill turns a selection of sockets into a Plan (the targets, and the
// sockets a guard kept back with the reason) and executes it: one Result per
// socket, killed, gone, failed or skipped.
package kill

import (
	"iter"

	"github.com/tcpreap/tcpreap/sockdiag"
)

// A Skip is a socket that matched the selection but that a guard kept back.
type Skip struct {
	Socket sockdiag.Socket
	Reason string
}

// A Plan is what a run will destroy: the targets, each with the full sockid
// it was dumped with (cookie and interface included), and the skipped
// sockets with their reasons. A dry run prints it and stops.
type Plan struct {
	Targets []sockdiag.Socket
	Skipped []Skip
}

// Guards are the rules that keep matching sockets back from a plan.
type Guards struct {
	// ListenNamed is set when --state named listen (or all): only then are
	// LISTEN sockets, which serve every future connection, targets.
	ListenNamed bool
}

// Reasons a guard gives.
const (
	ReasonListen = "LISTEN sockets are only destroyed when --state names listen"
)

// NewPlan reads the selected sockets and sorts them into targets and skips.
// It returns the first error of the query.
func NewPlan(sockets iter.Seq2[sockdiag.Socket, error], g Guards) (*Plan, error) {
	p := &Plan{}
	for s, err := range sockets {
		if err != nil {
			return nil, err
		}
		if reason := g.reason(&s); reason != "" {
			p.Skipped = append(p.Skipped, Skip{s, reason})
			continue
		}
		p.Targets = append(p.Targets, s)
	}
	return p, nil
}

func (g Guards) reason(s *sockdiag.Socket) string {
	if s.State == sockdiag.Listen && !g.ListenNamed {
		return ReasonListen
	}
	return ""
}
