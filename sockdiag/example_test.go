package sockdiag_test

import (
	"context"
	"fmt"

	"github.com/tcpreap/tcpreap/inet"
	"github.com/tcpreap/tcpreap/sockdiag"
)

// List the CLOSE_WAIT sockets on port 5432 and destroy them by cookie
// (destroying needs CAP_NET_ADMIN; see package kill for the plan, the guards
// and the verification around it).
func Example() {
	ctx := context.Background()
	conn, err := sockdiag.Dial(nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer conn.Close()
	filter := &sockdiag.Filter{States: 1 << sockdiag.CloseWait, LocalPorts: []inet.PortRange{{Lo: 5432, Hi: 5432}}}
	var targets []sockdiag.Socket
	for s, err := range conn.Query(ctx, filter) {
		if err != nil {
			fmt.Println(err)
			return
		}
		targets = append(targets, s)
	}
	for i, err := range conn.Destroy(ctx, targets, nil) {
		fmt.Println(targets[i].ID.Remote, err)
	}
}

// A PEER word, as the command line takes it.
func ExampleParsePeer() {
	eps, err := inet.ParsePeer("[2001:db8::2]:443,8443", nil, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(eps[0].Prefix, eps[0].Ports)
	// Output: 2001:db8::2/128 [443 8443]
}
