package sockdiag

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/tcpreap/tcpreap/inet"
)

func TestHasSelector(t *testing.T) {
	for _, tt := range []struct {
		f    Filter
		want bool
	}{
		{Filter{}, false},
		{Filter{Protocols: []inet.Protocol{inet.UDP}, Families: []inet.Family{inet.IPv6}}, false},
		{Filter{States: AllStates}, false},
		{Filter{States: Big}, true}, // leaves out time_wait and syn_recv
		{Filter{States: 1 << TimeWait}, true},
		{Filter{States: Connected}, false}, // leaves out close only: no connection
		{Filter{States: Connected &^ (1 << TimeWait)}, true},
		{Filter{States: 1 << Close}, true},
		{Filter{States: 1 << Listen}, true},
		{Filter{Protocols: []inet.Protocol{inet.UDP}, States: 1 << Established}, false},
		{Filter{Protocols: []inet.Protocol{inet.TCP, inet.UDP}, States: 1 << Established}, true},
		{Filter{Ports: []inet.PortRange{{Lo: 80, Hi: 80}}}, true},
		{Filter{Ports: []inet.PortRange{{Lo: 0, Hi: 65535}}}, false},
		{Filter{Ports: []inet.PortRange{{Lo: 1, Hi: 65535}}}, false},
		{Filter{LocalPorts: []inet.PortRange{{Lo: 1, Hi: 1000}, {Lo: 900, Hi: 40000}, {Lo: 40001, Hi: 65535}}}, false},
		{Filter{RemotePorts: []inet.PortRange{{Lo: 1, Hi: 1000}, {Lo: 1002, Hi: 65535}}}, true},
		{Filter{Local: []netip.Prefix{pfx("0.0.0.0/0"), pfx("::/0")}}, false},
		{Filter{Local: []netip.Prefix{pfx("0.0.0.0/0")}}, true}, // IPv6 sockets are left out
		{Filter{Local: []netip.Prefix{pfx("0.0.0.0/0")}, Families: []inet.Family{inet.IPv4}}, false},
		{Filter{Local: []netip.Prefix{pfx("0.0.0.0/1"), pfx("128.0.0.0/1"), pfx("::/1"), pfx("8000::/1")}}, false},
		{Filter{Local: []netip.Prefix{pfx("0.0.0.0/1"), pfx("128.0.0.0/2"), pfx("::/0")}}, true},
		{Filter{Local: []netip.Prefix{pfx("0.0.0.0/0"), pfx("::/1"), pfx("8000::/1")}, Families: []inet.Family{inet.IPv6}}, false},
		{Filter{Peers: []inet.Endpoint{{Prefix: pfx("0.0.0.0/0")}, {Prefix: pfx("::/0")}}}, false},
		{Filter{Peers: []inet.Endpoint{{Prefix: pfx("0.0.0.0/0")}, {Prefix: pfx("::/0"), Ports: []inet.PortRange{{Lo: 0, Hi: 65535}}}}}, false},
		{Filter{Peers: []inet.Endpoint{{Prefix: pfx("0.0.0.0/0")}, {Prefix: pfx("::/0"), Ports: []inet.PortRange{{Lo: 443, Hi: 443}}}}}, true},
		{Filter{Peers: []inet.Endpoint{{Prefix: pfx("192.0.2.2/32")}}}, true},
		// Judged as they match: a v4-mapped prefix is IPv4, and a narrower peer
		// beside peers that take in everything narrows nothing.
		{Filter{Peers: []inet.Endpoint{{Prefix: pfx("::ffff:0.0.0.0/96")}, {Prefix: pfx("::/0")}}}, false},
		{Filter{Peers: []inet.Endpoint{{Prefix: pfx("::ffff:0.0.0.0/96")}}, Families: []inet.Family{inet.IPv4}}, false},
		{Filter{Peers: []inet.Endpoint{{Prefix: pfx("::ffff:0.0.0.0/96")}}}, true},
		{Filter{Local: []netip.Prefix{pfx("::ffff:0.0.0.0/96"), pfx("::/0")}}, false},
		{Filter{Peers: []inet.Endpoint{{Prefix: pfx("0.0.0.0/0")}, {Prefix: pfx("::/0")}, {Prefix: pfx("192.0.2.2/32"), Ports: []inet.PortRange{{Lo: 80, Hi: 80}}}}}, false},
		{Filter{Interface: &Interface{Name: "lo"}}, true},
	} {
		if got := tt.f.HasSelector(); got != tt.want {
			t.Errorf("%+v: HasSelector %v, want %v", tt.f, got, tt.want)
		}
	}
}

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }

// TestPeersAreConnections: a peer selector, however wide, never takes in a
// socket with no peer (LISTEN, unconnected UDP).
func TestPeersAreConnections(t *testing.T) {
	f := &Filter{States: AllStates, Protocols: []inet.Protocol{inet.TCP, inet.UDP}, Peers: []inet.Endpoint{{Prefix: pfx("0.0.0.0/0")}, {Prefix: pfx("::/0")}}}
	for _, s := range []Socket{
		{Protocol: inet.TCP, Family: inet.IPv4, State: Listen, ID: SockID{Local: netip.MustParseAddrPort("192.0.2.1:22"), Remote: netip.MustParseAddrPort("0.0.0.0:0")}},
		{Protocol: inet.TCP, Family: inet.IPv6, State: Listen, ID: SockID{Local: netip.MustParseAddrPort("[::]:22"), Remote: netip.MustParseAddrPort("[::]:0")}},
		{Protocol: inet.UDP, Family: inet.IPv6, State: Close, ID: SockID{Local: netip.MustParseAddrPort("[::ffff:192.0.2.1]:53"), Remote: netip.MustParseAddrPort("[::ffff:0.0.0.0]:0")}},
	} {
		if f.Match(&s) {
			t.Errorf("peer 0.0.0.0/0 or ::/0 selects %s %s %s -> %s", s.Protocol, s.State, s.ID.Local, s.ID.Remote)
		}
	}
	conn := Socket{Protocol: inet.TCP, Family: inet.IPv4, State: Established, ID: SockID{Local: netip.MustParseAddrPort("192.0.2.1:22"), Remote: netip.MustParseAddrPort("192.0.2.2:40000")}}
	if !f.Match(&conn) {
		t.Error("peer 0.0.0.0/0 does not select a connection")
	}
}

