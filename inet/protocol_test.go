package inet

import (
	"fmt"
	"testing"
)

func TestNames(t *testing.T) {
	for _, c := range []struct {
		got  fmt.Stringer
		want string
	}{
		{TCP, "tcp"}, {UDP, "udp"}, {Protocol(1), "proto1"},
		{IPv4, "ipv4"}, {IPv6, "ipv6"}, {Family(0), "family0"},
	} {
		if c.got.String() != c.want {
			t.Errorf("%#v is %q, want %q", c.got, c.got, c.want)
		}
	}
}
