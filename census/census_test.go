package census

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/tcpreap/tcpreap/host"
	"github.com/tcpreap/tcpreap/inet"
	"github.com/tcpreap/tcpreap/sockdiag"
)

func sock(state sockdiag.State, local, remote string, inode uint32) sockdiag.Socket {
	return sockdiag.Socket{Protocol: inet.TCP, Family: inet.IPv4, State: state, Inode: inode,
		ID: sockdiag.SockID{Local: netip.MustParseAddrPort(local), Remote: netip.MustParseAddrPort(remote)}}
}

// TestTake: counts by state, peer, port and holder, the CLOSE_WAIT holders
// with their port, and the TIME_WAIT of outgoing connections only.
func TestTake(t *testing.T) {
	socks := []sockdiag.Socket{
		sock(sockdiag.CloseWait, "192.0.2.1:5432", "192.0.2.7:40001", 11),
		sock(sockdiag.CloseWait, "192.0.2.1:5432", "192.0.2.7:40002", 12),
		sock(sockdiag.CloseWait, "192.0.2.1:8080", "192.0.2.8:40003", 13),
		sock(sockdiag.Established, "192.0.2.1:5432", "192.0.2.9:40004", 14),
		sock(sockdiag.TimeWait, "192.0.2.1:40100", "198.51.100.5:443", 0), // outgoing
		sock(sockdiag.TimeWait, "192.0.2.1:40101", "198.51.100.5:443", 0),
		sock(sockdiag.TimeWait, "192.0.2.1:22", "192.0.2.7:50000", 0), // incoming: no port of ours held
		sock(sockdiag.Listen, "0.0.0.0:5432", "0.0.0.0:0", 15),
	}
	owners := map[uint32][]host.Owner{
		11: {{PID: 4711, Command: "postgres", FD: 5}}, 12: {{PID: 4711, Command: "postgres", FD: 6}},
		13: {{PID: 99, Command: "web", FD: 3}}, 14: {{PID: 4711, Command: "postgres", FD: 7}}, 15: {{PID: 4711, Command: "postgres", FD: 4}},
	}
	seq := func(yield func(sockdiag.Socket, error) bool) {
		for _, s := range socks {
			if !yield(s, nil) {
				return
			}
		}
	}
	c, err := Take(seq, owners, nil, [2]uint16{32768, 60999}, 2)
	if err != nil {
		t.Fatal(err)
	}
	if c.Sockets != 8 || c.Unheld != 3 {
		t.Errorf("sockets %d, unheld %d; want 8, 3", c.Sockets, c.Unheld)
	}
	if want := []StateCount{{sockdiag.Established, 1}, {sockdiag.TimeWait, 3}, {sockdiag.CloseWait, 3}, {sockdiag.Listen, 1}}; !slices.Equal(c.States, want) {
		t.Errorf("states %v, want %v", c.States, want)
	}
	if want := []PeerCount{{netip.MustParseAddr("192.0.2.7"), 3}, {netip.MustParseAddr("198.51.100.5"), 2}}; !slices.Equal(c.Peers, want) {
		t.Errorf("top peers %v, want %v", c.Peers, want)
	}
	if want := []Holder{{4711, "postgres", 4, 2, 5432, 0}, {99, "web", 1, 1, 8080, 0}}; !slices.Equal(c.CloseWait, want) || !slices.Equal(c.Holders, want) {
		t.Errorf("close wait %v, holders %v, want %v", c.CloseWait, c.Holders, want)
	}
	if want := []DestinationCount{{netip.MustParseAddrPort("198.51.100.5:443"), 2}}; !slices.Equal(c.TimeWait, want) {
		t.Errorf("time wait %v, want %v", c.TimeWait, want)
	}
}

// TestTakeCountsSocketsNotDescriptors: a socket a process holds by five
// descriptors is one of its sockets; a UDP socket holds no TCP port.
func TestTakeCountsSocketsNotDescriptors(t *testing.T) {
	cw := sock(sockdiag.CloseWait, "192.0.2.1:5432", "192.0.2.7:40001", 11)
	dns := sock(sockdiag.Established, "192.0.2.1:40000", "192.0.2.53:53", 12)
	dns.Protocol = inet.UDP
	fw2 := sock(sockdiag.FinWait2, "192.0.2.1:40002", "192.0.2.9:443", 0)
	fw2.Timer = 3 // a timewait socket in its FIN_WAIT2 substate
	var fds []host.Owner
	for fd := range 5 {
		fds = append(fds, host.Owner{PID: 7, Command: "app", FD: fd + 3})
	}
	seq := func(yield func(sockdiag.Socket, error) bool) {
		_ = yield(cw, nil) && yield(dns, nil) && yield(fw2, nil)
	}
	infos := map[sockdiag.Cookie]sockdiag.TCPInfo{cw.ID.Cookie: {LastDataSent: 3 * time.Hour, LastDataRecv: 2 * time.Hour}}
	c, err := Take(seq, map[uint32][]host.Owner{11: fds}, infos, [2]uint16{32768, 60999}, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.CloseWait) != 1 || c.CloseWait[0].CloseWait != 1 || c.CloseWait[0].Sockets != 1 || c.CloseWait[0].OldestIdle != 2*time.Hour {
		t.Errorf("close wait %+v, want app holding 1", c.CloseWait)
	}
	if len(c.PortsHeld) != 1 || c.PortsHeld[0].Destination != netip.MustParseAddrPort("192.0.2.9:443") {
		t.Errorf("ports held %+v, want only the TCP destination", c.PortsHeld)
	}
	if c.TimeWaitSockets != 1 {
		t.Errorf("timewait sockets %d, want 1 (the FIN_WAIT2 one)", c.TimeWaitSockets)
	}
}

// TestTakeGroupsEphemeralPorts: the local ports of outgoing connections,
// in the ephemeral range, are one count of the range; a service listening
// on a port of the range (TCP, or UDP unconnected) keeps its own.
func TestTakeGroupsEphemeralPorts(t *testing.T) {
	var socks []sockdiag.Socket
	for i := range 10 {
		socks = append(socks, sock(sockdiag.Established, fmt.Sprintf("192.0.2.1:%d", 40000+i), "198.51.100.5:443", uint32(20+i)))
	}
	socks = append(socks,
		sock(sockdiag.Listen, "0.0.0.0:45000", "0.0.0.0:0", 40),
		sock(sockdiag.Established, "192.0.2.1:45000", "192.0.2.7:50000", 41),
		sock(sockdiag.Established, "192.0.2.1:5432", "192.0.2.7:50001", 42),
	)
	udp := sock(sockdiag.Close, "0.0.0.0:46000", "0.0.0.0:0", 43)
	udp.Protocol = inet.UDP
	socks = append(socks, udp)
	seq := func(yield func(sockdiag.Socket, error) bool) {
		for _, s := range socks {
			if !yield(s, nil) {
				return
			}
		}
	}
	c, err := Take(seq, nil, nil, [2]uint16{32768, 60999}, 10)
	if err != nil {
		t.Fatal(err)
	}
	want := []PortCount{{inet.PortRange{Lo: 32768, Hi: 60999}, 10}, {inet.PortRange{Lo: 45000, Hi: 45000}, 2},
		{inet.PortRange{Lo: 5432, Hi: 5432}, 1}, {inet.PortRange{Lo: 46000, Hi: 46000}, 1}}
	if !slices.Equal(c.LocalPorts, want) {
		t.Errorf("local ports %v, want %v", c.LocalPorts, want)
	}
}
