package sockdiag

import (
	"net/netip"
	"slices"
	"time"

	"github.com/tcpreap/tcpreap/inet"
)

// A Filter is a selection of sockets: every selector that is set must hold,
// and the values within one selector are alternatives. It is pure data; the
// query compiles it into kernel requests and checks every answer against it
// again with Match.
type Filter struct {
	Protocols []inet.Protocol // nil: TCP
	// Families: nil is both. IPv4 also selects IPv6 sockets with v4-mapped
	// addresses, which carry IPv4 connections (ss -4 does not).
	Families []inet.Family
	// States: 0 is the default, every state but listen for TCP and the
	// connected sockets for UDP (ss's default is narrower: it leaves out
	// time_wait and syn_recv too).
	States      StateMask
	Peers       []inet.Endpoint  // the remote end is one of these
	Local       []netip.Prefix   // the local address is in one of these
	Ports       []inet.PortRange // the local or the remote port is in one
	LocalPorts  []inet.PortRange // ss "sport"
	RemotePorts []inet.PortRange // ss "dport"
	Interface   *Interface       // ss "dev" (bound), or a local address of it
	// UIDs: the socket's owner (idiag_uid, the user that made it) is one of
	// these. The kernel's filter program cannot say it: it is checked here.
	UIDs []uint32
	// Idle: a TCP connection that has neither sent nor received data for at
	// least this long (tcpi_last_data_sent, tcpi_last_data_recv); 0 for any.
	Idle time.Duration
	// Stalled: a TCP connection whose peer seems gone: data sent and not
	// acknowledged, retransmitted (tcpi_retransmits or tcpi_backoff above
	// zero), and no ack for at least this long (tcpi_last_ack_recv); 0 for
	// any. Both read struct tcp_info, which the dump then carries.
	Stalled time.Duration
	// Cgroups: the socket was made in one of these cgroup v2 groups (by
	// id: the inode of the group's directory), as INET_DIAG_CGROUP_ID
	// says (Linux 5.9 and later; TIME_WAIT sockets carry none). From Linux
	// 5.10 the kernel's filter program tests it too (INET_DIAG_BC_CGROUP_COND,
	// ss's "cgroup PATH"), and sends only those sockets.
	Cgroups []uint64
	// WithInfo asks the kernel for every socket's struct tcp_info, which a
	// query hands to its WithTCPInfo option: what a listing shows of it
	// (idle, retransmits, rtt).
	WithInfo bool
	// InfoStates narrows WithInfo to the sockets in these states: each
	// dump is then two, one of these states with tcp_info and one of the
	// others without (the kernel fills tcp_info under each socket's lock,
	// which costs more than the rest of the dump). 0: every state.
	InfoStates StateMask
	// InfoWhole names the families whose dump InfoStates does not split:
	// one dump asks tcp_info of every state. Each dump walks the kernel's
	// whole table of sockets, of every namespace: for a family of few
	// sockets, a second walk costs more than their tcp_info.
	InfoWhole []inet.Family
}

// synchronized reports whether a TCP socket in state st has completed its
// handshake (and is no listener).
func synchronized(st State) bool {
	switch st {
	case Established, CloseWait, FinWait1, FinWait2, LastAck, Closing:
		return true
	}
	return false
}

// needsInfo reports whether the filter reads struct tcp_info.
func (f *Filter) needsInfo() bool { return f.Idle > 0 || f.Stalled > 0 }

// MatchInfo is Match for a socket dumped with the attributes that follow its
// inet_diag_msg: the selectors that read struct tcp_info too. A socket
// without one (UDP, TIME_WAIT) is not selected by them.
func (f *Filter) MatchInfo(s *Socket, attrs []byte) bool {
	if !f.Match(s) {
		return false
	}
	if len(f.Cgroups) > 0 {
		if id, ok := cgroupOf(attrs); !ok || !slices.Contains(f.Cgroups, id) {
			return false
		}
	}
	if !f.needsInfo() {
		return true
	}
	info, ok := tcpInfoOf(attrs)
	if !ok || s.Protocol != inet.TCP || s.IsTimeWait() || !synchronized(s.State) {
		// Before the handshake the kernel has set none of the times
		// tcp_info counts from: a SYN_SENT socket reads as idle for hours.
		return false
	}
	if f.Idle > 0 && info.Idle() < f.Idle {
		return false
	}
	if f.Stalled > 0 && !(info.Unacked > 0 && (info.Retransmits > 0 || info.Backoff > 0) && info.LastAckRecv >= f.Stalled) {
		return false
	}
	return true
}

