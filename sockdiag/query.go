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

// Lookup looks the targets up again by cookie, with one dump of every state
// per (protocol, family) among them, and reports for each whether it is
// still there as the connection it was: present[i] is for targets[i]. A UDP
// target that is still bound but no longer connected is not: udp_abort
// disconnects a socket and may leave it in the table. When the dump of a
// target's (protocol, family) fails, failed[i] is the error.
func (c *Conn) Lookup(ctx context.Context, targets []Socket) (present []bool, failed []error) {
	type dumpKey struct {
		proto Protocol
		fam   Family
	}
	present, failed = make([]bool, len(targets)), make([]error, len(targets))
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
					present[i], failed[i] = false, err
				}
				break
			}
			i, ok := cookies[s.ID.Cookie]
			if !ok || s.Protocol == UDP && s.State != Established {
				continue
			}
			present[i] = true
		}
	}
	return present, failed
}
