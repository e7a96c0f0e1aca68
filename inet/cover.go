package inet

import (
	"net/netip"
	"slices"
)

// Whether a selector covers everything is judged here once, for sockets and
// conntrack entries alike: a selector that takes in every address or every
// port is no selector (tcpreap then wants --all). Every prefix is judged as
// it matches, after its normalisation: masked, a v4-mapped prefix as its
// IPv4 prefix (unmapPrefix), and an IPv4 prefix also over the v4-mapped
// addresses of IPv6 (::ffff:0:0/96), which it matches in an IPv6 socket's
// dump. For a conntrack table, where an IPv6 entry with a v4-mapped address
// does not occur, that judges one more selection as everything: never one
// less.

// everyPort is the ports a connection can have (port 0 is an unconnected
// socket's remote): those of an endpoint that names none.
var everyPort = []PortRange{{1, 65535}}

// CoversPorts reports whether the ranges, together, cover every port a
// connection can have, 1 to 65535.
func CoversPorts(rs []PortRange) bool {
	sorted := slices.SortedFunc(slices.Values(rs), func(a, b PortRange) int { return int(a.Lo) - int(b.Lo) })
	next := 1 // the first port not yet covered
	for _, r := range sorted {
		if int(r.Lo) > next {
			return false
		}
		next = max(next, int(r.Hi)+1)
	}
	return next > 65535
}

// CoversAddrs reports whether the prefixes, together, cover every address
// of the families (none: both).
func CoversAddrs(families []Family, prefixes []netip.Prefix) bool {
	peers := make([]Endpoint, len(prefixes))
	for i, p := range prefixes {
		peers[i] = Endpoint{Prefix: p}
	}
	return CoversPeers(families, peers)
}

// CoversPeers reports whether the endpoints, together, cover every address
// of the families (none: both) on every port: whether the addresses whose
// endpoints' ports cover 1-65535 are all of them. An address's ports are
// those of every endpoint whose prefix holds it, so 0.0.0.0/0:1-32767 and
// 0.0.0.0/0:32768-65535 cover IPv4, and so do 0.0.0.0/0:1-32767 and
// 0.0.0.0/1:32768-65535 128.0.0.0/1:32768-65535. It costs a map entry and
// up to 129 look-ups an endpoint.
func CoversPeers(families []Family, peers []Endpoint) bool {
	if len(families) == 0 {
		families = []Family{IPv4, IPv6}
	}
	for _, fam := range families {
		ports := map[netip.Prefix][]PortRange{} // by prefix in fam's space
		for _, e := range peers {
			p, ok := inSpace(e.Prefix, fam)
			switch {
			case !ok:
			case len(e.Ports) == 0:
				ports[p] = append(ports[p], everyPort...)
			default:
				ports[p] = append(ports[p], e.Ports...)
			}
		}
		var covered []netip.Prefix
		for p := range ports {
			var rs []PortRange
			for bits := p.Bits(); bits >= 0; bits-- {
				rs = append(rs, ports[netip.PrefixFrom(p.Addr(), bits).Masked()]...)
			}
			if CoversPorts(rs) {
				covered = append(covered, p)
			}
		}
		if !coversSpace(covered, fam) {
			return false
		}
	}
	return true
}

// unmapPrefix returns a v4-mapped IPv6 prefix (::ffff:a.b.c.d/n, n at
// least 96) as the IPv4 prefix a.b.c.d/n-96, and any other prefix as it is.
// A conntrack table keeps IPv4 flows as IPv4, and a socket's dump matches an
// IPv4 prefix in IPv6 sockets' v4-mapped addresses too.
func unmapPrefix(p netip.Prefix) netip.Prefix {
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(a.Unmap(), p.Bits()-96).Masked()
	}
	return p
}

// inSpace returns p, normalised, as a prefix of fam's addresses, and false
// when p holds none of them: an IPv4 prefix is, in the IPv6 space, its
// v4-mapped IPv6 prefix; no other IPv6 prefix holds an IPv4 address.
func inSpace(p netip.Prefix, fam Family) (netip.Prefix, bool) {
	if !p.IsValid() {
		return netip.Prefix{}, false
	}
	p = unmapPrefix(p.Masked())
	switch {
	case fam == IPv4:
		return p, p.Addr().Is4()
	case fam == IPv6 && p.Addr().Is4():
		return netip.PrefixFrom(netip.AddrFrom16(p.Addr().As16()), p.Bits()+96), true
	}
	return p, fam == IPv6
}

// coversSpace reports whether the prefixes, all of fam, cover every
// address of fam.
func coversSpace(ps []netip.Prefix, fam Family) bool {
	next := netip.IPv4Unspecified() // the first address not yet covered
	if fam == IPv6 {
		next = netip.IPv6Unspecified()
	}
	slices.SortFunc(ps, func(a, b netip.Prefix) int { return a.Addr().Compare(b.Addr()) })
	for _, p := range ps {
		lo, hi := p.Addr(), lastAddr(p)
		if lo.Compare(next) > 0 {
			return false
		}
		if hi.Compare(next) >= 0 {
			if !hi.Next().IsValid() {
				return true // reached the highest address
			}
			next = hi.Next()
		}
	}
	return false
}

// lastAddr returns the highest address of a masked prefix.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}
