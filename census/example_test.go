package census_test

import (
	"fmt"
	"net/netip"

	"github.com/tcpreap/tcpreap/census"
	"github.com/tcpreap/tcpreap/host"
	"github.com/tcpreap/tcpreap/inet"
	"github.com/tcpreap/tcpreap/sockdiag"
)

// Who holds the CLOSE_WAIT sockets: in a program, the sockets come from
// sockdiag.Conn.Query and the owners from host.SocketOwners.
func Example() {
	leak := sockdiag.Socket{Protocol: inet.TCP, Family: inet.IPv4, State: sockdiag.CloseWait, Inode: 7, ID: sockdiag.SockID{
		Local: netip.MustParseAddrPort("192.0.2.1:5432"), Remote: netip.MustParseAddrPort("192.0.2.9:40000")}}
	sockets := func(yield func(sockdiag.Socket, error) bool) { yield(leak, nil) }
	owners := map[uint32][]host.Owner{7: {{PID: 4711, Command: "postgres", FD: 12}}}
	c, err := census.Take(sockets, owners, nil, [2]uint16{32768, 60999}, 10)
	if err != nil {
		panic(err)
	}
	for _, h := range c.CloseWait {
		fmt.Printf("%s pid %d holds %d CLOSE_WAIT sockets on :%d\n", h.Command, h.PID, h.CloseWait, h.CloseWaitPort)
	}
	// Output: postgres pid 4711 holds 1 CLOSE_WAIT sockets on :5432
}
