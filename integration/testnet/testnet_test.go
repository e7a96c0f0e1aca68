package testnet

import (
	"errors"
	"net/netip"
	"syscall"
	"testing"
)

func TestParseSS(t *testing.T) {
	// Captured from iproute2 6.1 `ss -Htanue`.
	out := `udp UNCONN     0      0              127.0.0.53%lo:53             0.0.0.0:*     ino:4410 sk:7 cgroup:unreachable:1 <->
tcp LISTEN     0      128                     *:5432                   *:*     ino:4402 sk:3 cgroup:unreachable:1 v6only:0 <->
tcp ESTAB      0      0      [::ffff:127.0.0.1]:5432  [::ffff:127.0.0.1]:36138 ino:4404 sk:4 cgroup:unreachable:1 <->
tcp TIME-WAIT 0      0                   [::1]:5432               [::1]:50842 timer:(timewait,59sec,0) ino:0 sk:1a
tcp CLOSE-WAIT 1      0                   192.0.2.1:50842              192.0.2.2:5432  ino:4405 sk:6 cgroup:unreachable:1 -->
`
	got, err := parseSS(out)
	if err != nil {
		t.Fatal(err)
	}
	ap := netip.MustParseAddrPort
	want := Sockets{
		{"udp", "close", ap("127.0.0.53:53"), ap("0.0.0.0:0"), 7},
		{"tcp", "listen", ap("[::]:5432"), ap("[::]:0"), 3},
		{"tcp", "established", ap("[::ffff:127.0.0.1]:5432"), ap("[::ffff:127.0.0.1]:36138"), 4},
		{"tcp", "time_wait", ap("[::1]:5432"), ap("[::1]:50842"), 0x1a},
		{"tcp", "close_wait", ap("192.0.2.1:50842"), ap("192.0.2.2:5432"), 6},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d sockets, want %d:%s", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d: got %v, want %v", i, got[i], want[i])
		}
	}
	for _, bad := range []string{"tcp ESTAB 0 0 1.2.3.4:1\n", "tcp WEIRD 0 0 1.2.3.4:1 1.2.3.4:2\n", "tcp ESTAB 0 0 1.2.3.4:x 1.2.3.4:2\n", "tcp ESTAB 0 0 1.2.3:1 1.2.3.4:2\n"} {
		if _, err := parseSS(bad); err == nil {
			t.Errorf("parseSS(%q): no error", bad)
		}
	}
}

