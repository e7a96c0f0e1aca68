package inet_test

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/tcpreap/tcpreap/inet"
)

// Parse PEER words, as tcpreap and tcpreap conntrack take them: addresses,
// prefixes, ports and host names, resolved together.
func Example() {
	services := func(name string) (uint16, error) { return 0, fmt.Errorf("unknown service %q", name) }
	resolve := func(names []string) (map[string][]netip.Addr, error) {
		return map[string][]netip.Addr{"db1": {netip.MustParseAddr("192.0.2.7"), netip.MustParseAddr("2001:db8::7")}}, nil
	}
	peers, err := inet.ParsePeers(strings.Fields("192.0.2.0/24:443 [2001:db8::2]:8000-8080 db1:5432"), services, resolve)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, p := range peers {
		fmt.Println(p.Prefix, p.Ports)
	}
	// Output:
	// 192.0.2.0/24 [443]
	// 2001:db8::2/128 [8000-8080]
	// 192.0.2.7/32 [5432]
	// 2001:db8::7/128 [5432]
}
