package kill_test

import (
	"context"
	"fmt"
	"net/netip"
	"slices"

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

// Destroy a plan at 100 sockets a second: in batches of 10 every 100 ms,
// each batch looked up again by cookie just before it is sent. Here the
// fake kernel holds 25 connections: the run takes about 0.2 s.
func ExamplePace() {
	rate, err := kill.ParseRate("100/s")
	if err != nil {
		panic(err)
	}
	k := &sockdiagtest.Kernel{}
	for i := range 25 {
		k.Sockets = append(k.Sockets, sockdiag.Socket{Protocol: inet.TCP, Family: inet.IPv4, State: sockdiag.Established,
			ID: sockdiag.SockID{Local: netip.MustParseAddrPort("192.0.2.1:5432"), Remote: netip.AddrPortFrom(netip.MustParseAddr("192.0.2.2"), uint16(40000+i)), Cookie: sockdiag.Cookie(i + 1)}})
	}
	plan := &kill.Plan{Targets: slices.Clone(k.Sockets)}
	pace := kill.Pace{Rate: rate}
	results := plan.ExecuteWith(context.Background(), k.Conn(), kill.Options{Pacer: pace.Start(len(plan.Targets))})
	fmt.Printf("%+v at %s\n", inet.Summarize(results), pace)
	// Output: {Matched:25 WouldKill:0 Killed:25 Gone:0 Failed:0 Skipped:0 Pending:0} at 100/s
}
