package kill

import (
	"cmp"
	"maps"
	"net/netip"
	"slices"
	"strings"

	"github.com/tcpreap/tcpreap/inet"
	"github.com/tcpreap/tcpreap/sockdiag"
)

// A Breakdown counts a plan's targets by what destroying them does and by
// peer: what a person must see before saying yes.
type Breakdown struct {
	States []StateCount // by protocol, then state
	Peers  []PeerCount  // most sockets first
}

// A StateCount is how many targets share a protocol and a state, and what
// destroying them does to the peer.
type StateCount struct {
	Protocol inet.Protocol
	State    sockdiag.State
	// ResetsPeer: the kernel sends the peer a reset (sockdiag.ResetsPeer).
	ResetsPeer bool
	N          int
}

// A PeerCount is how many targets have one remote address (IPv4 unmapped).
type PeerCount struct {
	Peer netip.Addr
	N    int
}

// Breakdown counts the plan's targets.
func (p *Plan) Breakdown() Breakdown {
	type stateKey struct {
		proto inet.Protocol
		state sockdiag.State
		reset bool
	}
	states := map[stateKey]int{}
	peers := map[netip.Addr]int{}
	for _, s := range p.Targets {
		if p.Absent[s.ID.Cookie] {
			continue // gone since the plan was made: nothing to tell its peer
		}
		states[stateKey{s.Protocol, s.State, s.ResetsPeer()}]++
		peers[s.ID.Remote.Addr().Unmap()]++
	}
	var b Breakdown
	for _, k := range slices.SortedFunc(maps.Keys(states), func(a, b stateKey) int {
		return cmp.Or(cmp.Compare(a.proto, b.proto), cmp.Compare(a.state, b.state), cmpBool(a.reset, b.reset))
	}) {
		b.States = append(b.States, StateCount{Protocol: k.proto, State: k.state, ResetsPeer: k.reset, N: states[k]})
	}
	for _, a := range slices.SortedFunc(maps.Keys(peers), func(a, b netip.Addr) int {
		return cmp.Or(cmp.Compare(peers[b], peers[a]), strings.Compare(a.String(), b.String()))
	}) {
		b.Peers = append(b.Peers, PeerCount{Peer: a, N: peers[a]})
	}
	return b
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}
