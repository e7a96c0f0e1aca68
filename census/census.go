// Package census counts sockets the way an on-call engineer asks about them:
// how many in each state, with which peers, on which local ports, held by
// which processes (the CLOSE_WAIT ones above all: a leak), and how many
// TIME_WAIT sockets each destination has, which is what runs out of ports.
package census

import (
	"cmp"
	"iter"
	"maps"
	"net/netip"
	"slices"
	"time"

	"github.com/tcpreap/tcpreap/host"
	"github.com/tcpreap/tcpreap/inet"
	"github.com/tcpreap/tcpreap/sockdiag"
)

// A Census is the counts of one selection of sockets.
type Census struct {
	Sockets int
	// States counts the sockets by state, in the kernel's order of states.
	States []StateCount
	// Peers, LocalPorts and Holders are the largest counts, largest first,
	// at most the top asked for; TimeWait too, by destination. The local
	// ports of the ephemeral range that no socket listens on are one
	// count, of the whole range: the ports outgoing connections took, one
	// or two sockets each, are not ten rows of the ranking.
	Peers      []PeerCount
	LocalPorts []PortCount
	Holders    []Holder
	// CloseWait is every process that holds CLOSE_WAIT sockets, most first.
	CloseWait []Holder
	// TimeWait counts, by destination, the TIME_WAIT sockets of outgoing
	// connections: those whose local port is in the ephemeral range. Each
	// holds that port for that destination until it expires.
	TimeWait []DestinationCount
	// PortsHeld counts, by destination, the sockets of every state whose
	// local port is in the ephemeral range: the ports that destination
	// holds, all of them, not only the top.
	PortsHeld []DestinationCount
	// Unheld counts the sockets no process holds: TIME_WAIT ones and
	// orphans, which the kernel finishes on its own.
	Unheld int
	// TimeWaitSockets counts the timewait sockets: TIME_WAIT, and the
	// FIN_WAIT2 substate of a closed socket (what tcp_max_tw_buckets caps).
	TimeWaitSockets int
	// Cells counts every socket once by state, local port (one port, or
	// the ephemeral range as LocalPorts has it) and the command of the
	// process that holds it ("" for none; the first holder's when several
	// do), in no order and not cut to the top.
	Cells []Cell
}

// A Cell is how many sockets have one state, local port and holder.
type Cell struct {
	State   sockdiag.State
	Ports   inet.PortRange
	Command string
	Sockets int
}

// A StateCount is how many sockets are in one state.
type StateCount struct {
	State   sockdiag.State
	Sockets int
}

// A PeerCount is how many sockets have one remote address.
type PeerCount struct {
	Peer    netip.Addr
	Sockets int
}

// A PortCount is how many sockets have a local port in Ports: one port
// (Lo == Hi), or the ephemeral range.
type PortCount struct {
	Ports   inet.PortRange
	Sockets int
}

// A DestinationCount is how many sockets have one remote address and port.
type DestinationCount struct {
	Destination netip.AddrPort
	Sockets     int
}

// A Holder is a process and the sockets of the selection it holds.
type Holder struct {
	PID       int
	Command   string
	Sockets   int
	CloseWait int
	// CloseWaitPort is the local port most of its CLOSE_WAIT sockets are on.
	CloseWaitPort uint16
	// OldestIdle is the longest any of its CLOSE_WAIT sockets has been idle,
	// when the census had their tcp_info.
	OldestIdle time.Duration
}

