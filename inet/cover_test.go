package inet

import (
	"net/netip"
	"strings"
	"testing"
)

func TestCoversPorts(t *testing.T) {
	for _, c := range []struct {
		rs   []PortRange
		want bool
	}{
		{nil, false},
		{[]PortRange{{80, 80}}, false},
		{[]PortRange{{0, 65535}}, true},
		{[]PortRange{{1, 65535}}, true},
		{[]PortRange{{2, 65535}}, false},
		{[]PortRange{{1, 65534}}, false},
		{[]PortRange{{1, 1000}, {900, 40000}, {40001, 65535}}, true},
		{[]PortRange{{40001, 65535}, {1, 40000}}, true}, // in any order
		{[]PortRange{{1, 1000}, {1002, 65535}}, false},
	} {
		if got := CoversPorts(c.rs); got != c.want {
			t.Errorf("CoversPorts(%v) = %v, want %v", c.rs, got, c.want)
		}
	}
}

// endpoints reads "PREFIX" and "PREFIX=LO-HI" words (a PEER word has no
// IPv6 prefix with ports).
func endpoints(t *testing.T, words string) []Endpoint {
	t.Helper()
	var eps []Endpoint
	for _, w := range strings.Fields(words) {
		prefix, ports, _ := strings.Cut(w, "=")
		e := Endpoint{Prefix: netip.MustParsePrefix(prefix)}
		if ports != "" {
			var err error
			if e.Ports, err = ParsePorts(ports, nil); err != nil {
				t.Fatal(err)
			}
		}
		eps = append(eps, e)
	}
	return eps
}

// TestCoversPeers: a set of PEERs covers everything when the addresses
// whose ports, together, are every port are every address of the families,
// judged after unmapping and with IPv4 over the v4-mapped IPv6 addresses.
func TestCoversPeers(t *testing.T) {
	v4, v6 := []Family{IPv4}, []Family{IPv6}
	for _, c := range []struct {
		families []Family
		peers    string
		want     bool
	}{
		{nil, "0.0.0.0/0 ::/0", true},
		{nil, "::ffff:0.0.0.0/96 ::/0", true}, // 0.0.0.0/0 ::/0, written otherwise
		{nil, "::/0 ::ffff:0.0.0.0/96", true},
		{v4, "::ffff:0.0.0.0/96", true},
		{nil, "::ffff:0.0.0.0/96", false}, // IPv6 left out
		{v4, "::ffff:0.0.0.0/97 ::ffff:128.0.0.0/97", true},
		{v4, "::ffff:0.0.0.0/97=1-9 ::ffff:0.0.0.0/96=10-65535 128.0.0.0/1", true},
		{v4, "::/0", false}, // no IPv6 prefix holds an IPv4 address
		{v6, "0.0.0.0/0", false},
		{v6, "::/0", true},
		{nil, "0.0.0.0/0", false},
		{v4, "0.0.0.0/0", true},
		{[]Family{IPv4, IPv6}, "0.0.0.0/0 ::/0", true},
		{nil, "0.0.0.0/1 128.0.0.0/1 ::/1 8000::/1", true},
		{nil, "0.0.0.0/1 128.0.0.0/2 ::/0", false},
		// IPv4 covers the v4-mapped IPv6 addresses, which the rest of IPv6 then completes.
		{v6, "0.0.0.0/0 ::/1 8000::/1", true},
		{nil, "::/0", false},
		{nil, "192.0.2.2/32 ::/0", false},
		{nil, "0.0.0.0/0 ::/0 192.0.2.2/32=80", true}, // a narrower peer among them narrows nothing
		// Ports: an address is covered when the endpoints that hold it, together, take every port.
		{v4, "0.0.0.0/0=1-32767 0.0.0.0/0=32768-65535", true},
		{nil, "0.0.0.0/0=1-32767 0.0.0.0/0=32768-65535 ::/0", true},
		{nil, "0.0.0.0/0=1-32767 0.0.0.0/0=32768-65535", false},
		{v4, "0.0.0.0/0=1-32767 0.0.0.0/1=32768-65535 128.0.0.0/1=32768-65535", true},
		{v4, "0.0.0.0/0=1-32767 0.0.0.0/1=32768-65535", false},
		{v4, "0.0.0.0/0=1-32767", false},
		{v4, "0.0.0.0/0=0-65535", true},
		{v4, "0.0.0.0/0=2-65535", false},
		{v6, "::/0=1-100 0.0.0.0/0=101-65535", false},
		{nil, "::/0=1-100 ::ffff:0.0.0.0/96=101-65535 0.0.0.0/0=1-100 ::/0=101-65535", true},
		{nil, "", false},
	} {
		if got := CoversPeers(c.families, endpoints(t, c.peers)); got != c.want {
			t.Errorf("CoversPeers(%v, %s) = %v, want %v", c.families, c.peers, got, c.want)
		}
	}
}

