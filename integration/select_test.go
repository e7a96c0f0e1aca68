// Selection: which sockets a run takes and which it leaves. A peer (every state of every
// connection with it, in either direction), a peer's exact address and port over IPv4, IPv6,
// v4-mapped IPv6 and UDP, each selector on its own, a host name as the peer, and the dry
// runs (-n, --dry-run, list, ls) whose plan is what a real run then destroys.

package integration

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tcpreap/tcpreap/integration/testnet"
	"golang.org/x/sys/unix"
)

// TestIntegrationPeerCut is "cut every connection with 192.0.2.2": every state of every
// connection with that peer goes, in either direction; another peer on the same host and
// the listener stay and keep working.
func TestIntegrationPeerCut(t *testing.T) {
	e := setup(t)
	m := e.peerMix()
	l, in, out, cw, other := m.listener, m.in, m.out, m.closeWait, m.bystander
	fw := e.finWait2(l, peer)
	otherCW := e.closeWait(l, otherPeer)
	doomed := append(m.targets(), tcp("fin_wait2", fw))

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

// TestIntegrationExactPeer selects single connections by the peer's address and port, over
// IPv4, IPv6, v4-mapped IPv6 and UDP.
func TestIntegrationExactPeer(t *testing.T) {
	t.Run("ipv4 address and port", func(t *testing.T) {
		e := setup(t)
		l := e.listenV4()
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
		l4 := e.listenV4()
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
		l := e.listenV4()
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

// TestIntegrationDryRun checks that -n, --dry-run, list and ls destroy nothing, and that
// the plan they print is exactly what a real run then destroys: the same sockets, by cookie.
func TestIntegrationDryRun(t *testing.T) {
	e := setup(t)
	m := e.peerMix()
	doomed := m.targets()
	other := tcp("other peer", m.bystander)

	before := e.sockets()
	var planned []uint64
	for _, args := range [][]string{
		{"-n", testnet.PeerV4.String()},
		{"--dry-run", testnet.PeerV4.String()},
		{"list", testnet.PeerV4.String()},
		{"ls", testnet.PeerV4.String()},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			e := e.sub(t)
			r := e.json(0, args...)
			expectRecords(t, r, "would_kill", doomed...)
			if want := (testnet.Summary{Matched: 3, DryRun: true}); r.Summary != want {
				t.Errorf("summary %+v, want %+v", r.Summary, want)
			}
			cookies := sorted(r.Cookies("would_kill"))
			if planned == nil {
				planned = cookies
			} else if !slices.Equal(cookies, planned) {
				t.Errorf("planned cookies %v, an earlier dry run planned %v", cookies, planned)
			}
			expectUnchanged(t, before, e.sockets())
		})
	}

	// list needs no selector: then it shows every connection, still in every state but listen.
	r := e.json(0, "list")
	expectRecords(t, r, "would_kill", append(doomed, other)...)
	expectUnchanged(t, before, e.sockets())
	// A dry run rehearses the real run: without a selector it needs --all as the real
	// run does, and with it shows what the real run would destroy.
	if res := e.tcpreap("-n"); res.Code != 2 || !strings.Contains(res.Stderr, "give --all") || res.Stdout != "" {
		t.Errorf("-n without a selector: exit %d, %q; want 2 and the --all rule", res.Code, res.Stderr)
	}
	expectRecords(t, e.json(0, "-n", "--all"), "would_kill", append(doomed, other)...)
	expectUnchanged(t, before, e.sockets())

	r = e.json(0, testnet.PeerV4.String())
	if killed := sorted(r.Cookies("killed")); !slices.Equal(killed, planned) {
		t.Errorf("killed cookies %v, the dry runs planned %v", killed, planned)
	}
	ss := e.sockets()
	expectGone(t, ss, doomed...)
	expectPresent(t, ss, "established", other)
}

// sorted sorts cookies in place and returns them.
func sorted(cs []uint64) []uint64 {
	slices.Sort(cs)
	return cs
}

// world is host A with one connection of each kind: IPv4 from B to 7001,
// IPv6 from B to 7002, IPv4 from B to a dual-stack listener on 7003 (an
// AF_INET6 socket with v4-mapped addresses), and a loopback connection to
// 7004 whose two ends are both in A.
type world struct {
	v4, v6, mapped, loopClient, loopServer conn
}

func (w world) byName(name string) conn {
	return map[string]conn{"v4": w.v4, "v6": w.v6, "mapped": w.mapped, "loop-client": w.loopClient, "loop-server": w.loopServer}[name]
}

func newWorld(e *env) world {
	l4 := e.listen(e.Local, netip.MustParseAddrPort("192.0.2.1:7001"))
	l6 := e.listen(e.Local, netip.MustParseAddrPort("[2001:db8::1]:7002"))
	dual := e.listen(e.Local, netip.MustParseAddrPort("[::]:7003"))
	lo := e.listen(e.Local, netip.MustParseAddrPort("127.0.0.1:7004"))
	loop := e.outbound(lo)
	server := loop.Peer.LocalAddr().String()
	w := world{
		v4:         tcp("v4", e.inbound(l4, peer)),
		v6:         tcp("v6", e.inbound(l6, netip.AddrPortFrom(testnet.PeerV6, 0))),
		mapped:     tcp("mapped", e.inbound(dual, peer)),
		loopClient: tcp("loop-client", loop),
	}
	w.loopServer = conn{name: "loop-server", local: netip.MustParseAddrPort(server), remote: w.loopClient.local}
	for _, s := range e.sockets() {
		if s.Local == w.loopServer.local && s.Remote == w.loopServer.remote {
			w.loopServer.cookie = s.Cookie
		}
	}
	if w.loopServer.cookie == 0 {
		e.t.Fatalf("the kernel does not show the loopback server socket %s", server)
	}
	return w
}

// TestIntegrationSelectors destroys with each selector on its own and checks
// that exactly the selected sockets left the kernel.
func TestIntegrationSelectors(t *testing.T) {
	// loop: the selection reaches the loopback connection. Its two ends are
	// both in A, so destroying one resets the other: the pair goes together,
	// the second end reported killed or gone (if the reset got there first),
	// or not at all when the selection names only one end.
	tests := []struct {
		name   string
		args   []string
		killed []string
		loop   []string // the loopback ends the selection names
	}{
		{"-4 takes IPv4 and v4-mapped", []string{"-4", "--state", "established"}, []string{"v4", "mapped"}, []string{"loop-client", "loop-server"}},
		{"-6 takes every IPv6 socket", []string{"-6", "--state", "established"}, []string{"v6", "mapped"}, nil},
		{"--local IPv6", []string{"--local", "2001:db8::1"}, []string{"v6"}, nil},
		{"--local IPv4 CIDR matches v4-mapped", []string{"--local", "192.0.2.0/24"}, []string{"v4", "mapped"}, nil},
		{"--interface lo", []string{"--interface", "lo"}, nil, []string{"loop-client", "loop-server"}},
		{"--interface veth0", []string{"--interface", "veth0"}, []string{"v4", "v6", "mapped"}, nil},
		{"--port range, either end", []string{"--port", "7001-7002"}, []string{"v4", "v6"}, nil},
		{"--sport", []string{"--sport", "7003"}, []string{"mapped"}, nil},
		{"--dport", []string{"--dport", "7004"}, nil, []string{"loop-client"}},
		{"--port service name and number", []string{"--port", "7004,postgresql"}, nil, []string{"loop-client", "loop-server"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := setup(t)
			w := newWorld(e)
			r := e.json(0, tt.args...)
			expectSelected(t, e, w, r, tt.killed, tt.loop)
		})
	}
}

// TestIntegrationHostNamePeer resolves a PEER host name to all its
// addresses: ip netns exec puts /etc/netns/NAME/hosts over /etc/hosts.
func TestIntegrationHostNamePeer(t *testing.T) {
	e := setup(t)
	dir := filepath.Join("/etc/netns", e.Local.Name)
	e.check(os.MkdirAll(dir, 0o755))
	t.Cleanup(func() { os.RemoveAll(dir) })
	e.check(os.WriteFile(filepath.Join(dir, "hosts"), []byte("127.0.0.1 localhost\n192.0.2.2 db1.test\n2001:db8::2 db1.test\n"), 0o644))
	w := newWorld(e)

	res := e.tcpreap("--json", "db1.test")
	if !strings.Contains(res.Stderr, "peer db1.test is 192.0.2.2, 2001:db8::2") {
		t.Errorf("stderr %q does not show what db1.test resolved to", res.Stderr)
	}
	expectSelected(t, e, w, e.decode(res, 0), []string{"v4", "v6", "mapped"}, nil)

	res = e.tcpreap("nosuchhost.test")
	if res.Code != 2 || !strings.Contains(res.Stderr, `cannot resolve peer host name "nosuchhost.test"`) {
		t.Errorf("unknown host: exit %d, stderr %q; want exit 2 and the resolve error", res.Code, res.Stderr)
	}
}

// expectSelected checks tcpreap's report and the kernel: the killed sockets
// are reported killed and gone, every other one is still established; the
// loopback ends that the selection names are reported killed or gone (at
// least one killed), and then the whole loopback pair is gone.
func expectSelected(t *testing.T, e *env, w world, r testnet.Report, killed, loop []string) {
	t.Helper()
	var gone, kept []conn
	for _, name := range []string{"v4", "v6", "mapped"} {
		if slices.Contains(killed, name) {
			gone = append(gone, w.byName(name))
		} else {
			kept = append(kept, w.byName(name))
		}
	}
	var loopEnds []string
	loopKilled := false
	r.Sockets = slices.DeleteFunc(r.Sockets, func(rec testnet.Record) bool {
		if !rec.Local().Addr().IsLoopback() {
			return false
		}
		name := "loop-client"
		if rec.Cookie == w.loopServer.cookie {
			name = "loop-server"
		}
		loopEnds = append(loopEnds, name)
		if rec.Action != "killed" && rec.Action != "gone" {
			t.Errorf("%s reported %q, want killed or gone", name, rec.Action)
		}
		loopKilled = loopKilled || rec.Action == "killed"
		return true
	})
	slices.Sort(loopEnds)
	if !slices.Equal(loopEnds, loop) {
		t.Errorf("tcpreap reported the loopback ends %v, want %v", loopEnds, loop)
	}
	expectRecords(t, r, "killed", gone...)

	if len(loop) > 0 {
		if !loopKilled {
			t.Error("no loopback end was reported killed")
		}
		gone = append(gone, w.loopClient, w.loopServer)
	} else {
		kept = append(kept, w.loopClient, w.loopServer)
	}
	ss := e.sockets()
	expectGone(t, ss, gone...)
	expectPresent(t, ss, "established", kept...)
}

// TestIntegrationNamesMeanOnlyWhatTheySay: a host name that resolves to an unspecified
// address (a DNS sinkhole's answer) is no peer; a word that is a typo of a command or an ss
// keyword is never looked up; several host names resolve together, within one 5-second
// limit, even when the name server never answers. Nothing is destroyed.
func TestIntegrationNamesMeanOnlyWhatTheySay(t *testing.T) {
	e := setup(t)
	dir := filepath.Join("/etc/netns", e.Local.Name)
	e.check(os.MkdirAll(dir, 0o755))
	t.Cleanup(func() { os.RemoveAll(dir) })
	e.check(os.WriteFile(filepath.Join(dir, "hosts"), []byte("127.0.0.1 localhost\n0.0.0.0 sinkhole.test\n"), 0o644))
	// 192.0.2.53 is on host A's link but no host has it: every query goes unanswered.
	e.check(os.WriteFile(filepath.Join(dir, "resolv.conf"), []byte("nameserver 192.0.2.53\noptions timeout:5 attempts:3\n"), 0o644))
	l := e.listenV4()
	s := e.peerSet(l, 1)
	before := e.sockets()

	for _, c := range []struct {
		args  []string
		want  string
		limit time.Duration
	}{
		{[]string{"--state", "all", "sinkhole.test"}, `"sinkhole.test" resolves to 0.0.0.0, which is no peer`, 2 * time.Second},
		{[]string{"lsit", "-y"}, "did you mean tcpreap list", time.Second},
		{[]string{"--state", "all", "192.0.2.2", "aply"}, "did you mean tcpreap apply", time.Second},
		{[]string{"dst", "192.0.2.2"}, "ss's filters", time.Second},
		{[]string{"version"}, "tcpreap --version", time.Second},
		{[]string{"slow1.test", "slow2.test", "slow3.test", "slow4.test"}, `cannot resolve peer host name "slow`, 8 * time.Second},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			e := e.sub(t)
			start := time.Now()
			res := e.tcpreap(c.args...)
			if d := time.Since(start); d > c.limit {
				t.Errorf("took %v, more than %v", d, c.limit)
			}
			e.expectNothingDestroyed(res, 2, before)
			if !strings.Contains(res.Stderr, c.want) {
				t.Errorf("stderr %q, want %q", res.Stderr, c.want)
			}
		})
	}
	expectPresent(t, e.sockets(), "established", s.conns()[0])
}

