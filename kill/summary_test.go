package kill_test

import (
	"net/netip"
	"testing"

	"github.com/tcpreap/tcpreap/inet"
	"github.com/tcpreap/tcpreap/kill"
	"github.com/tcpreap/tcpreap/sockdiag"
)

func TestBreakdown(t *testing.T) {
	other := socket(sockdiag.Established, 40010, 10)
	other.ID.Remote = netip.MustParseAddrPort("192.0.2.9:40010")
	mapped := socket(sockdiag.Established, 40011, 11)
	mapped.Family = inet.IPv6
	mapped.ID.Local, mapped.ID.Remote = mapAddrPort(mapped.ID.Local), mapAddrPort(mapped.ID.Remote)
	tw := socket(sockdiag.FinWait2, 40012, 12)
	tw.Timer = 3 // a timewait socket: no reset
	plan := &kill.Plan{Targets: []sockdiag.Socket{
		socket(sockdiag.CloseWait, 40000, 1), socket(sockdiag.CloseWait, 40001, 2), other, mapped, tw,
	}}
	b := plan.Breakdown()
	wantStates := []kill.StateCount{
		{Protocol: inet.TCP, State: sockdiag.Established, ResetsPeer: true, N: 2},
		{Protocol: inet.TCP, State: sockdiag.FinWait2, ResetsPeer: false, N: 1},
		{Protocol: inet.TCP, State: sockdiag.CloseWait, ResetsPeer: true, N: 2},
	}
	if len(b.States) != len(wantStates) {
		t.Fatalf("states %+v, want %+v", b.States, wantStates)
	}
	for i := range wantStates {
		if b.States[i] != wantStates[i] {
			t.Errorf("state %d: %+v, want %+v", i, b.States[i], wantStates[i])
		}
	}
	// The v4-mapped peer counts as its IPv4 address.
	wantPeers := []kill.PeerCount{{Peer: netip.MustParseAddr("192.0.2.2"), N: 4}, {Peer: netip.MustParseAddr("192.0.2.9"), N: 1}}
	if len(b.Peers) != 2 || b.Peers[0] != wantPeers[0] || b.Peers[1] != wantPeers[1] {
		t.Errorf("peers %+v, want %+v", b.Peers, wantPeers)
	}
}