// Take counts the sockets, owners saying who holds each (by inode; nil when
// not known), infos what struct tcp_info says of each (by cookie; nil when
// not known), and keeps the top largest of each ranking. ephemeral is the
// local port range outgoing connections take their ports from
// (net.ipv4.ip_local_port_range). It returns the first error of the query.
func Take(sockets iter.Seq2[sockdiag.Socket, error], owners map[uint32][]host.Owner, infos map[sockdiag.Cookie]sockdiag.TCPInfo,
	ephemeral [2]uint16, top int) (*Census, error) {
	c := &Census{}
	var states [256]int // by sockdiag.State
	peers := map[netip.Addr]int{}
	// by local port: arrays, not maps, for a lookup at each socket
	ports := make([]int32, 1<<16)
	listening := make([]bool, 1<<16) // a service's port, even in the ephemeral range
	timeWait := map[netip.AddrPort]int{}
	held := map[netip.AddrPort]int{}
	type holding struct {
		h     Holder
		ports map[uint16]int // of its CLOSE_WAIT sockets
	}
	holders := map[int]*holding{}
	type cellKey struct {
		state sockdiag.State
		port  uint16
		pid   int // of the first holder, whose command the cell counts; 0 for none
	}
	cells := map[cellKey]int{}
	for s, err := range sockets {
		if err != nil {
			return nil, err
		}
		c.Sockets++
		states[s.State]++
		remote := s.ID.Remote.Addr().Unmap()
		if !remote.IsUnspecified() {
			peers[remote]++
		}
		ports[s.ID.Local.Port()]++
		if s.State == sockdiag.Listen || s.Protocol == inet.UDP && remote.IsUnspecified() {
			listening[s.ID.Local.Port()] = true
		}
		if s.IsTimeWait() {
			c.TimeWaitSockets++
		}
		if p := s.ID.Local.Port(); s.Protocol == inet.TCP && p >= ephemeral[0] && p <= ephemeral[1] && !remote.IsUnspecified() && s.State != sockdiag.Listen {
			dest := netip.AddrPortFrom(remote, s.ID.Remote.Port())
			held[dest]++
			if s.IsTimeWait() {
				timeWait[dest]++
			}
		}
		var held []host.Owner
		pid := 0
		if s.Inode != 0 {
			held = owners[s.Inode]
		}
		if len(held) > 0 {
			pid = held[0].PID
		}
		cells[cellKey{s.State, s.ID.Local.Port(), pid}]++
		if s.Inode == 0 {
			c.Unheld++
			continue
		}
		idle, idleRead := time.Duration(0), false // of a CLOSE_WAIT socket, read once
		for i, o := range held {
			// A process that holds it by several descriptors holds one socket.
			if slices.ContainsFunc(held[:i], func(p host.Owner) bool { return p.PID == o.PID }) {
				continue
			}
			h := holders[o.PID]
			if h == nil {
				h = &holding{h: Holder{PID: o.PID, Command: o.Command}, ports: map[uint16]int{}}
				holders[o.PID] = h
			}
			h.h.Sockets++
			if s.State == sockdiag.CloseWait {
				h.h.CloseWait++
				h.ports[s.ID.Local.Port()]++
				if !idleRead {
					idle, idleRead = idleOf(infos, s.ID.Cookie), true
				}
				h.h.OldestIdle = max(h.h.OldestIdle, idle)
			}
		}
	}
	for st, n := range states {
		if n > 0 {
			c.States = append(c.States, StateCount{sockdiag.State(st), n})
		}
	}
	for p, n := range peers {
		c.Peers = append(c.Peers, PeerCount{p, n})
	}
	c.Peers = largest(c.Peers, top, func(p PeerCount) int { return p.Sockets }, func(a, b PeerCount) int { return a.Peer.Compare(b.Peer) })
	outgoing := PortCount{Ports: inet.PortRange{Lo: ephemeral[0], Hi: ephemeral[1]}}
	for p, n := range ports {
		if n == 0 {
			continue
		}
		if outgoing.Ports.Contains(uint16(p)) && !listening[p] {
			outgoing.Sockets += int(n)
			continue
		}
		c.LocalPorts = append(c.LocalPorts, PortCount{inet.PortRange{Lo: uint16(p), Hi: uint16(p)}, int(n)})
	}
	if outgoing.Sockets > 0 {
		c.LocalPorts = append(c.LocalPorts, outgoing)
	}
	type foldedKey struct {
		state   sockdiag.State
		ports   inet.PortRange
		command string
	}
	folded := map[foldedKey]int{}
	for k, n := range cells {
		ports := inet.PortRange{Lo: k.port, Hi: k.port}
		if outgoing.Ports.Contains(k.port) && !listening[k.port] {
			ports = outgoing.Ports
		}
		command := ""
		if k.pid != 0 {
			command = holders[k.pid].h.Command
		}
		folded[foldedKey{k.state, ports, command}] += n
	}
	for k, n := range folded {
		c.Cells = append(c.Cells, Cell{State: k.state, Ports: k.ports, Command: k.command, Sockets: n})
	}
	c.LocalPorts = largest(c.LocalPorts, top, func(p PortCount) int { return p.Sockets }, func(a, b PortCount) int { return cmp.Compare(a.Ports.Lo, b.Ports.Lo) })
	for d, n := range timeWait {
		c.TimeWait = append(c.TimeWait, DestinationCount{d, n})
	}
	byDest := func(a, b DestinationCount) int { return a.Destination.Compare(b.Destination) }
	c.TimeWait = largest(c.TimeWait, top, func(d DestinationCount) int { return d.Sockets }, byDest)
	for d, n := range held {
		c.PortsHeld = append(c.PortsHeld, DestinationCount{d, n})
	}
	c.PortsHeld = largest(c.PortsHeld, len(c.PortsHeld), func(d DestinationCount) int { return d.Sockets }, byDest)
	byPID := func(a, b Holder) int { return cmp.Compare(a.PID, b.PID) }
	for _, h := range holders {
		if h.h.CloseWait > 0 {
			h.h.CloseWaitPort = largest(slices.Collect(maps.Keys(h.ports)), 1, func(p uint16) int { return h.ports[p] }, cmp.Compare[uint16])[0]
			c.CloseWait = append(c.CloseWait, h.h)
		}
		c.Holders = append(c.Holders, h.h)
	}
	c.Holders = largest(c.Holders, top, func(h Holder) int { return h.Sockets }, byPID)
	c.CloseWait = largest(c.CloseWait, len(c.CloseWait), func(h Holder) int { return h.CloseWait }, byPID)
	return c, nil
}

// idleOf is how long the socket of cookie has been idle, as infos has it
// (0 when it has no tcp_info there).
func idleOf(infos map[sockdiag.Cookie]sockdiag.TCPInfo, cookie sockdiag.Cookie) time.Duration {
	if info, ok := infos[cookie]; ok {
		return info.Idle()
	}
	return 0
}

// largest sorts xs by n, largest first (ties by less), and keeps the first
// top of them.
func largest[T any](xs []T, top int, n func(T) int, less func(a, b T) int) []T {
	slices.SortFunc(xs, func(a, b T) int {
		if c := cmp.Compare(n(b), n(a)); c != 0 {
			return c
		}
		return less(a, b)
	})
	return xs[:min(len(xs), top)]
}
