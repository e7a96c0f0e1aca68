package sockpacket_test

import (
	"fmt"
	"net/netip"

	"github.com/tcpreap/tcpreap/sockpacket"
)

// The RST the engine sends an end once its challenge ACK said what it
// expects: from its peer's address, with its rcv_nxt as the sequence
// number, as an IP packet with its checksums.
func ExampleSegment() {
	rst := sockpacket.Segment{
		Src:   netip.MustParseAddrPort("192.0.2.1:40000"),
		Dst:   netip.MustParseAddrPort("192.0.2.2:80"),
		Seq:   1234567,
		Flags: sockpacket.RST,
	}
	b, err := rst.MarshalBinary()
	if err != nil {
		fmt.Println(err)
		return
	}
	var back sockpacket.Segment
	if err := back.UnmarshalBinary(b); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(b), "bytes:", back)
	// Output: 40 bytes: 192.0.2.1:40000 → 192.0.2.2:80 [R] seq 1234567 ack 0
}
