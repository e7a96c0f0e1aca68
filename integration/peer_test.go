package integration

import (
	"net/netip"
	"testing"

	"github.com/tcpreap/tcpreap/integration/testnet"
)

// TestIntegrationPeerCut is "cut every connection with 192.0.2.2": every state of every
// connection with that peer goes, in either direction; another peer on the same host and
// the listener stay and keep working.
func TestIntegrationPeerCut(t *testing.T) {
	e := setup(t)
	l := e.listen(e.Local, netip.AddrPortFrom(testnet.LocalV4, 0))
	peerListener := e.listen(e.Peer, netip.AddrPortFrom(testnet.PeerV4, 0))

	in := e.inbound(l, peer)
	out := e.outbound(peerListener)
	cw := e.closeWait(l, peer)
	fw := e.finWait2(l, peer)
	other := e.inbound(l, otherPeer)
	otherCW := e.closeWait(l, otherPeer)
	doomed := []conn{tcp("inbound", in), tcp("outbound", out), tcp("close_wait", cw), tcp("fin_wait2", fw)}

	r := e.json(0, testnet.PeerV4.String())
	expectRecords(t, r, "killed", doomed...)
	if want := (testnet.Summary{Matched: 4, Killed: 4}); r.Summary != want {
		t.Errorf("summary %+v, want %+v", r.Summary, want)
	}

	ss := e.sockets()
	expectGone(t, ss, doomed...)
	for _, s := range ss {
		if s.Remote.Addr() == testnet.PeerV4 {
			t.Errorf("a socket with %s is left: %v", testnet.PeerV4, s)
		}
	}
	expectPresent(t, ss, "established", tcp("other peer", other))
	expectPresent(t, ss, "close_wait", tcp("other peer's close_wait", otherCW))
	expectListening(t, ss, l)

	expectAborted(t, "inbound", in.Local)
	expectReset(t, "inbound", in.Peer)
	expectAborted(t, "outbound", out.Local)
	expectReset(t, "outbound", out.Peer)
	expectWriteAborted(t, "close_wait", cw.Local)
	expectAborted(t, "fin_wait2", fw.Local)

	if err := testnet.Echo(other); err != nil {
		t.Errorf("the other peer's connection no longer carries data: %v", err)
	}
	if _, err := e.Inbound(l, peer); err != nil {
		t.Errorf("the listener no longer accepts: %v", err)
	}
}