// An Interface is a network interface as a selector: a socket is on it when
// it is bound or scoped to it (idiag_if), or, having no scope, when its
// local address is one of the interface's. Link-local addresses repeat on
// every link: a socket scoped to another interface is not on this one, even
// with the same address. The equivalent of ss's "dev" filter, widened to
// the interface's addresses.
type Interface struct {
	Name  string
	Index uint32
	Addrs []netip.Addr
}

func (i *Interface) has(s *Socket) bool {
	if s.ID.Interface != 0 {
		return s.ID.Interface == i.Index
	}
	return slices.Contains(i.Addrs, s.ID.Local.Addr().Unmap())
}

// The defaults when Filter.States is 0.
const (
	defaultTCPStates = AllStates &^ (1 << Listen)
	defaultUDPStates = StateMask(1 << Established)
)

// HasSelector reports whether the filter narrows the sockets down at all:
// protocols and families alone do not, nor does a selector that takes in
// everything the default would: states that take in every default state
// ("all", "connected", every state named one by one), ports that cover
// 1-65535, peers or prefixes that cover the whole address space of the
// families asked for, as inet judges them (v4-mapped prefixes as IPv4,
// peers' ports together). So "destroy every TCP socket" is never taken for
// a selection.
func (f *Filter) HasSelector() bool {
	return f.narrowsStates() ||
		len(f.Peers) > 0 && !inet.CoversPeers(f.Families, f.Peers) ||
		len(f.Local) > 0 && !inet.CoversAddrs(f.Families, f.Local) ||
		len(f.Ports) > 0 && !inet.CoversPorts(f.Ports) ||
		len(f.LocalPorts) > 0 && !inet.CoversPorts(f.LocalPorts) ||
		len(f.RemotePorts) > 0 && !inet.CoversPorts(f.RemotePorts) ||
		f.Interface != nil || len(f.UIDs) > 0 || f.needsInfo() || len(f.Cgroups) > 0
}

// narrowsStates reports whether the states leave out a default state. A TCP
// socket in close is not connected (bound, or just made): leaving it out
// narrows nothing a destroy would reach.
func (f *Filter) narrowsStates() bool {
	if f.States == 0 {
		return false
	}
	for _, p := range f.protocols() {
		def := (&Filter{}).StatesFor(p)
		if def&^f.States&^(1<<Close) != 0 {
			return true
		}
	}
	return false
}

// StatesFor returns the states selected for a protocol.
func (f *Filter) StatesFor(p inet.Protocol) StateMask {
	switch {
	case f.States != 0:
		return f.States
	case p == inet.UDP:
		return defaultUDPStates
	}
	return defaultTCPStates
}

func (f *Filter) protocols() []inet.Protocol {
	if len(f.Protocols) == 0 {
		return []inet.Protocol{inet.TCP}
	}
	return f.Protocols
}

func (f *Filter) wantsFamily(fam inet.Family) bool {
	return len(f.Families) == 0 || slices.Contains(f.Families, fam)
}