// TestInterfaceScope: link-local addresses repeat on every link; a socket
// scoped to another interface is not on this one, even with its address.
func TestInterfaceScope(t *testing.T) {
	ll := netip.MustParseAddr("fe80::1")
	f := &Filter{Interface: &Interface{Name: "veth0", Index: 2, Addrs: []netip.Addr{ll, netip.MustParseAddr("192.0.2.1")}}}
	sock := func(local string, ifindex uint32) *Socket {
		return &Socket{Protocol: inet.TCP, Family: inet.IPv6, State: Established, ID: SockID{
			Local: netip.MustParseAddrPort(local), Remote: netip.MustParseAddrPort("[fe80::2]:40000"), Interface: ifindex}}
	}
	for _, tc := range []struct {
		s    *Socket
		want bool
	}{
		{sock("[fe80::1]:22", 2), true},
		{sock("[fe80::1]:22", 3), false}, // the same address on another link
		{sock("[2001:db8::1]:22", 2), true},
		{sock("[::ffff:192.0.2.1]:22", 0), true},
		{sock("[2001:db8::1]:22", 0), false},
	} {
		if got := f.Match(tc.s); got != tc.want {
			t.Errorf("%s on interface %d: Match %v, want %v", tc.s.ID.Local, tc.s.ID.Interface, got, tc.want)
		}
	}
}

// TestHasSelectorSplitPeerPorts: PEERs whose ports, together, cover every port
// (0.0.0.0/0:1-32767 0.0.0.0/0:32768-65535 ::/0) select everything the default
// would, and are no selector; each peer alone narrows the ports, so HasSelector
// takes them for one and the real binary destroys every socket without --all.
func TestHasSelectorSplitPeerPorts(t *testing.T) {
	lo, hi := []inet.PortRange{{Lo: 1, Hi: 32767}}, []inet.PortRange{{Lo: 32768, Hi: 65535}}
	for _, f := range []Filter{
		{Peers: []inet.Endpoint{{Prefix: pfx("0.0.0.0/0"), Ports: lo}, {Prefix: pfx("0.0.0.0/0"), Ports: hi}, {Prefix: pfx("::/0")}}},
		{Families: []inet.Family{inet.IPv4}, Peers: []inet.Endpoint{{Prefix: pfx("0.0.0.0/0"), Ports: lo}, {Prefix: pfx("0.0.0.0/0"), Ports: hi}}},
	} {
		if f.HasSelector() {
			t.Errorf("%+v: HasSelector true, but the peers' ports together cover every port", f)
		}
	}
}

func TestInfoStatesSplitsDumps(t *testing.T) {
	type got struct {
		family inet.Family
		states StateMask
		info   bool
	}
	dumps := func(f Filter) []got {
		var out []got
		for _, d := range f.dumps(false) {
			out = append(out, got{d.Family, d.States, d.Ext != 0})
		}
		return out
	}
	cw := StateMask(1 << CloseWait)
	all := dumps(Filter{States: AllStates, WithInfo: true, InfoStates: cw})
	want := []got{
		{inet.IPv4, AllStates &^ cw, false}, {inet.IPv4, cw, true},
		{inet.IPv6, AllStates &^ cw, false}, {inet.IPv6, cw, true},
	}
	if !slices.Equal(all, want) {
		t.Errorf("every state, tcp_info of CLOSE_WAIT:\n got %v\nwant %v", all, want)
	}
	// Without WithInfo, or with a selector that reads tcp_info of every
	// socket, InfoStates changes nothing.
	for _, f := range []Filter{{States: AllStates, InfoStates: cw}, {States: AllStates, Idle: time.Second, WithInfo: true, InfoStates: cw}} {
		if got := dumps(f); len(got) != 2 || got[0].states != AllStates || got[0].info != (f.Idle > 0) {
			t.Errorf("%+v: %v", f, got)
		}
	}
	// A family of few sockets is one dump, with tcp_info of every state.
	whole := dumps(Filter{States: AllStates, WithInfo: true, InfoStates: cw, InfoWhole: []inet.Family{inet.IPv6}})
	want = []got{{inet.IPv4, AllStates &^ cw, false}, {inet.IPv4, cw, true}, {inet.IPv6, AllStates, true}}
	if !slices.Equal(whole, want) {
		t.Errorf("IPv6 whole:\n got %v\nwant %v", whole, want)
	}
	// A split with nothing on one side is one dump.
	if got := dumps(Filter{States: cw, WithInfo: true, InfoStates: cw}); len(got) != 2 || !got[0].info || got[0].states != cw {
		t.Errorf("CLOSE_WAIT alone: %v", got)
	}
}
