package inet

import (
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

func FuzzParsePeer(f *testing.F) {
	for _, s := range []string{"192.0.2.2", "192.0.2.0/24:80", "[2001:db8::2]:443", "2001:db8::2", "db1:http", "[", "]:", "999.1.1.1"} {
		f.Add(s)
	}
	services := func(string) (uint16, error) { return 80, nil }
	resolve := func(string) ([]netip.Addr, error) { return []netip.Addr{netip.MustParseAddr("192.0.2.9")}, nil }
	f.Fuzz(func(t *testing.T, word string) {
		eps, err := ParsePeer(word, services, resolve)
		if err == nil && len(eps) == 0 {
			t.Fatalf("%q: no endpoints and no error", word)
		}
		for _, e := range eps {
			if !e.Prefix.IsValid() {
				t.Fatalf("%q: invalid prefix in %+v", word, e)
			}
		}
	})
}

func TestParsePrefix(t *testing.T) {
	tests := []struct {
		word, want, err string
	}{
		{word: "192.0.2.1", want: "192.0.2.1/32"},
		{word: "192.0.2.77/24", want: "192.0.2.0/24"},
		{word: "2001:db8::1", want: "2001:db8::1/128"},
		{word: "2001:db8::/64", want: "2001:db8::/64"},
		{word: "::ffff:192.0.2.1", want: "192.0.2.1/32"},
		{word: "::ffff:192.0.2.77/120", want: "192.0.2.0/24"},
		{word: "::ffff:0.0.0.0/96", want: "0.0.0.0/0"},
		{word: "::ffff:0:0/95", want: "::fffe:0:0/95"}, // more than the v4-mapped addresses
		{word: "192.0.2.1/33", err: "not a valid CIDR prefix"},
		{word: "999.1.1.1", err: "not a valid IP address"},
		{word: "fe80::1%eth0", err: `"fe80::1%eth0" names an interface (%eth0), which an address here does not take; give fe80::1`},
	}
	for _, tt := range tests {
		got, err := ParsePrefix(tt.word)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParsePrefix(%q) error %v, want %q", tt.word, err, tt.err)
			}
			continue
		}
		if err != nil || got.String() != tt.want {
			t.Errorf("ParsePrefix(%q) = %v, %v; want %s", tt.word, got, err, tt.want)
		}
	}
}

