package sockfd_test

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/tcpreap/tcpreap/host"
	"github.com/tcpreap/tcpreap/inet"
	"github.com/tcpreap/tcpreap/kill"
	"github.com/tcpreap/tcpreap/sockdiag"
	"github.com/tcpreap/tcpreap/sockdiag/sockdiagtest"
	"github.com/tcpreap/tcpreap/sockfd"
)

// Execute a plan with the fd engine, as tcpreap --engine fd does: each
// target through a descriptor of a process that holds it (Holders nil:
// every process's, read with ReadHolders), looked up again through the
// Conn. A real program dials the kernel with sockdiag.Dial(nil); here a
// fake kernel holds a TIME-WAIT socket, which no process holds and this
// engine cannot reach.
func Example() {
	ctx := context.Background()
	kernel := &sockdiagtest.Kernel{Sockets: []sockdiag.Socket{{
		Protocol: inet.TCP, Family: inet.IPv4, State: sockdiag.TimeWait,
		ID: sockdiag.SockID{
			Local:  netip.MustParseAddrPort("192.0.2.1:5432"),
			Remote: netip.MustParseAddrPort("192.0.2.2:40001"),
			Cookie: 1,
		},
	}}}
	conn := kernel.Conn()
	defer conn.Close()
	plan, err := kill.NewPlan(conn.Query(ctx, &sockdiag.Filter{States: 1 << sockdiag.TimeWait}), kill.Guards{})
	if err != nil {
		fmt.Println(err)
		return
	}
	engine := &sockfd.Engine{Conn: conn, Holders: func() (map[uint32][]host.Owner, error) { return nil, nil }}
	for _, r := range plan.Execute(ctx, engine) {
		fmt.Println(r.Socket.ID.Remote, r.Socket.State, r.Action, r.Engine, kill.Refused(r.Err))
	}
	// Output:
	// 192.0.2.2:40001 time_wait failed fd true
}
