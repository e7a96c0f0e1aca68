package sockdiag

import (
	"context"
	"iter"
)

// Query streams every socket the filter selects: one dump per (protocol,
// family) with the kernel's state mask, port prefilter and filter program,
// and every answer checked again with Match. It stops at the first error.
func (c *Conn) Query(ctx context.Context, f *Filter) iter.Seq2[Socket, error] {
	return func(yield func(Socket, error) bool) {
		for _, d := range f.dumps() {
			if d.never {
				continue
			}
			for s, err := range c.Dump(ctx, d.Request) {
				if err != nil {
					yield(Socket{}, err)
					return
				}
				if f.Match(&s) && !yield(s, nil) {
					return
				}
			}
		}
	}
}

// Seen is a target looked up again: the socket as the kernel shows it now,
// found by its cookie, or why it could not be looked for.
type Seen struct {
	Now     Socket // as dumped now; valid when Present
	Present bool
	Err     error // the dump of the target's (protocol, family) failed
}

// Connected reports whether a target seen after its destroy is still the
// connection it was. udp_abort disconnects a UDP socket and may leave it in
// the table, bound: that connection is gone.
func (s Seen) Connected() bool {
	return s.Present && (s.Now.Protocol != UDP || s.Now.State == Established)
}

// Lookup looks the targets up again by cookie, with one dump of every state
// per (protocol, family) among them: seen[i] is for targets[i].
func (c *Conn) Lookup(ctx context.Context, targets []Socket) []Seen {
	type dumpKey struct {
		proto Protocol
		fam   Family
	}
	seen := make([]Seen, len(targets))
	var order []dumpKey
	want := map[dumpKey]map[Cookie]int{}
	for i, s := range targets {
		k := dumpKey{s.Protocol, s.Family}
		if want[k] == nil {
			want[k] = map[Cookie]int{}
			order = append(order, k)
		}
		want[k][s.ID.Cookie] = i
	}
	for _, k := range order {
		cookies := want[k]
		for s, err := range c.Dump(ctx, Request{Family: k.fam, Protocol: k.proto, States: AllStates}) {
			if err != nil {
				for _, i := range cookies {
					seen[i] = Seen{Err: err}
				}
				break
			}
			if i, ok := cookies[s.ID.Cookie]; ok {
				seen[i] = Seen{Now: s, Present: true}
			}
		}
	}
	return seen
}
