package inet_test

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/tcpreap/tcpreap/inet"
)

// Parse PEER words, as tcpreap and tcpreap conntrack take them, and judge
// whether they select anything at all: words that cover every address on
// every port are no selection, however they are written.
func Example() {
	services := func(name string) (uint16, error) { return 0, fmt.Errorf("unknown service %q", name) }
	resolve := func(names []string) (map[string][]netip.Addr, error) { return nil, nil }
	for _, words := range []string{
		"192.0.2.0/24:443 2001:db8::2",
		"0.0.0.0/0 ::/0",
		"::ffff:0.0.0.0/96 ::/0",
		"0.0.0.0/0:1-32767 0.0.0.0/0:32768-65535 ::/0",
	} {
		peers, err := inet.ParsePeers(strings.Fields(words), services, resolve)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%-46s everything: %v\n", words, inet.CoversPeers(nil, peers))
	}
	// Output:
	// 192.0.2.0/24:443 2001:db8::2                   everything: false
	// 0.0.0.0/0 ::/0                                 everything: true
	// ::ffff:0.0.0.0/96 ::/0                         everything: true
	// 0.0.0.0/0:1-32767 0.0.0.0/0:32768-65535 ::/0   everything: true
}
