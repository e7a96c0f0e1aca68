package reap_test

import (
	"context"
	"fmt"

	"github.com/tcpreap/tcpreap/inet"
	"github.com/tcpreap/tcpreap/reap"
	"github.com/tcpreap/tcpreap/sockdiag"
)

// Query the connections to a listener of port 5432 on this host, and show
// what a destroy would do to them, destroying nothing (a dry run needs no
// privilege).
func Example() {
	ctx := context.Background()
	sel := &reap.Selection{Filter: sockdiag.Filter{
		States:     1 << sockdiag.Established,
		LocalPorts: []inet.PortRange{{Lo: 5432, Hi: 5432}},
	}}
	run, err := reap.Query(ctx, sel, reap.Where{}, reap.QueryOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer run.Close()
	for _, note := range run.Notes() {
		fmt.Println(note)
	}
	report := run.DryRun()
	for g := range report.Groups() {
		for _, r := range g.Results {
			fmt.Println(r.Socket.ID.Remote, r.Action)
		}
	}
	fmt.Printf("%+v\n", report.Summary())
}