// Match reports whether the socket is selected. It is the truth the kernel's
// filter only approximates.
func (f *Filter) Match(s *Socket) bool {
	if !slices.Contains(f.protocols(), s.Protocol) || !f.StatesFor(s.Protocol).Has(s.State) {
		return false
	}
	local, remote := s.ID.Local, s.ID.Remote
	mapped := s.Family == inet.IPv6 && local.Addr().Is4In6()
	if !(f.wantsFamily(s.Family) || mapped && f.wantsFamily(inet.IPv4)) {
		return false
	}
	// No connection has an unspecified peer: that is what LISTEN and
	// unconnected sockets show, and a peer selector never takes them in.
	if len(f.Peers) > 0 && (remote.Addr().Unmap().IsUnspecified() || !slices.ContainsFunc(f.Peers, func(e inet.Endpoint) bool {
		return prefixHas(e.Prefix, remote.Addr()) && (e.Ports == nil || inRanges(e.Ports, remote.Port()))
	})) {
		return false
	}
	if len(f.Local) > 0 && !slices.ContainsFunc(f.Local, func(p netip.Prefix) bool { return prefixHas(p, local.Addr()) }) {
		return false
	}
	if len(f.Ports) > 0 && !inRanges(f.Ports, local.Port()) && !inRanges(f.Ports, remote.Port()) {
		return false
	}
	if len(f.LocalPorts) > 0 && !inRanges(f.LocalPorts, local.Port()) {
		return false
	}
	if len(f.RemotePorts) > 0 && !inRanges(f.RemotePorts, remote.Port()) {
		return false
	}
	if i := f.Interface; i != nil && !i.has(s) {
		return false
	}
	if len(f.UIDs) > 0 && !slices.Contains(f.UIDs, s.UID) {
		return false
	}
	return true
}

// prefixHas is Prefix.Contains that also lets an IPv4 prefix contain the
// v4-mapped IPv6 form of its addresses, as the kernel's filter does.
func prefixHas(p netip.Prefix, a netip.Addr) bool {
	if p.Addr().Is4() {
		a = a.Unmap()
	}
	return p.Contains(a)
}

func inRanges(rs []inet.PortRange, p uint16) bool {
	return slices.ContainsFunc(rs, func(r inet.PortRange) bool { return r.Contains(p) })
}

// A dump is one SOCK_DIAG_BY_FAMILY request of a query.
type dump struct {
	Request
	// never is set when the kernel's filter could match nothing in this
	// family (say, only IPv6 peers in an IPv4 dump): the dump is skipped.
	never bool
}

// dumps returns one request per (protocol, family) the filter needs, each
// with its state mask, exact-port prefilter and filter program; cgroupCond:
// the kernel's program has INET_DIAG_BC_CGROUP_COND.
func (f *Filter) dumps(cgroupCond bool) []dump {
	var out []dump
	for _, proto := range f.protocols() {
		for _, fam := range []inet.Family{inet.IPv4, inet.IPv6} {
			// An IPv4 selection needs the IPv6 dump for v4-mapped sockets.
			if !f.wantsFamily(fam) && !(fam == inet.IPv6 && f.wantsFamily(inet.IPv4)) {
				continue
			}
			prog, ok := compile(f, fam, cgroupCond)
			d := dump{never: !ok, Request: Request{
				Family:   fam,
				Protocol: proto,
				States:   f.StatesFor(proto),
				ID:       f.portPrefilter(),
				Bytecode: prog,
			}}
			if f.needsInfo() || f.WithInfo {
				d.Ext = 1 << (inetDiagInfo - 1)
			}
			if d.Ext != 0 && !f.needsInfo() && f.InfoStates != 0 && !slices.Contains(f.InfoWhole, fam) {
				plain := d
				plain.Ext, plain.States = 0, d.States&^f.InfoStates
				d.States &= f.InfoStates
				for _, d := range []dump{plain, d} {
					if d.States != 0 {
						out = append(out, d)
					}
				}
				continue
			}
			out = append(out, d)
		}
	}
	return out
}

// portPrefilter fills the sockid ports of a dump request, which the kernel
// compares before anything else, when exactly one local or remote port is
// asked for.
func (f *Filter) portPrefilter() SockID {
	var id SockID
	if len(f.LocalPorts) == 1 && f.LocalPorts[0].Lo == f.LocalPorts[0].Hi {
		id.Local = netip.AddrPortFrom(netip.Addr{}, f.LocalPorts[0].Lo)
	}
	if len(f.RemotePorts) == 1 && f.RemotePorts[0].Lo == f.RemotePorts[0].Hi {
		id.Remote = netip.AddrPortFrom(netip.Addr{}, f.RemotePorts[0].Lo)
	}
	return id
}
