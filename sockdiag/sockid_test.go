package sockdiag

import (
	"net/netip"
	"testing"
)

func TestCookieValid(t *testing.T) {
	for c, want := range map[Cookie]bool{0: false, 1: true, 1<<64 - 2: true, noCookie: false} {
		if c.Valid() != want {
			t.Errorf("Cookie(%d).Valid() = %v", c, !want)
		}
	}
}

// TestSockIDRoundTrip: what marshal writes, unmarshalSockID reads back
// whole, the cookie's two halves and the interface included.
func TestSockIDRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		family uint8
		id     SockID
	}{
		{afInet, SockID{Local: netip.MustParseAddrPort("192.0.2.1:5432"), Remote: netip.MustParseAddrPort("192.0.2.2:40000"), Interface: 3, Cookie: 1<<40 | 7}},
		{afInet6, SockID{Local: netip.MustParseAddrPort("[::ffff:192.0.2.1]:80"), Remote: netip.MustParseAddrPort("[2001:db8::2]:443"), Interface: 0, Cookie: 1<<63 | 1}},
	} {
		b := make([]byte, sockIDLen)
		if err := tc.id.marshal(b); err != nil {
			t.Fatal(err)
		}
		got, err := unmarshalSockID(b, tc.family)
		if err != nil || got != tc.id {
			t.Errorf("round trip of %+v: %+v, %v", tc.id, got, err)
		}
	}
	zoned := SockID{Local: netip.MustParseAddrPort("[fe80::1%eth0]:22")}
	if err := zoned.marshal(make([]byte, sockIDLen)); err == nil {
		t.Error("an address with a zone was marshalled")
	}
	if _, err := unmarshalSockID(make([]byte, sockIDLen), 1); err == nil {
		t.Error("a sockid of family 1 was read")
	}
}