// TestCoversPeersMappedByIPv4: in a dump of IPv6 sockets an IPv4 prefix
// matches the v4-mapped addresses, ::ffff:0:0/96: with every other IPv6
// prefix it covers IPv6, on the ports the IPv6 prefixes that hold the
// v4-mapped addresses leave to it.
func TestCoversPeersMappedByIPv4(t *testing.T) {
	mapped := netip.MustParsePrefix("::ffff:0:0/96")
	var rest []Endpoint // every IPv6 address but the v4-mapped ones
	for bits := 1; bits <= mapped.Bits(); bits++ {
		b := mapped.Addr().As16()
		b[(bits-1)/8] ^= 0x80 >> ((bits - 1) % 8)
		rest = append(rest, Endpoint{Prefix: netip.PrefixFrom(netip.AddrFrom16(b), bits).Masked()})
	}
	v6 := []Family{IPv6}
	if CoversPeers(v6, rest) {
		t.Fatal("IPv6 but the v4-mapped addresses covers IPv6")
	}
	if !CoversPeers(v6, append(rest, endpoints(t, "0.0.0.0/0")...)) {
		t.Error("IPv6 but the v4-mapped addresses, and IPv4, does not cover IPv6")
	}
	if CoversPeers(v6, append(rest, endpoints(t, "0.0.0.0/1")...)) {
		t.Error("IPv6 but the v4-mapped addresses, and half of IPv4, covers IPv6")
	}
	if !CoversPeers(v6, append(rest, endpoints(t, "::/0=1-100 0.0.0.0/0=101-65535")...)) {
		t.Error("IPv4 on the ports ::/0 leaves out does not complete IPv6")
	}
	if CoversPeers(nil, append(rest, endpoints(t, "::/0=1-100 0.0.0.0/0=101-65535")...)) {
		t.Error("IPv4 on some ports covers IPv4")
	}
}

func TestCoversAddrs(t *testing.T) {
	p := func(words ...string) []netip.Prefix {
		var ps []netip.Prefix
		for _, w := range words {
			ps = append(ps, netip.MustParsePrefix(w))
		}
		return ps
	}
	for _, c := range []struct {
		families []Family
		prefixes []netip.Prefix
		want     bool
	}{
		{nil, p("0.0.0.0/0", "::/0"), true},
		{nil, p("::ffff:0.0.0.0/96", "::/0"), true}, // as given, not parsed: unmapped here too
		{[]Family{IPv4}, p("::ffff:0.0.0.0/96"), true},
		{[]Family{IPv4}, p("::ffff:192.0.2.0/120"), false},
		{nil, p("0.0.0.0/0"), false},
		{[]Family{IPv4}, p("0.0.0.0/0"), true},
		{nil, p("0.0.0.0/0", "::/1", "8000::/1"), true},
		{[]Family{IPv6}, p("0.0.0.0/0", "::/1", "8000::/1"), true},
		{nil, p("0.0.0.0/1", "128.0.0.0/2", "::/0"), false},
		{nil, p("192.0.2.77/0", "::1/0"), true}, // host bits cleared
		{nil, nil, false},
	} {
		if got := CoversAddrs(c.families, c.prefixes); got != c.want {
			t.Errorf("CoversAddrs(%v, %v) = %v, want %v", c.families, c.prefixes, got, c.want)
		}
	}
}

func TestUnmapPrefix(t *testing.T) {
	for in, want := range map[string]string{
		"::ffff:192.0.2.0/120": "192.0.2.0/24",
		"::ffff:192.0.2.1/128": "192.0.2.1/32",
		"::ffff:0.0.0.0/96":    "0.0.0.0/0",
		"::ffff:0.0.0.0/95":    "::ffff:0.0.0.0/95", // holds more than the v4-mapped addresses
		"192.0.2.0/24":         "192.0.2.0/24",
		"2001:db8::/64":        "2001:db8::/64",
	} {
		if got := unmapPrefix(netip.MustParsePrefix(in)); got.String() != want {
			t.Errorf("unmapPrefix(%s) = %s, want %s", in, got, want)
		}
	}
}
