package reap

import (
	"net/netip"
	"regexp"
	"slices"

	"github.com/tcpreap/tcpreap/host"
	"github.com/tcpreap/tcpreap/sockdiag"
)

// A Selection is which sockets to find, parsed: the filter the kernel and
// Go apply, what only the processes can tell (Owners), the guards, and what
// to read besides the sockets.
type Selection struct {
	Filter sockdiag.Filter
	// Interface names the interface whose sockets are selected; Query looks
	// it up in the namespace it works in and sets Filter.Interface. "" for
	// none.
	Interface string
	// Owners selects by the processes that hold a socket; nil for any.
	Owners *Owners
	// LocalGone selects the sockets whose local address their namespace
	// no longer has (host.GoneAddrs), as the addresses stand once the dump
	// is whole: after a failover moved it away, or DHCP renumbered. A
	// wildcard bind (LISTEN on 0.0.0.0, an unconnected UDP socket) is
	// never selected.
	LocalGone bool
	// PeerNotIn selects the connections whose peer is in none of these
	// prefixes (the live set, ParseLiveSet): those to anything else. A
	// socket with no peer (LISTEN, unconnected UDP) is never selected; an
	// IPv4 prefix takes in the v4-mapped peers too. Nil: no such selector.
	PeerNotIn []netip.Prefix
	// ListenNamed: the selection named the LISTEN state itself (or every
	// state), so LISTEN sockets may be targets (see kill.Guards).
	ListenNamed bool
	// IncludeSelf lifts the guard of the SSH session tcpreap runs in.
	IncludeSelf bool
	// WantOwners reads who holds every socket (Run.Owners), as Owners does,
	// and shows them with the results (Report.Owners).
	WantOwners bool
	// OwnersInSpaces narrows WantOwners to the processes that run in the
	// namespaces worked in (one look at each process's namespace, instead
	// of at its every descriptor): a socket that only a process of another
	// namespace holds has no owner. For counting on a host of many
	// namespaces; a selection by owner (Owners) reads every process.
	OwnersInSpaces bool
	// OwnerCache, with WantOwners and no Owners, reads the owners after
	// the dumps, through the cache: only the descriptors that may have
	// changed since its last use (host.OwnerCache). For a census taken
	// again and again.
	OwnerCache *host.OwnerCache
	// WantInfo reads what struct tcp_info says of every TCP socket
	// (Run.Infos), as a selection by idleness does.
	WantInfo bool
}

// HasSelector reports whether the selection narrows the sockets down at all
// (see sockdiag.Filter.HasSelector); the owners and the interface do.
func (s *Selection) HasSelector() bool {
	return s.Filter.HasSelector() || s.Owners != nil || s.Interface != "" || s.LocalGone || s.PeerNotIn != nil
}

// outsideLive reports whether the peer of s is in none of the live set's
// prefixes; false for a socket with no peer.
func (s *Selection) outsideLive(sock *sockdiag.Socket) bool {
	peer := sock.ID.Remote.Addr().Unmap().WithZone("")
	if !peer.IsValid() || peer.IsUnspecified() {
		return false
	}
	return !slices.ContainsFunc(s.PeerNotIn, func(p netip.Prefix) bool { return p.Contains(peer) })
}

// Owners select sockets by the processes that hold them: a socket is
// selected when a process that holds it has one of PIDs (if any are given)
// and one that holds it has one of Commands or a command name that one of
// Patterns matches (if any are given). A socket no process holds
// (TIME_WAIT, orphaned) is never selected.
type Owners struct {
	PIDs     []int
	Commands []string
	Patterns []*regexp.Regexp
}

// hold reports whether the processes that hold a socket are selected.
func (o *Owners) hold(holders []host.Owner) bool {
	named := func(w host.Owner) bool {
		return slices.Contains(o.Commands, w.Command) || slices.ContainsFunc(o.Patterns, func(re *regexp.Regexp) bool { return re.MatchString(w.Command) })
	}
	return (len(o.PIDs) == 0 || slices.ContainsFunc(holders, func(w host.Owner) bool { return slices.Contains(o.PIDs, w.PID) })) &&
		(len(o.Commands)+len(o.Patterns) == 0 || slices.ContainsFunc(holders, named))
}

// Name reports whether the selectors name process p: by its pid, its
// command name, or a pattern its command name matches.
func (o *Owners) Name(p host.Process) bool {
	return slices.Contains(o.PIDs, p.PID) || slices.Contains(o.Commands, p.Command) ||
		slices.ContainsFunc(o.Patterns, func(re *regexp.Regexp) bool { return re.MatchString(p.Command) })
}
