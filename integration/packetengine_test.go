// The packet engine: local sockets reset with forged segments after a challenge ACK,
// compared with SOCK_DESTROY's diag engine result for result.

package integration

import (
	"errors"
	"net/netip"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/tcpreap/tcpreap/integration/testnet"
)

// TestIntegrationEnginePacket destroys the same population with --engine diag and with
// --engine packet, every state named, and compares them result for result: every
// connection in a synchronized state (ESTABLISHED both ways, CLOSE_WAIT, IPv6, v4-mapped,
// shared) killed by both, each result naming its engine; the listeners (those of an
// SO_REUSEPORT group too), the TIME_WAIT socket and the connected UDP ones refused by the
// packet engine, each with its reason (exit 1), and still there; the unconnected UDP
// socket kept back by both. The kernel shows none of the killed ones afterwards, and every
// peer of an ESTABLISHED connection, and every owner, reads ECONNRESET.
func TestIntegrationEnginePacket(t *testing.T) {
	if major, _ := kernelVersion(t); major < 6 {
		t.Skip("the comparison expects SOCK_DESTROY to destroy TIME_WAIT sockets (Linux 6.0)")
	}
	e := setup(t)
	run := e.compareEngines("packet")
	p, pop, diag, got, rp := run.other, run.pop, run.diag, run.got, run.report
	refusal := func(key string) string {
		switch {
		case key == "time_wait":
			return "TIME-WAIT socket"
		case strings.Contains(key, "udp"):
			return "UDP has no reset"
		case strings.Contains(key, "listen"):
			return "LISTEN socket"
		}
		return ""
	}
	refused := []conn{tcp("time_wait", pop.timeWait)}
	for key, d := range diag {
		x := got[key]
		if key == "unconnected udp" {
			expectUnconnectedKept(t, d, x)
			continue
		}
		if d != (outcome{action: "killed", engine: "diag"}) {
			t.Errorf("%s by diag: %+v, want killed", key, d)
		}
		switch why := refusal(key); {
		case why != "" && (x.action != "failed" || x.engine != "packet" || !strings.Contains(x.err, why)):
			t.Errorf("%s by packet: %+v, want failed by packet: %s", key, x, why)
		case why == "" && x != (outcome{action: "killed", engine: "packet"}):
			t.Errorf("%s by packet: %+v, want killed by packet", key, x)
		}
	}
	// Five killed connections and the shared one; three listeners, two of a group, two
	// UDP sockets of a group, the connected UDP one and the TIME_WAIT one refused; the
	// unconnected UDP one kept back.
	if rp.Summary != (testnet.Summary{Matched: 16, Killed: 6, Failed: 9, Skipped: 1}) {
		t.Errorf("packet summary %+v", rp.Summary)
	}
	refused = append(append(refused, udp("connected udp", pop.udp)), pop.reuse...)
	cs := pop.conns()
	killed := slices.DeleteFunc(slices.Clone(cs), func(c conn) bool {
		return refusal(c.name) != "" || c.name == "unconnected udp"
	})
	ss := p.sockets()
	expectGone(t, ss, killed...)
	for _, c := range append(refused, pop.unconnected) {
		expectKept(t, ss, c)
	}
	for _, x := range []struct {
		name string
		pair testnet.Pair
	}{{"established", pop.est}, {"outbound", pop.out}, {"ipv6", pop.v6}, {"v4-mapped", pop.mapped}, {"shared", pop.shared}} {
		expectReset(t, x.name, x.pair.Peer)
		// The owner's socket was reset too, not aborted: its read says so.
		if err := testnet.ReadErr(x.pair.Local); !errors.Is(err, syscall.ECONNRESET) {
			t.Errorf("%s: A's read: %v, want ECONNRESET", x.name, err)
		}
	}
}

