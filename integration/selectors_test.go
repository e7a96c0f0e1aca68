package integration

import (
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tcpreap/tcpreap/integration/testnet"
)

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
