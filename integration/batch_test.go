package integration

import (
	"net/netip"
	"testing"

	"github.com/tcpreap/tcpreap/integration/testnet"
)

// TestIntegrationManyTargets destroys more targets than one batch holds, so
// that batches go out on several netlink sockets at once: every target gets
// its own result, the kernel shows none of them afterwards, and the
// connections with another peer survive.
func TestIntegrationManyTargets(t *testing.T) {
	e := setup(t)
	l := e.listen(e.Local, netip.AddrPortFrom(testnet.LocalV4, 0))
	const n = 300 // more than two batches of 128
	doomed := make([]conn, 0, n)
	for range n {
		doomed = append(doomed, tcp("inbound", e.inbound(l, peer)))
	}
	other := e.inbound(l, otherPeer)

	r := e.json(0, testnet.PeerV4.String())
	expectRecords(t, r, "killed", doomed...)
	if want := (testnet.Summary{Matched: n, Killed: n}); r.Summary != want {
		t.Errorf("summary %+v, want %+v", r.Summary, want)
	}
	ss := e.sockets()
	expectGone(t, ss, doomed...)
	expectPresent(t, ss, "established", tcp("other peer", other))
	expectListening(t, ss, l)
}