// TestIntegrationEnginePacketOrphans: an orphaned FIN_WAIT2 socket (its application
// closed it; its peer sits in CLOSE_WAIT and still answers) is killed by the diag engine
// and by the packet engine alike, and the packet engine's RST ends the peer's socket too; a
// socket whose peer cannot be reached (its route a blackhole) is reported unreachable by
// the packet engine, never killed, and stays; without CAP_NET_RAW nothing is sent or
// destroyed (exit 1, the capability named); a challenge ACK limit that swallows every
// answer is reported as such, and the socket left alone until the limit lets an answer
// through; tcpdump on both hosts saw no packet of a connection that was not planned.
func TestIntegrationEnginePacketOrphans(t *testing.T) {
	e := setup(t)
	l := e.listenV4()
	byDiag, byPacket := e.inbound(l, peer), e.inbound(l, otherPeer)
	e.check(e.OrphanFinWait2(byDiag))
	e.check(e.OrphanFinWait2(byPacket))
	bystander := e.inbound(l, peer)

	rd := e.json(0, "--engine", "diag", "-y", "--state", "fin_wait2", testnet.PeerV4.String())
	expectRecords(t, rd, "killed", tcp("orphan", byDiag))

	var captures []*testnet.Capture
	for _, h := range []*testnet.Host{e.Local, e.Peer} {
		c, err := h.Capture(t.TempDir())
		e.check(err)
		captures = append(captures, c)
	}
	rp := e.json(0, "--engine", "packet", "-y", "--state", "fin_wait2", testnet.OtherPeerV4.String())
	var packets []testnet.Packet
	for _, c := range captures {
		ps, err := c.Stop()
		e.check(err)
		packets = append(packets, ps...)
	}
	expectRecords(t, rp, "killed", tcp("orphan", byPacket))
	for _, r := range rp.Sockets {
		if r.Engine != "packet" {
			t.Errorf("%+v: want the packet engine", r)
		}
	}
	expectGone(t, e.sockets(), tcp("orphan by diag", byDiag), tcp("orphan by packet", byPacket))
	// The peer in CLOSE_WAIT got the RST too: its socket is gone (its read says EOF, for
	// the FIN it had, before any error).
	e.check(e.Peer.AwaitGone(byPacket.RemoteAddr(), byPacket.LocalAddr()))
	planned := [2]netip.AddrPort{byPacket.LocalAddr(), byPacket.RemoteAddr()}
	for _, p := range packets {
		if p.Flags != "." && [2]netip.AddrPort{p.Src, p.Dst} != planned && [2]netip.AddrPort{p.Dst, p.Src} != planned {
			t.Errorf("captured %s: of no planned socket", p)
		}
	}
	if len(packets) == 0 {
		t.Error("tcpdump captured nothing: the reset went unseen")
	}

	// Without CAP_NET_RAW: nothing sent, nothing destroyed.
	noRaw := []string{"setpriv", "--bounding-set=-net_raw", "--inh-caps=-net_raw", bin, "--engine", "packet", "-y", "--state", "established", testnet.PeerV4.String()}
	res := e.run(e.Local, noRaw...)
	if res.Code != 1 || !strings.Contains(res.Stderr, "CAP_NET_RAW") {
		t.Errorf("%q: exit %d, stderr %q; want exit 1 and a sentence that names CAP_NET_RAW", noRaw, res.Code, res.Stderr)
	}
	expectPresent(t, e.sockets(), "established", tcp("bystander", bystander))
	if res := e.tcpreap("--engine", "pakket", "-y", testnet.PeerV4.String()); res.Code != 2 || !strings.Contains(res.Stderr, "packet") {
		t.Errorf("--engine pakket: exit %d, stderr %q; want exit 2 and the engines named", res.Code, res.Stderr)
	}

	// The peer's route a blackhole: the socket's challenge ACK never leaves, and the
	// engine leaves the socket alone. A per-socket challenge ACK limit of 10 s swallows
	// every answer after the first.
	ratelimit := func(ms string) {
		e.check(e.Local.Do(func() error {
			return os.WriteFile("/proc/sys/net/ipv4/tcp_invalid_ratelimit", []byte(ms), 0o644)
		}))
	}
	// blackhole adds or deletes the route; failed requires that a run of the packet
	// engine fails the bystander with a message that says why, and leaves it.
	blackhole := func(verb string) {
		if res := e.run(e.Local, "ip", "route", verb, "blackhole", testnet.PeerV4.String()+"/32"); res.Code != 0 {
			t.Fatalf("ip route %s blackhole: %s", verb, res.Stderr)
		}
	}
	failed := func(why string) {
		r := e.json(1, "--engine", "packet", "-y", "--state", "established", testnet.PeerV4.String())
		if len(r.Sockets) != 1 || r.Sockets[0].Action != "failed" || !strings.Contains(r.Sockets[0].Error, why) {
			t.Errorf("%+v, want failed: %s", r.Sockets, why)
		}
		expectPresent(t, e.sockets(), "established", tcp("bystander", bystander))
	}
	ratelimit("10000")
	blackhole("add")
	failed("unreachable by the packet engine")
	// The route back, and the limit still swallowing every answer: the run says the limit
	// won, and leaves the socket alone.
	blackhole("del")
	failed("rate limit swallowed every answer")
	// With the limit at its default (500 ms), the probes that follow get through.
	ratelimit("500")
	rk := e.json(0, "--engine", "packet", "-y", "--state", "established", testnet.PeerV4.String())
	expectRecords(t, rk, "killed", tcp("bystander", bystander))
	expectReset(t, "bystander", bystander.Peer)
}
