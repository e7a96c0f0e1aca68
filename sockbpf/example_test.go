package sockbpf_test

import (
	"errors"
	"fmt"

	"github.com/tcpreap/tcpreap/inet"
	"github.com/tcpreap/tcpreap/sockbpf"
)

// Destroy two TCP sockets of this network namespace by cookie (the cookies
// come from a sock_diag dump; see package sockdiag), each with its answer.
func Example() {
	if err := sockbpf.Probe(); err != nil {
		fmt.Println(err) // for example: the bpf engine needs Linux 6.5 or later ...
		return
	}
	d, err := sockbpf.Open(2)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer d.Close()
	results, err := d.Destroy(inet.TCP, []uint64{0x1234, 0x5678})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range results {
		switch {
		case r.Err == nil:
			fmt.Println(r.Cookie, "destroyed")
		case errors.Is(r.Err, sockbpf.ErrNotFound):
			fmt.Println(r.Cookie, "gone")
		default:
			fmt.Println(r.Cookie, r.Err)
		}
	}
}
