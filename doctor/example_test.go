package doctor_test

import (
	"fmt"

	"github.com/tcpreap/tcpreap/doctor"
	"github.com/tcpreap/tcpreap/inet"
	"github.com/tcpreap/tcpreap/sockdiag"
)

// The findings of a host: in a program, Gather collects the facts of a
// namespace (the census comes from census.Take); here they are given.
func Example() {
	f := doctor.Examine(doctor.Facts{
		Support: &sockdiag.Support{Release: sockdiag.Release{Major: 6, Minor: 18},
			List: map[inet.Protocol]error{}, Destroy: map[inet.Protocol]error{}},
		Orphans:   true,
		Sysctls:   map[string]string{"ipv4.tcp_fin_timeout": "60"},
		PortRange: [2]uint16{32768, 60999},
	})
	for _, finding := range f {
		if finding.Check == "net.ipv4.tcp_fin_timeout" {
			fmt.Println(finding.Says)
		}
	}
	// Output: tcp_fin_timeout = 60 s: how long an orphaned FIN-WAIT-2 socket lives; it does not shorten TIME-WAIT (60 s, fixed in the kernel)
}