func TestParsePeer(t *testing.T) {
	services := fakeServices(t)
	resolve := func(host string) ([]netip.Addr, error) {
		switch host {
		case "db1":
			return []netip.Addr{netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("2001:db8::2")}, nil
		case "empty":
			return nil, nil
		case "sinkhole":
			return []netip.Addr{netip.MustParseAddr("192.0.2.2"), netip.IPv4Unspecified()}, nil
		}
		return nil, errors.New("no such host")
	}
	ep := func(p string, ports ...PortRange) Endpoint {
		return Endpoint{Prefix: netip.MustParsePrefix(p), Ports: ports}
	}
	tests := []struct {
		word string
		want []Endpoint
		err  string
	}{
		{word: "192.168.2.34", want: []Endpoint{ep("192.168.2.34/32")}},
		{word: "192.0.2.0/24", want: []Endpoint{ep("192.0.2.0/24")}},
		{word: "192.0.2.2:40001", want: []Endpoint{ep("192.0.2.2/32", PortRange{40001, 40001})}},
		{word: "192.0.2.2:postgresql", want: []Endpoint{ep("192.0.2.2/32", PortRange{5432, 5432})}},
		{word: "192.0.2.0/24:1000-2000", want: []Endpoint{ep("192.0.2.0/24", PortRange{1000, 2000})}},
		{word: "2001:db8::2", want: []Endpoint{ep("2001:db8::2/128")}},
		{word: "[2001:db8::2]:443", want: []Endpoint{ep("2001:db8::2/128", PortRange{443, 443})}},
		{word: "[2001:db8::2]", want: []Endpoint{ep("2001:db8::2/128")}},
		{word: "2001:db8::/64", want: []Endpoint{ep("2001:db8::/64")}},
		{word: "[::ffff:192.0.2.2]:443", want: []Endpoint{ep("192.0.2.2/32", PortRange{443, 443})}},
		{word: "db1", want: []Endpoint{ep("192.0.2.2/32"), ep("2001:db8::2/128")}},
		{word: "db1:5432", want: []Endpoint{ep("192.0.2.2/32", PortRange{5432, 5432}), ep("2001:db8::2/128", PortRange{5432, 5432})}},
		{word: "999.1.1.1", err: "not a valid IP address"},
		{word: "192.0.2.2:", err: "empty port"},
		{word: ":5432", err: `":5432" has no address before the port`},
		{word: "[fe80::1%eth0]:443", err: `"fe80::1%eth0" names an interface`},
		{word: "192.0.2.2:99999", err: "out of range"},
		{word: "[2001:db8::2]:", err: "empty port"},
		{word: "[2001:db8::2", err: "no closing bracket"},
		{word: "[192.0.2.2]:80", err: "not a valid IPv6 address"},
		{word: "[2001:db8::2]80", err: "after ] comes :PORT"},
		{word: "2001:db8::zz", err: "not a valid IP address"},
		{word: "nosuch", err: "no such host"},
		{word: "empty", err: "has no addresses"},
		{word: "0.0.0.0", err: "0.0.0.0 is no peer"},
		{word: "0.0.0.0:22", err: "0.0.0.0 is no peer"},
		{word: "::", err: ":: is no peer"},
		{word: "[::]:22", err: ":: is no peer"},
		{word: "::ffff:0.0.0.0", err: "is no peer"},
		{word: "0.0.0.0/32", err: "is no peer"},
		{word: "sinkhole", err: `"sinkhole" resolves to 0.0.0.0, which is no peer`},
		{word: "0.0.0.0/0", want: []Endpoint{ep("0.0.0.0/0")}},
		{word: "bad host!", err: "neither an IP address"},
		{word: "", err: "neither an IP address"},
	}
	for _, tt := range tests {
		got, err := ParsePeer(tt.word, services, resolve)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParsePeer(%q) error %v, want %q", tt.word, err, tt.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParsePeer(%q) = %v, %v; want %v", tt.word, got, err, tt.want)
		}
	}
}

// TestParsePeersResolvesTogether: the host names of several words go to one
// call of resolve, each once; the endpoints come in word order.
func TestParsePeersResolvesTogether(t *testing.T) {
	var calls [][]string
	resolve := func(names []string) (map[string][]netip.Addr, error) {
		calls = append(calls, names)
		return map[string][]netip.Addr{"db1": {netip.MustParseAddr("192.0.2.2")}, "db2": {netip.MustParseAddr("2001:db8::3")}}, nil
	}
	eps, err := ParsePeers([]string{"db2", "192.0.2.9", "db1:5432", "db2:22"}, fakeServices(t), resolve)
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) != 1 || !reflect.DeepEqual(calls[0], []string{"db1", "db2"}) {
		t.Errorf("resolve calls %v, want one with db1 and db2", calls)
	}
	var got []string
	for _, e := range eps {
		got = append(got, fmt.Sprint(e.Prefix, e.Ports))
	}
	want := []string{"2001:db8::3/128 []", "192.0.2.9/32 []", "192.0.2.2/32 [5432]", "2001:db8::3/128 [22]"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("endpoints %v, want %v", got, want)
	}
	if _, err := ParsePeers([]string{"nosuch"}, fakeServices(t), func([]string) (map[string][]netip.Addr, error) { return nil, nil }); err == nil || !strings.Contains(err.Error(), "has no addresses") {
		t.Errorf("a name with no addresses: %v", err)
	}
}
