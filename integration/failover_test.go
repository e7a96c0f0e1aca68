// Failover: --local-gone selects the sockets of an address the host no longer has,
// --peer-not-in the connections to anything outside a live set, and the hook scripts in
// deploy/ run them as keepalived and NetworkManager would.

package integration

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tcpreap/tcpreap/integration/testnet"
)

// failover is host A with a virtual address (192.0.2.10, 2001:db8::10, fe80::10 on veth0)
// besides its own, and connections from B to each, through one dual-stack listener on the
// wildcard address (so that the IPv4 ones are v4-mapped), a CLOSE_WAIT one on a listener
// bound to the virtual address, one to 198.51.100.7, which no interface has but an AnyIP
// route (local 198.51.100.0/24 dev lo) makes A's, and a loopback connection on 127.0.0.5 in
// A.
type failover struct {
	vip, own    []conn // the connections to the virtual addresses, to A's own
	vipListener *net.TCPListener
}

var vips = []string{"192.0.2.10/24", "2001:db8::10/64", "fe80::10/64"}

func (e *env) failover() failover {
	e.t.Helper()
	for _, a := range vips {
		e.check(e.ipIn(e.Local, "addr", "add", a, "dev", "veth0", "nodad"))
	}
	e.check(e.ipIn(e.Local, "route", "add", "local", "198.51.100.0/24", "dev", "lo"))
	e.check(e.ipIn(e.Peer, "route", "add", "198.51.100.0/24", "via", "192.0.2.1"))
	var f failover
	l := e.listen(e.Local, netip.MustParseAddrPort("[::]:0"))
	port := uint16(l.Addr().(*net.TCPAddr).Port)
	to := func(addr string) conn {
		a := netip.MustParseAddr(addr)
		p, err := e.InboundTo(l, netip.AddrPortFrom(a, port))
		e.check(err)
		return tcp("to "+addr, p)
	}
	f.vip = []conn{to("192.0.2.10"), to("2001:db8::10"), to("fe80::10%veth0")}
	f.own = []conn{to("192.0.2.1"), to("2001:db8::1"), to("fe80::1%veth0"), to("198.51.100.7")}
	f.vipListener = e.listen(e.Local, netip.MustParseAddrPort("192.0.2.10:0"))
	f.vip = append(f.vip, tcp("close_wait on 192.0.2.10", e.closeWait(f.vipListener, peer)))

	lo := e.listen(e.Local, netip.MustParseAddrPort("127.0.0.5:0"))
	var c net.Conn
	e.check(e.Local.Do(func() (err error) {
		c, err = net.DialTimeout("tcp", lo.Addr().String(), 5*time.Second)
		return err
	}))
	e.t.Cleanup(func() { c.Close() })
	a, err := lo.Accept()
	e.check(err)
	e.t.Cleanup(func() { a.Close() })
	local, remote := c.LocalAddr().(*net.TCPAddr).AddrPort(), c.RemoteAddr().(*net.TCPAddr).AddrPort()
	f.own = e.cookies(append(f.own, conn{name: "loopback 127.0.0.5 client", local: local, remote: remote}, conn{name: "loopback 127.0.0.5 server", local: remote, remote: local}))
	return f
}

