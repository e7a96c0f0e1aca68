package host

import "net/netip"

// A LocalAddr is a socket's local address and the interface it is bound or
// scoped to (0: none), as a dump shows them.
type LocalAddr struct {
	Addr      netip.Addr
	Interface uint32
}

// GoneAddrs returns which of the local addresses the network namespace of
// the calling thread no longer has (enter a namespace with Namespace.Do):
// those configured on no interface (a link-local address scoped to an
// interface: on no other than that one) that no local route takes in
// either. The local routes are the kernel's own test of "is this address
// mine": they take in 127.0.0.0/8 on lo and an AnyIP route (ip route add
// local 192.0.2.0/24 dev lo) besides the configured addresses. An
// unspecified address (a wildcard bind) is never gone; a v4-mapped one is
// judged as its IPv4 address.
//
// It costs one dump of the namespace's addresses and one route look-up
// (ip route get) for each address not configured.
func GoneAddrs(addrs []LocalAddr) (map[LocalAddr]bool, error) {
	return goneAddrs(addrs)
}
