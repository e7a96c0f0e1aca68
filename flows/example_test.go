package flows_test

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/tcpreap/tcpreap/flows"
)

// Cut every TCP flow DNATed to a backend that is gone, and say what happened to each.
func Example() {
	conn, err := flows.Dial(nil) // the calling thread's network namespace
	if err != nil {
		fmt.Println(err)
		return
	}
	defer conn.Close()
	ctx := context.Background()
	f := &flows.Filter{ReplySrc: []netip.Prefix{netip.MustParsePrefix("192.0.2.2/32")}}
	found, err := conn.Dump(ctx, f)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range flows.NewPlan(found, nil).Execute(ctx, conn) {
		fmt.Println(r.Flow, r.Action)
	}
}
