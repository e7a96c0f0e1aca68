package main

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"
)

// The program the kernel's inet_diag_bc_audit accepts: one INET_DIAG_BC_D_COND of 16
// bytes whose yes jumps to the end and whose no jumps 4 past it, a /32 hostcond with
// port -1.
func TestDstCond(t *testing.T) {
	want := []byte{
		8, 16, 0, 0, // code INET_DIAG_BC_D_COND, yes 16, no (below)
		2, 32, 0, 0, // family AF_INET, prefix_len 32, padding
		0xff, 0xff, 0xff, 0xff, // port -1
		127, 1, 0, 1, // the address
	}
	binary.NativeEndian.PutUint16(want[2:], 20)
	if got := dstCond(netip.MustParseAddr("127.1.0.1")); !bytes.Equal(got, want) {
		t.Errorf("dstCond = % x, want % x", got, want)
	}
}
