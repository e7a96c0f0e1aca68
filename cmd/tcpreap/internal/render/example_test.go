package render_test

import (
	"net/netip"
	"os"

	"github.com/tcpreap/tcpreap/cmd/tcpreap/internal/render"
	"github.com/tcpreap/tcpreap/inet"
	"github.com/tcpreap/tcpreap/kill"
	"github.com/tcpreap/tcpreap/reap"
	"github.com/tcpreap/tcpreap/sockdiag"
)

// A dry run's report of one CLOSE_WAIT socket, as tcpreap list prints it.
func ExampleSockets_Report() {
	s := sockdiag.Socket{Protocol: inet.TCP, Family: inet.IPv4, State: sockdiag.CloseWait,
		ID: sockdiag.SockID{Local: netip.MustParseAddrPort("192.0.2.1:5432"), Remote: netip.MustParseAddrPort("192.0.2.2:40000"), Cookie: 7}}
	plan := &kill.Plan{Targets: []sockdiag.Socket{s}}
	rep := reap.NewReport(true, reap.Group{Results: plan.DryRun()})
	if err := (render.Sockets{W: os.Stdout}).Report(rep); err != nil {
		panic(err)
	}
	// Output:
	// Proto  State       Local Address:Port  Peer Address:Port  Result
	// tcp    CLOSE-WAIT  192.0.2.1:5432      192.0.2.2:40000    destroy
	// 1 socket matched: 1 would be destroyed, 0 skipped (dry run: nothing was destroyed)
}