func TestParseReport(t *testing.T) {
	out := `{"proto":"tcp","family":"ipv6","state":"close_wait","local_ip":"::ffff:192.0.2.1","local_port":5432,"remote_ip":"::ffff:192.0.2.2","remote_port":40000,"cookie":18446744073709551615,"inode":77,"uid":0,"action":"killed"}
{"summary":{"matched":1,"killed":1,"gone":0,"failed":0,"skipped":0,"dry_run":false}}
`
	r, err := ParseReport(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Sockets) != 1 || r.Sockets[0].Cookie != 1<<64-1 || r.Sockets[0].Remote() != netip.MustParseAddrPort("[::ffff:192.0.2.2]:40000") {
		t.Errorf("sockets: %+v", r.Sockets)
	}
	if r.Summary != (Summary{Matched: 1, Killed: 1}) {
		t.Errorf("summary: %+v", r.Summary)
	}
	for name, bad := range map[string]string{
		"no summary":      `{"proto":"tcp","family":"ipv4","state":"established","local_ip":"192.0.2.1","local_port":1,"remote_ip":"192.0.2.2","remote_port":2,"cookie":1,"inode":1,"uid":0,"action":"killed"}` + "\n",
		"missing cookie":  `{"proto":"tcp","family":"ipv4","state":"established","local_ip":"192.0.2.1","local_port":1,"remote_ip":"192.0.2.2","remote_port":2,"inode":1,"uid":0,"action":"killed"}` + "\n" + `{"summary":{"matched":1,"killed":1,"gone":0,"failed":0,"skipped":0,"dry_run":false}}` + "\n",
		"after summary":   `{"summary":{"matched":0,"killed":0,"gone":0,"failed":0,"skipped":0,"dry_run":false}}` + "\n{}\n",
		"summary partial": `{"summary":{"matched":0}}` + "\n",
		"not json":        "tcp established\n",
	} {
		if _, err := ParseReport(bad); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// TestIntegrationHarness checks that the harness makes what it promises, as the kernel
// shows it: every state, the cookies, v4-mapped sockets, and the application errors.
func TestIntegrationHarness(t *testing.T) {
	t.Parallel()
	n := New(t)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	l, err := n.Listen(n.Local, netip.AddrPortFrom(LocalV4, 0))
	must(err)
	dual, err := n.Listen(n.Local, netip.AddrPortFrom(netip.IPv6Unspecified(), 0))
	must(err)
	pl, err := n.Listen(n.Peer, netip.AddrPortFrom(PeerV4, 0))
	must(err)

	est, err := n.Inbound(l, netip.AddrPortFrom(PeerV4, 0))
	must(err)
	out, err := n.Outbound(pl)
	must(err)
	cw, err := n.Inbound(l, netip.AddrPortFrom(OtherPeerV4, 0))
	must(err)
	must(n.CloseWait(cw))
	fw, err := n.Inbound(l, netip.AddrPortFrom(PeerV4, 0))
	must(err)
	must(n.FinWait2(fw))
	tw, err := n.Inbound(l, netip.AddrPortFrom(PeerV4, 0))
	must(err)
	must(n.TimeWait(tw))
	mapped, err := n.Inbound(dual, netip.AddrPortFrom(PeerV4, 0))
	must(err)
	v6, err := n.Inbound(dual, netip.AddrPortFrom(PeerV6, 0))
	must(err)
	udp, err := n.ConnectedUDP(netip.AddrPortFrom(PeerV4, 0))
	must(err)
	must(Echo(est))

	ss, err := n.Local.Sockets()
	must(err)
	t.Logf("sockets in A:%s", ss)
	for _, c := range []struct {
		name   string
		local  netip.AddrPort
		remote netip.AddrPort
		cookie uint64
		state  string
	}{
		{"inbound", est.LocalAddr(), est.RemoteAddr(), est.Cookie, "established"},
		{"outbound", out.LocalAddr(), out.RemoteAddr(), out.Cookie, "established"},
		{"close_wait", cw.LocalAddr(), cw.RemoteAddr(), cw.Cookie, "close_wait"},
		{"fin_wait2", fw.LocalAddr(), fw.RemoteAddr(), fw.Cookie, "fin_wait2"},
		{"time_wait", tw.LocalAddr(), tw.RemoteAddr(), tw.Cookie, "time_wait"},
		{"v4-mapped", mapped.LocalAddr(), mapped.RemoteAddr(), mapped.Cookie, "established"},
		{"ipv6", v6.LocalAddr(), v6.RemoteAddr(), v6.Cookie, "established"},
		{"udp", udp.LocalAddr(), udp.RemoteAddr(), udp.Cookie, "established"},
	} {
		s, ok := ss.Find(c.local, c.remote)
		switch {
		case !ok:
			t.Errorf("%s: %s -> %s not in the kernel's view", c.name, c.local, c.remote)
		case s.State != c.state || s.Cookie != c.cookie || c.cookie == 0:
			t.Errorf("%s: kernel shows %v, want state %s cookie %d", c.name, s, c.state, c.cookie)
		}
	}
	if got := mapped.RemoteAddr().Addr(); !got.Is4In6() || got.Unmap() != PeerV4 {
		t.Errorf("dual-stack listener's IPv4 connection has remote %s, want ::ffff:%s", got, PeerV4)
	}
	if _, err := n.Peer.Sockets(); err != nil {
		t.Error(err)
	}

	q, err := n.Inbound(l, netip.AddrPortFrom(PeerV4, 47001))
	must(err)
	r, err := n.Reincarnate(l, q)
	must(err)
	if r.Cookie == q.Cookie {
		t.Errorf("reincarnated connection kept cookie %d", q.Cookie)
	}
	ss, err = n.Local.Sockets()
	must(err)
	if s, ok := ss.Find(q.LocalAddr(), q.RemoteAddr()); !ok || s.Cookie != r.Cookie {
		t.Errorf("tuple %s -> %s: kernel shows %v (present %v), want cookie %d", q.LocalAddr(), q.RemoteAddr(), s, ok, r.Cookie)
	}

	// Closing B's end of est abortively must show up as ECONNRESET in A: the same check
	// the tests make after tcpreap destroys a socket, here without tcpreap.
	must(est.Peer.SetLinger(0))
	must(est.Peer.Close())
	if err := ReadErr(est.Local); !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("A's read after B's reset: %v, want ECONNRESET", err)
	}
}

// TestIntegrationHarnessClose checks that Close leaves no namespace behind, even with
// open connections in it.
func TestIntegrationHarnessClose(t *testing.T) {
	t.Parallel()
	n := New(t)
	l, err := n.Listen(n.Local, netip.AddrPortFrom(LocalV4, 0))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.Inbound(l, netip.AddrPortFrom(PeerV4, 0)); err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	for _, h := range []*Host{n.Local, n.Peer} {
		if res, err := h.Run("true"); err == nil && res.Code == 0 {
			t.Errorf("namespace %s still exists after Close", h.Name)
		}
	}
}
