package integration

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/tcpreap/tcpreap/integration/testnet"
)

// TestIntegrationExactPeer selects single connections by the peer's address and port, over
// IPv4, IPv6, v4-mapped IPv6 and UDP.
func TestIntegrationExactPeer(t *testing.T) {
	t.Run("ipv4 address and port", func(t *testing.T) {
		e := setup(t)
		l := e.listen(e.Local, netip.AddrPortFrom(testnet.LocalV4, 0))
		target := e.inbound(l, peer)
		sibling := e.inbound(l, peer) // same peer address, another port

		r := e.json(0, target.RemoteAddr().String())
		expectRecords(t, r, "killed", tcp("target", target))
		ss := e.sockets()
		expectGone(t, ss, tcp("target", target))
		expectPresent(t, ss, "established", tcp("same peer, other port", sibling))
		expectAborted(t, "target", target.Local)
		expectReset(t, "target", target.Peer)
	})

	t.Run("ipv6", func(t *testing.T) {
		e := setup(t)
		l := e.listen(e.Local, netip.AddrPortFrom(testnet.LocalV6, 0))
		l4 := e.listen(e.Local, netip.AddrPortFrom(testnet.LocalV4, 0))
		first := e.inbound(l, netip.AddrPortFrom(testnet.PeerV6, 0))
		second := e.inbound(l, netip.AddrPortFrom(testnet.PeerV6, 0))
		v4 := e.inbound(l4, peer)

		arg := fmt.Sprintf("[%s]:%d", testnet.PeerV6, first.RemoteAddr().Port())
		r := e.json(0, arg)
		expectRecords(t, r, "killed", tcp("first", first))
		for _, rec := range r.Sockets {
			if rec.Family != "ipv6" {
				t.Errorf("%+v: family %q, want ipv6", rec, rec.Family)
			}
		}
		ss := e.sockets()
		expectGone(t, ss, tcp("first", first))
		expectPresent(t, ss, "established", tcp("second", second), tcp("ipv4", v4))
		expectAborted(t, "first", first.Local)
		expectReset(t, "first", first.Peer)

		r = e.json(0, testnet.PeerV6.String())
		expectRecords(t, r, "killed", tcp("second", second))
		ss = e.sockets()
		expectGone(t, ss, tcp("second", second))
		expectPresent(t, ss, "established", tcp("ipv4", v4))
	})

	t.Run("v4-mapped", func(t *testing.T) {
		e := setup(t)
		dual := e.listen(e.Local, netip.AddrPortFrom(netip.IPv6Unspecified(), 0))
		target := e.inbound(dual, peer)
		other := e.inbound(dual, otherPeer)
		if a := target.RemoteAddr().Addr(); !a.Is4In6() {
			t.Fatalf("A's socket has remote %s, want a v4-mapped address: the test needs an AF_INET6 socket", a)
		}

		r := e.json(0, testnet.PeerV4.String())
		expectRecords(t, r, "killed", tcp("v4-mapped", target))
		for _, rec := range r.Sockets {
			if rec.Family != "ipv6" || rec.RemoteIP != netip.AddrFrom16(testnet.PeerV4.As16()) {
				t.Errorf("%+v: want family ipv6 and remote_ip ::ffff:%s", rec, testnet.PeerV4)
			}
		}
		ss := e.sockets()
		expectGone(t, ss, tcp("v4-mapped", target))
		expectPresent(t, ss, "established", tcp("other peer", other))
		expectListening(t, ss, dual)
		expectAborted(t, "v4-mapped", target.Local)
		expectReset(t, "v4-mapped", target.Peer)
	})

	t.Run("udp", func(t *testing.T) {
		e := setup(t)
		l := e.listen(e.Local, netip.AddrPortFrom(testnet.LocalV4, 0))
		target, err := e.ConnectedUDP(peer)
		e.check(err)
		other, err := e.ConnectedUDP(otherPeer)
		e.check(err)
		tcpSame := e.inbound(l, peer) // -u leaves TCP alone

		r := e.json(0, "-u", testnet.PeerV4.String())
		expectRecords(t, r, "killed", udp("udp", target))
		for _, rec := range r.Sockets {
			if rec.Proto != "udp" || rec.State != "established" {
				t.Errorf("%+v: want proto udp, state established (connected)", rec)
			}
		}
		ss := e.sockets()
		expectGone(t, ss, udp("udp", target))
		expectPresent(t, ss, "established", udp("other peer's udp", other), tcp("tcp with the same peer", tcpSame))
		expectAborted(t, "udp", target.Local)
	})
}
