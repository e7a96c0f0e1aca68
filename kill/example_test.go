package kill_test

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/tcpreap/tcpreap/inet"
	"github.com/tcpreap/tcpreap/kill"
	"github.com/tcpreap/tcpreap/sockdiag"
	"github.com/tcpreap/tcpreap/sockdiag/sockdiagtest"
)

// Reap the CLOSE_WAIT sockets of a service: query, plan, execute. A real
// program dials the kernel with sockdiag.Dial(nil) (destroying needs
// CAP_NET_ADMIN); here a fake kernel holds two leaked sockets and a healthy
// connection.
func Example() {
	ctx := context.Background()
	leak := func(port uint16, cookie sockdiag.Cookie, state sockdiag.State) sockdiag.Socket {
		return sockdiag.Socket{Protocol: inet.TCP, Family: inet.IPv4, State: state, ID: sockdiag.SockID{
			Local:  netip.MustParseAddrPort("192.0.2.1:5432"),
			Remote: netip.AddrPortFrom(netip.MustParseAddr("192.0.2.2"), port),
			Cookie: cookie,
		}}
	}
	kernel := &sockdiagtest.Kernel{Sockets: []sockdiag.Socket{
		leak(40001, 1, sockdiag.CloseWait), leak(40002, 2, sockdiag.CloseWait), leak(40003, 3, sockdiag.Established),
	}}
	conn := kernel.Conn()
	defer conn.Close()

	filter := &sockdiag.Filter{States: 1 << sockdiag.CloseWait, LocalPorts: []inet.PortRange{{Lo: 5432, Hi: 5432}}}
	plan, err := kill.NewPlan(conn.Query(ctx, filter), kill.Guards{})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range plan.Execute(ctx, conn) {
		fmt.Println(r.Socket.ID.Remote, r.Socket.State, r.Action)
	}
	fmt.Println(len(kernel.Sockets), "socket left")
	// Output:
	// 192.0.2.2:40001 close_wait killed
	// 192.0.2.2:40002 close_wait killed
	// 1 socket left
}