// TestIntegrationInterfaceScope: link-local addresses repeat on every link. Host A has two
// links to B, each with fe80::1, and a connection over each; --interface of one link takes
// the connection scoped to it only, and the table shows each socket's scope as ss does.
func TestIntegrationInterfaceScope(t *testing.T) {
	e := setup(t)
	over0, over1 := e.twoLinks()

	res := e.tcpreap("list", "--interface", "veth1")
	if !strings.Contains(res.Stdout, "[fe80::1]%veth1:") || !strings.Contains(res.Stdout, "destroy\n") {
		t.Errorf("list does not show the socket's scope as ss does ([fe80::1]%%veth1:PORT):\n%s", res.Stdout)
	}
	r := e.json(0, "--interface", "veth1")
	expectRecords(t, r, "killed", over1)
	ss := e.sockets()
	expectGone(t, ss, over1)
	expectPresent(t, ss, "established", over0)
}

// twoLinks gives host A a second link to B, veth1, with the link-local addresses of veth0
// (fe80::1 in A, fe80::2 in B), and a connection from A to a listener of B over each link:
// the same addresses at both ends, told apart by the interface alone.
func (e *env) twoLinks() (over0, over1 conn) {
	t := e.t
	a, b := e.Local.Name, e.Peer.Name
	for _, args := range [][]string{
		{"-n", a, "link", "add", "veth1", "type", "veth", "peer", "name", "veth1", "netns", b},
		{"-n", a, "addr", "add", "fe80::1/64", "dev", "veth1", "nodad"},
		{"-n", b, "addr", "add", "fe80::2/64", "dev", "veth1", "nodad"},
		{"-n", a, "link", "set", "veth1", "up"},
		{"-n", b, "link", "set", "veth1", "up"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	l := e.listen(e.Peer, netip.MustParseAddrPort("[::]:0"))
	port := l.Addr().(*net.TCPAddr).AddrPort().Port()
	dialOver := func(link string) conn {
		var c *net.TCPConn
		e.check(e.Local.Do(func() error {
			ifi, err := net.InterfaceByName(link)
			if err != nil {
				return err
			}
			d := net.Dialer{Timeout: 5 * time.Second}
			d.SetMultipathTCP(false)
			nc, err := d.Dial("tcp", fmt.Sprintf("[fe80::2%%%d]:%d", ifi.Index, port))
			if err != nil {
				return err
			}
			c = nc.(*net.TCPConn)
			return nil
		}))
		t.Cleanup(func() { c.Close() })
		peerEnd, err := l.AcceptTCP()
		e.check(err)
		t.Cleanup(func() { peerEnd.Close() })
		rc, err := c.SyscallConn()
		e.check(err)
		var cookie uint64
		var serr error
		e.check(rc.Control(func(fd uintptr) { cookie, serr = unix.GetsockoptUint64(int(fd), unix.SOL_SOCKET, unix.SO_COOKIE) }))
		e.check(serr)
		ap := c.LocalAddr().(*net.TCPAddr).AddrPort()
		return conn{"over " + link, netip.AddrPortFrom(ap.Addr().WithZone(""), ap.Port()), netip.AddrPortFrom(netip.MustParseAddr("fe80::2"), port), cookie}
	}
	return dialOver("veth0"), dialOver("veth1")
}
