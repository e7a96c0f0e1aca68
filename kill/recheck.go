package kill

import (
	"context"

	"github.com/tcpreap/tcpreap/inet"
	"github.com/tcpreap/tcpreap/sockdiag"
)

// Recheck looks the plan's targets up again by cookie, before a plan made
// earlier is carried out, and applies the guards to what they are now. A
// target that has become another socket than the one planned (a LISTEN
// socket, an unconnected UDP socket, a timewait socket, or a connection to
// another peer: the kernel keeps the cookie through these) is kept back with
// ReasonChanged; every
// target carries its socket as the kernel shows it now. A target not found,
// or not looked for because its dump failed, stays as planned: its destroy,
// by cookie, tells; one not found is Absent too, which a dry run reports
// gone. The plan's skips stay.
func (p *Plan) Recheck(ctx context.Context, e Engine, g Guards) *Plan {
	out := &Plan{Skipped: p.Skipped}
	for i, seen := range e.Lookup(ctx, p.Targets) {
		planned := p.Targets[i]
		if !seen.Present {
			out.Targets = append(out.Targets, planned)
			if seen.Err == nil {
				if out.Absent == nil {
					out.Absent = map[sockdiag.Cookie]bool{}
				}
				out.Absent[planned.ID.Cookie] = true
			}
			continue
		}
		now := seen.Now
		reason := g.reason(&now)
		if changedKind(&planned, &now) {
			reason = ReasonChanged
		}
		if reason != NoReason {
			out.Skipped = append(out.Skipped, Skip{Socket: now, Reason: reason})
			continue
		}
		out.Targets = append(out.Targets, now)
	}
	return out
}

// changedKind reports whether a socket is now another kind of socket than
// the one planned, which a destroy must not reach in its place.
func changedKind(planned, now *sockdiag.Socket) bool {
	switch {
	case now.ID.Local != planned.ID.Local || now.ID.Remote != planned.ID.Remote:
		return true // disconnected and connected again: another connection
	case now.State == sockdiag.Listen:
		return planned.State != sockdiag.Listen
	case now.Protocol == inet.UDP:
		return planned.State == sockdiag.Established && now.State != sockdiag.Established
	}
	return now.IsTimeWait() && !planned.IsTimeWait()
}
