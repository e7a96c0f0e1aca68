package sockdiag_test

import (
	"maps"
	"slices"
	"testing"

	"github.com/tcpreap/tcpreap/inet"
	"github.com/tcpreap/tcpreap/sockdiag"
	"github.com/tcpreap/tcpreap/sockdiag/sockdiagtest"
)

// TestMPTCPSubflows: the subflows of MPTCP connections whose peer speaks MPTCP (MP_CAPABLE
// answered, or MP_JOIN) are found; a subflow that fell back to TCP, a socket of another
// ULP and a plain one are not; without an MPTCP connection, or without MPTCP's diag, one
// dump per family is all it costs.
func TestMPTCPSubflows(t *testing.T) {
	socks := sockets(5, sockdiag.Established, 1)
	msk := sockets(1, sockdiag.Established, 100)
	ulp := map[sockdiag.Cookie]string{1: "mptcp", 2: "mptcp", 3: "mptcp", 4: "tls"}
	flags := map[sockdiag.Cookie]uint32{
		1: 1<<0 | 1<<1 | 1<<7, // MCAP_REM, MCAP_LOC, CONNECTED: the initial subflow
		2: 1<<2 | 1<<3,        // JOIN_REM, JOIN_LOC: a joined one
		3: 1<<1 | 1<<7,        // MCAP_LOC, CONNECTED: fell back to TCP
	}
	for _, tc := range []struct {
		name  string
		k     *sockdiagtest.Kernel
		want  []sockdiag.Cookie
		dumps int
	}{
		{"subflows", &sockdiagtest.Kernel{MPTCP: msk}, []sockdiag.Cookie{1, 2}, 3},
		{"no MPTCP connection", &sockdiagtest.Kernel{}, nil, 2},
		{"an MPTCP listener only", &sockdiagtest.Kernel{MPTCP: sockets(1, sockdiag.Listen, 100)}, nil, 2},
		{"no MPTCP diag", &sockdiagtest.Kernel{MPTCP: msk, NoMPTCPDiag: true}, nil, 1},
	} {
		k := tc.k
		k.Sockets, k.ULP, k.SubflowFlags = slices.Clone(socks), ulp, flags
		k.SubflowTokens = map[sockdiag.Cookie]uint32{1: 0xa1, 2: 0xa1, 3: 0xb2}
		got, err := k.Conn().MPTCPSubflows(t.Context(), nil)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if cookies := slices.Sorted(maps.Keys(got)); !slices.Equal(cookies, tc.want) {
			t.Errorf("%s: subflows %v, want %v", tc.name, cookies, tc.want)
		}
		for c, token := range got {
			if token != 0xa1 {
				t.Errorf("%s: subflow %d has token %#x, want its connection's, 0xa1", tc.name, c, token)
			}
		}
		if len(k.Requests) != tc.dumps {
			t.Errorf("%s: %d dumps (%+v), want %d", tc.name, len(k.Requests), k.Requests, tc.dumps)
		}
	}
}

func TestMaySubflow(t *testing.T) {
	for _, tc := range []struct {
		s    sockdiag.Socket
		want bool
	}{
		{sockdiag.Socket{Protocol: inet.TCP, State: sockdiag.Established}, true},
		{sockdiag.Socket{Protocol: inet.TCP, State: sockdiag.CloseWait}, true},
		{sockdiag.Socket{Protocol: inet.TCP, State: sockdiag.Listen}, false},
		{sockdiag.Socket{Protocol: inet.TCP, State: sockdiag.TimeWait}, false},
		{sockdiag.Socket{Protocol: inet.UDP, State: sockdiag.Established}, false},
	} {
		if got := tc.s.MaySubflow(); got != tc.want {
			t.Errorf("%v %v: MaySubflow %v, want %v", tc.s.Protocol, tc.s.State, got, tc.want)
		}
	}
}

// TestMPTCPSubflowsFiltered: the look for subflows asks tcp_info of the sockets the
// targets' filter takes in, not of every TCP socket: its dumps carry the filter's port
// prefilter and program (which the kernel tests before it takes a socket's lock), and
// every state a subflow can be in.
func TestMPTCPSubflowsFiltered(t *testing.T) {
	k := &sockdiagtest.Kernel{MPTCP: sockets(1, sockdiag.Established, 100), Sockets: sockets(2, sockdiag.Established, 1)}
	f := &sockdiag.Filter{LocalPorts: []inet.PortRange{{Lo: 7000, Hi: 7000}}, States: 1 << sockdiag.Established}
	if _, err := k.Conn().MPTCPSubflows(t.Context(), f); err != nil {
		t.Fatal(err)
	}
	tcp := 0
	for _, r := range k.Requests {
		if r.MPTCP {
			continue
		}
		tcp++
		if r.Protocol != inet.TCP || r.ID.Local.Port() != 7000 || len(r.Bytecode) == 0 || r.States == 1<<sockdiag.Established || r.Ext == 0 {
			t.Errorf("a subflow dump %+v: want TCP, the filter's port and program, every subflow state, tcp_info", r)
		}
	}
	if tcp != 2 {
		t.Errorf("%d TCP dumps (%+v), want one per family", tcp, k.Requests)
	}
}
