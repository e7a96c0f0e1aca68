package watch

import (
	"net"
	"strings"
	"testing"
)

// TestExposed: metrics served on every address of the host are said, once,
// at start; on one address, loopback or not, they are not.
func TestExposed(t *testing.T) {
	for _, c := range []struct {
		addr string
		warn bool
	}{
		{"127.0.0.1:9737", false},
		{"[::1]:9737", false},
		{"192.0.2.1:9737", false},
		{"0.0.0.0:9737", true},
		{"[::]:9737", true},
	} {
		addr, err := net.ResolveTCPAddr("tcp", c.addr)
		if err != nil {
			t.Fatal(err)
		}
		got := exposed(addr)
		if (got != "") != c.warn || c.warn && !strings.Contains(got, "every address") {
			t.Errorf("exposed(%s) = %q, want a warning: %v", c.addr, got, c.warn)
		}
	}
}
