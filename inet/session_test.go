package inet_test

import (
	"net/netip"
	"testing"

	"github.com/tcpreap/tcpreap/inet"
)

// TestSessionCarries: the session's connection is carried whatever the form
// of its addresses (v4-mapped, zoned), on its interface or any; another
// port, the reverse direction or another interface is not.
func TestSessionCarries(t *testing.T) {
	ap := netip.MustParseAddrPort
	s := &inet.Session{Client: ap("192.0.2.7:50000"), Server: ap("192.0.2.1:22"), Interface: 3}
	for _, tc := range []struct {
		local, remote string
		ifindex       uint32
		want          bool
	}{
		{"192.0.2.1:22", "192.0.2.7:50000", 0, true},
		{"[::ffff:192.0.2.1]:22", "[::ffff:192.0.2.7]:50000", 3, true},
		{"192.0.2.1:22", "192.0.2.7:50001", 0, false},
		{"192.0.2.7:50000", "192.0.2.1:22", 0, false},
		{"192.0.2.1:22", "192.0.2.7:50000", 4, false},
	} {
		if got := s.Carries(ap(tc.local), ap(tc.remote), tc.ifindex); got != tc.want {
			t.Errorf("%s <- %s on %d: %v, want %v", tc.local, tc.remote, tc.ifindex, got, tc.want)
		}
	}
	zoned := &inet.Session{Client: ap("[fe80::2]:40000"), Server: ap("[fe80::1]:22")}
	if !zoned.Carries(ap("[fe80::1%eth0]:22"), ap("[fe80::2%eth0]:40000"), 2) {
		t.Error("a zoned link-local connection is not carried")
	}
	var none *inet.Session
	if none.Carries(ap("192.0.2.1:22"), ap("192.0.2.7:50000"), 0) {
		t.Error("no session carries a connection")
	}
}

// TestSessionHolds: a connection an SSH server holds is held in either
// direction and whatever the form of its addresses; another is not.
func TestSessionHolds(t *testing.T) {
	ap := netip.MustParseAddrPort
	s := &inet.Session{Conns: [][2]netip.AddrPort{{ap("192.0.2.1:22"), ap("192.0.2.7:50000")}}}
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"192.0.2.7:50000", "192.0.2.1:22", true},
		{"192.0.2.1:22", "192.0.2.7:50000", true},
		{"[::ffff:192.0.2.7]:50000", "[::ffff:192.0.2.1]:22", true},
		{"192.0.2.7:50001", "192.0.2.1:22", false},
	} {
		if got := s.Holds(ap(tc.a), ap(tc.b)); got != tc.want {
			t.Errorf("%s - %s: %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
	var none *inet.Session
	if none.Holds(ap("192.0.2.7:50000"), ap("192.0.2.1:22")) {
		t.Error("no session holds a connection")
	}
}
