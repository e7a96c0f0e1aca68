package host

import (
	"net/netip"
	"runtime"
	"testing"
)

// TestGoneAddrsLoopback: the loopback addresses are this namespace's, the
// whole of 127.0.0.0/8 by its local route, and so is a v4-mapped one; a
// wildcard bind is never gone. It reads the addresses of the namespace the
// test runs in, and changes nothing.
func TestGoneAddrsLoopback(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("Linux only")
	}
	var addrs []LocalAddr
	for _, a := range []string{"127.0.0.1", "127.0.0.53", "127.255.0.9", "::ffff:127.0.0.1", "0.0.0.0", "::"} {
		addrs = append(addrs, LocalAddr{Addr: netip.MustParseAddr(a)})
	}
	gone, err := GoneAddrs(addrs)
	if err != nil {
		t.Fatal(err)
	}
	if len(gone) != 0 {
		t.Errorf("gone %v, want none", gone)
	}
}
