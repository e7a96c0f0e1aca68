package inet

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// An Endpoint is one end of a connection as a selector names it (a
// socket's peer, either end of a conntrack entry's original direction): an
// address prefix and, optionally, ports.
type Endpoint struct {
	Prefix netip.Prefix
	Ports  []PortRange // nil: any port
}

// ParsePrefix parses an IP address or a CIDR prefix; host bits of a prefix
// are cleared, and a v4-mapped IPv6 prefix (::ffff:0:0/96 or longer) is
// its IPv4 prefix: ::ffff:192.0.2.2 is 192.0.2.2. IPv4 prefixes also match
// v4-mapped IPv6 sockets.
func ParsePrefix(word string) (netip.Prefix, error) {
	if strings.Contains(word, "/") {
		p, err := netip.ParsePrefix(word)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not a valid CIDR prefix (like 192.0.2.0/24 or 2001:db8::/32)", word)
		}
		return unmapPrefix(p.Masked()), nil
	}
	a, err := netip.ParseAddr(word)
	switch {
	case err != nil:
		return netip.Prefix{}, fmt.Errorf("%q is not a valid IP address", word)
	case a.Zone() != "":
		return netip.Prefix{}, &ZoneError{Word: word, Addr: a}
	}
	return unmapPrefix(netip.PrefixFrom(a, a.BitLen())), nil
}

// A ZoneError is an address given with its zone, the interface it is on
// (fe80::1%eth0, as link-local addresses are written), where an address
// alone is taken.
type ZoneError struct {
	Word string
	Addr netip.Addr
}

func (e *ZoneError) Error() string {
	return fmt.Sprintf("%q names an interface (%%%s), which an address here does not take; give %s", e.Word, e.Addr.Zone(), e.Addr.WithZone(""))
}

// A HostLookup resolves a host name to all its addresses (A and AAAA).
type HostLookup func(host string) ([]netip.Addr, error)

// ParsePeer parses a PEER word: IP, CIDR, IP:PORT, [IPv6]:PORT, a bare IPv6
// address, or a host name (optionally with :PORT), which resolve turns into
// one endpoint per address. PORT is anything ParsePorts takes.
func ParsePeer(word string, services ServiceLookup, resolve HostLookup) ([]Endpoint, error) {
	host, port := word, ""
	switch {
	case strings.HasPrefix(word, "["):
		end := strings.Index(word, "]")
		if end < 0 {
			return nil, fmt.Errorf("%q has no closing bracket; write an IPv6 peer with a port as [2001:db8::2]:443", word)
		}
		host, port = word[1:end], word[end+1:]
		if port != "" && !strings.HasPrefix(port, ":") {
			return nil, fmt.Errorf("%q: after ] comes :PORT", word)
		}
		port = strings.TrimPrefix(port, ":")
		if port == "" && word[end+1:] != "" {
			return nil, fmt.Errorf("%q has an empty port", word)
		}
		if _, err := netip.ParseAddr(host); err != nil || !strings.Contains(host, ":") {
			return nil, fmt.Errorf("%q is not a valid IPv6 address", host)
		}
	case strings.Count(word, ":") == 1:
		host, port, _ = strings.Cut(word, ":")
		if port == "" {
			return nil, fmt.Errorf("%q has an empty port", word)
		}
		if host == "" {
			return nil, fmt.Errorf("%q has no address before the port", word)
		}
	}
	var ports []PortRange
	if port != "" {
		var err error
		if ports, err = ParsePorts(port, services); err != nil {
			return nil, err
		}
	}
	if strings.Contains(host, "/") || strings.Contains(host, ":") || looksNumeric(host) {
		p, err := ParsePrefix(host)
		if err != nil {
			return nil, err
		}
		if p.IsSingleIP() && p.Addr().IsUnspecified() {
			return nil, fmt.Errorf("%s is no peer: no connection has an unspecified remote end (LISTEN and unconnected sockets show it); name the peer's address", host)
		}
		return []Endpoint{{Prefix: p, Ports: ports}}, nil
	}
	if !isHostName(host) {
		return nil, fmt.Errorf("%q is neither an IP address, a CIDR prefix nor a host name", host)
	}
	addrs, err := resolve(host)
	if err != nil {
		return nil, err
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("host name %q has no addresses", host)
	}
	out := make([]Endpoint, 0, len(addrs))
	for _, a := range addrs {
		a = a.Unmap()
		if a.IsUnspecified() {
			return nil, fmt.Errorf("host name %q resolves to %s, which is no peer (a DNS sinkhole answers so); give the peer's address", host, a)
		}
		out = append(out, Endpoint{Prefix: netip.PrefixFrom(a, a.BitLen()), Ports: ports})
	}
	return out, nil
}

// ParsePeers parses PEER words as ParsePeer does, and resolves the host
// names among them together, by one call of resolve, which returns every
// address of each name (a name it leaves out has none).
func ParsePeers(words []string, services ServiceLookup, resolve func(names []string) (map[string][]netip.Addr, error)) ([]Endpoint, error) {
	var names []string
	collect := func(name string) ([]netip.Addr, error) {
		names = append(names, name)
		return []netip.Addr{netip.IPv6Loopback()}, nil // a stand-in, until resolved
	}
	for _, w := range words {
		if _, err := ParsePeer(w, services, collect); err != nil {
			return nil, err
		}
	}
	var addrs map[string][]netip.Addr
	if len(names) > 0 {
		var err error
		if addrs, err = resolve(slices.Compact(slices.Sorted(slices.Values(names)))); err != nil {
			return nil, err
		}
	}
	var out []Endpoint
	for _, w := range words {
		eps, err := ParsePeer(w, services, func(name string) ([]netip.Addr, error) { return addrs[name], nil })
		if err != nil {
			return nil, err
		}
		out = append(out, eps...)
	}
	return out, nil
}

// looksNumeric reports a word of only digits and dots: an IPv4 address, good
// or bad, and never a host name to look up.
func looksNumeric(s string) bool {
	return s != "" && strings.Trim(s, "0123456789.") == ""
}

// isHostName accepts letters, digits, '-', '_' and '.' (RFC 1123 and the
// underscores real zones carry).
func isHostName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, c := range s {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '.', c == '_':
		default:
			return false
		}
	}
	return true
}
