package integration

import (
	"io"
	"net"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/tcpreap/tcpreap/integration/testnet"
)

// TestIntegrationIdle: --idle 2s destroys the connection that has been silent for 3 s and
// spares the one that exchanged data within the last second.
func TestIntegrationIdle(t *testing.T) {
	e := setup(t)
	l := e.listenV4()
	silent := e.inbound(l, netip.AddrPortFrom(testnet.PeerV4, 0))
	active := e.inbound(l, netip.AddrPortFrom(testnet.PeerV4, 0))
	time.Sleep(3 * time.Second)
	exchange(t, active.Peer, active.Local)
	exchange(t, active.Local, active.Peer)
	port := strconv.Itoa(int(silent.LocalAddr().Port()))
	r := e.json(0, "-y", "--idle", "2s", "--local-port", port)
	expectRecords(t, r, "killed", tcp("silent", silent))
	ss := e.sockets()
	expectGone(t, ss, tcp("silent", silent))
	expectPresent(t, ss, "established", tcp("active", active))
	expectReset(t, "silent", silent.Peer)
}

// TestIntegrationStalled: a client in A sent data to a peer that then went away (B's link
// down: every packet to it is lost): after --stalled-for 3s its connection is selected,
// and a healthy connection with data in flight (over loopback, its acks coming) is not.
func TestIntegrationStalled(t *testing.T) {
	e := setup(t)
	server := e.listen(e.Peer, netip.AddrPortFrom(testnet.PeerV4, 0))
	stuck := e.outbound(server)
	healthy := e.loopbackFlow()
	e.run(e.Peer, "ip", "link", "set", "veth0", "down")
	if _, err := stuck.Local.Write(make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3500 * time.Millisecond)
	// Too early: nothing has gone unacknowledged for 10 s.
	if r := e.json(0, "list", "--stalled", "--stalled-for", "10s"); len(r.Sockets) != 0 {
		t.Errorf("--stalled-for 10s, 3.5 s after the peer went: %d sockets selected", len(r.Sockets))
	}
	r := e.json(0, "-y", "--stalled", "--stalled-for", "3s")
	expectRecords(t, r, "killed", tcp("stuck", stuck))
	ss := e.sockets()
	expectGone(t, ss, tcp("stuck", stuck))
	expectPresent(t, ss, "established", tcp("healthy", healthy))
}

// exchange sends one byte from one end and reads it at the other.
func exchange(t *testing.T, from, to *net.TCPConn) {
	t.Helper()
	if _, err := from.Write([]byte{1}); err != nil {
		t.Fatal(err)
	}
	to.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(to, make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
}

// loopbackFlow is a connection inside A, over loopback, that carries data until the test
// ends: it always has some in flight, and its acks come.
func (e *env) loopbackFlow() testnet.Pair {
	e.t.Helper()
	l := e.listen(e.Local, netip.MustParseAddrPort("127.0.0.1:0"))
	var client net.Conn
	e.check(e.Local.Do(func() (err error) {
		client, err = net.Dial("tcp", l.Addr().String())
		return err
	}))
	server, err := l.AcceptTCP()
	e.check(err)
	stop := make(chan struct{})
	e.t.Cleanup(func() { close(stop); client.Close(); server.Close() })
	go func() {
		buf := make([]byte, 64<<10)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := client.Write(buf); err != nil {
				return
			}
		}
	}()
	go io.Copy(io.Discard, server)
	p, err := testnet.PairOf(client.(*net.TCPConn), server)
	e.check(err)
	return p
}