// ipIn runs ip -n with h's namespace.
func (e *env) ipIn(h *testnet.Host, args ...string) error {
	out, err := exec.Command("ip", append([]string{"-n", h.Name}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %v: %w (%s)", args, err, out)
	}
	return nil
}

// cookies fills in the cookies of cs as the kernel shows them now (a connection a test
// made without testnet, which reads its cookie).
func (e *env) cookies(cs []conn) []conn {
	e.t.Helper()
	ss := e.sockets()
	out := make([]conn, len(cs))
	for i, c := range cs {
		s, ok := ss.Find(c.local, c.remote)
		if !ok {
			e.t.Fatalf("%s: not in the kernel", c.name)
		}
		c.cookie = s.Cookie
		out[i] = c
	}
	return out
}

// TestIntegrationLocalGone: before the virtual addresses go, --local-gone selects nothing;
// after `ip addr del`, exactly the sockets of the removed addresses (IPv4, v4-mapped, IPv6,
// link-local on its interface), not those of A's own addresses, nor of an AnyIP route, nor
// of 127.0.0.0/8, nor the wildcard listener; --state all adds the LISTEN socket bound to the removed address; a real
// run destroys exactly those, and A's own connections still carry data.
func TestIntegrationLocalGone(t *testing.T) {
	e := setup(t)
	f := e.failover()
	expectRecords(t, e.json(0, "list", "--local-gone"), "would_kill")

	for _, a := range vips {
		e.check(e.ipIn(e.Local, "addr", "del", a, "dev", "veth0"))
	}
	expectRecords(t, e.json(0, "list", "--local-gone"), "would_kill", f.vip...)
	r := e.json(0, "list", "--local-gone", "--state", "all")
	if len(r.Sockets) != len(f.vip)+1 {
		t.Errorf("--state all: %d sockets, want the %d connections and the listener on 192.0.2.10", len(r.Sockets), len(f.vip))
	}

	expectRecords(t, e.json(0, "-y", "--local-gone"), "killed", f.vip...)
	ss := e.sockets()
	expectGone(t, ss, f.vip...)
	expectPresent(t, ss, "established", f.own...)
	expectListening(t, ss, f.vipListener)
}

// TestIntegrationLocalGoneNetNS: --netns looks at the addresses of the namespace it names,
// not of the one tcpreap runs in.
func TestIntegrationLocalGoneNetNS(t *testing.T) {
	e := setup(t)
	f := e.failover()
	for _, a := range vips {
		e.check(e.ipIn(e.Local, "addr", "del", a, "dev", "veth0"))
	}
	// Run from B, at A: B has none of these addresses either way.
	res := e.run(e.Peer, bin, "list", "--json", "--local-gone", "--netns", e.Local.Name)
	r, err := testnet.ParseReport(res.Stdout)
	e.check(err)
	if len(r.Sockets) != len(f.vip) {
		t.Errorf("--netns %s: %d sockets, want the %d of the removed addresses", e.Local.Name, len(r.Sockets), len(f.vip))
	}
}

// TestIntegrationPeerNotIn: --peer-not-in selects the connections whose peer is outside the
// live set, given as addresses or as a file; a v4-mapped peer counts as its IPv4 address.
func TestIntegrationPeerNotIn(t *testing.T) {
	e := setup(t)
	l := e.listen(e.Local, netip.MustParseAddrPort("[::]:0"))
	live := tcp("live peer", e.inbound(l, peer))
	gone4 := tcp("other peer", e.inbound(l, otherPeer))
	gone6 := tcp("IPv6 peer", e.inbound(l, netip.AddrPortFrom(testnet.PeerV6, 0)))

	expectRecords(t, e.json(0, "list", "--peer-not-in", "192.0.2.2", "--peer-not-in", "2001:db8::2"), "would_kill", gone4)
	expectRecords(t, e.json(0, "list", "--peer-not-in", "192.0.2.2"), "would_kill", gone4, gone6)

	file := filepath.Join(t.TempDir(), "live")
	e.check(os.WriteFile(file, []byte("# the live set\n192.0.2.2  # primary\n\n2001:db8::/64\n"), 0o644))
	expectRecords(t, e.json(0, "-y", "--peer-not-in", file), "killed", gone4)
	ss := e.sockets()
	expectGone(t, ss, gone4)
	expectPresent(t, ss, "established", live, gone6)
}

// hook runs a script of deploy/ in host A as keepalived or NetworkManager-dispatcher runs
// it: with a clean environment (PATH, and the settings in vars), root, the arguments they
// pass. TCPREAP_HOOKS_CONF=/dev/null keeps the machine's settings out; the audit line goes
// to the suite's syslog socket.
func (e *env) hook(script string, vars []string, args ...string) testnet.Result {
	e.t.Helper()
	path, err := filepath.Abs(filepath.Join(deployDir, script))
	e.check(err)
	argv := []string{"env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "TCPREAP_HOOKS_CONF=/dev/null",
		"TCPREAP_SYSLOG_SOCKET=" + os.Getenv("TCPREAP_SYSLOG_SOCKET")}
	argv = append(append(append(argv, vars...), path), args...)
	return e.run(e.Local, argv...)
}

// TestIntegrationKeepalivedHook: the keepalived notify script, run as keepalived runs it
// when this node becomes BACKUP (the virtual addresses already taken off), cuts exactly the
// connections of the addresses it lost; as notify_backup with the addresses given, it waits
// for them to go and cuts theirs alone; MASTER runs nothing.
func TestIntegrationKeepalivedHook(t *testing.T) {
	const script = "keepalived/tcpreap-keepalived"
	t.Run("notify", func(t *testing.T) {
		e := setup(t)
		f := e.failover()
		for _, a := range vips {
			e.check(e.ipIn(e.Local, "addr", "del", a, "dev", "veth0"))
		}
		if res := e.hook(script, []string{"TCPREAP=" + bin}, "INSTANCE", "VI_1", "BACKUP", "100"); res.Code != 0 {
			t.Fatalf("exit %d, want 0", res.Code)
		}
		ss := e.sockets()
		expectGone(t, ss, f.vip...)
		expectPresent(t, ss, "established", f.own...)
	})
	t.Run("notify_backup", func(t *testing.T) {
		e := setup(t)
		f := e.failover()
		// tcpreap on PATH, no TCPREAP; the addresses leave a second after keepalived
		// ran the script.
		go func() {
			time.Sleep(time.Second)
			for _, a := range vips[:2] {
				if err := e.ipIn(e.Local, "addr", "del", a, "dev", "veth0"); err != nil {
					t.Error(err)
				}
			}
		}()
		res := e.hook(script, []string{"PATH=" + filepath.Dir(bin) + ":/usr/sbin:/usr/bin:/sbin:/bin"}, "backup", "192.0.2.10", "2001:db8::10")
		if res.Code != 0 {
			t.Fatalf("exit %d, want 0", res.Code)
		}
		ss := e.sockets()
		expectGone(t, ss, f.vip[0], f.vip[1], f.vip[3])
		expectPresent(t, ss, "established", append([]conn{f.vip[2]}, f.own...)...)
	})
	t.Run("a VIP is a word, never file names", func(t *testing.T) {
		e := setup(t)
		dir := t.TempDir()
		e.check(os.WriteFile(filepath.Join(dir, "192.0.2.10"), nil, 0o600))
		args, fake := filepath.Join(dir, "args"), filepath.Join(dir, "tcpreap")
		e.check(os.WriteFile(fake, []byte("#!/bin/sh\nprintf '%s\\n' \"$@\" > "+shq(args)+"\n"), 0o755))
		path, err := filepath.Abs(filepath.Join(deployDir, script))
		e.check(err)
		// keepalived's working directory, where a word with a glob could match files.
		res := e.run(e.Local, "sh", "-c", "cd "+shq(dir)+" && exec env -i PATH=/usr/bin:/bin TCPREAP_HOOKS_CONF=/dev/null TCPREAP_WAIT=0 TCPREAP="+shq(fake)+" "+shq(path)+" backup '192.0.2.1*'")
		got, err := os.ReadFile(args)
		if res.Code != 0 || err != nil || !strings.Contains(string(got), "--local\n192.0.2.1*\n") {
			t.Errorf("exit %d; tcpreap was given %q (%v), want --local 192.0.2.1* as written", res.Code, got, err)
		}
	})
	t.Run("master", func(t *testing.T) {
		e := setup(t)
		// MASTER cuts nothing: the binary that would fail is never run.
		if res := e.hook(script, []string{"TCPREAP=/bin/false"}, "INSTANCE", "VI_1", "MASTER", "100"); res.Code != 0 {
			t.Errorf("MASTER: exit %d, want 0", res.Code)
		}
		for _, args := range [][]string{nil, {"INSTANCE", "VI_1"}, {"INSTANCE", "VI_1", "PRIMARY"}} {
			if res := e.hook(script, []string{"TCPREAP=/bin/false"}, args...); res.Code != 2 {
				t.Errorf("%q: exit %d, want 2", args, res.Code)
			}
		}
	})
}

// TestIntegrationNetworkManagerHook: the NetworkManager dispatcher script, run as the
// dispatcher runs it when an interface goes down (its addresses already gone), cuts exactly
// the connections of the addresses that went; an action it does not act on runs nothing.
func TestIntegrationNetworkManagerHook(t *testing.T) {
	const script = "networkmanager/90-tcpreap"
	e := setup(t)
	f := e.failover()
	nm := []string{"TCPREAP=" + bin, "CONNECTION_ID=vip", "CONNECTION_UUID=0d1f7c3e-5d43-4c1f-9d0a-2c0d0e7f1a11", "DEVICE_IFACE=veth0", "DEVICE_IP_IFACE=veth0", "NM_DISPATCHER_ACTION=down"}
	for _, a := range vips {
		e.check(e.ipIn(e.Local, "addr", "del", a, "dev", "veth0"))
	}
	if res := e.hook(script, []string{"TCPREAP=/bin/false"}, "veth0", "up"); res.Code != 0 {
		t.Errorf("up: exit %d, want 0 and nothing run", res.Code)
	}
	if res := e.hook(script, nm, "veth0", "down"); res.Code != 0 {
		t.Fatalf("down: exit %d, want 0", res.Code)
	}
	ss := e.sockets()
	expectGone(t, ss, f.vip...)
	expectPresent(t, ss, "established", f.own...)
	if res := e.hook(script, nil, "veth0"); res.Code != 2 {
		t.Errorf("one argument: exit %d, want 2", res.Code)
	}
}
