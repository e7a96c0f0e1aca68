package testnet

import (
	"net/netip"
	"testing"
)

func TestParseEntry(t *testing.T) {
	e, err := parseEntry("tcp      6 431998 ESTABLISHED src=198.51.100.2 dst=198.51.100.1 sport=36870 dport=8080 " +
		"src=192.0.2.2 dst=192.0.2.1 sport=80 dport=36870 [ASSURED] mark=0 use=1 id=2127434507")
	if err != nil {
		t.Fatal(err)
	}
	if e.Proto != "tcp" || e.State != "ESTABLISHED" || e.ID != 2127434507 || len(e.Flags) != 1 || e.Flags[0] != "ASSURED" ||
		e.Orig[1] != netip.MustParseAddrPort("198.51.100.1:8080") || e.Reply[0] != netip.MustParseAddrPort("192.0.2.2:80") {
		t.Errorf("%+v", e)
	}
	u, err := parseEntry("udp      17 28 src=198.51.100.2 dst=192.0.2.3 sport=32879 dport=53 [UNREPLIED] src=192.0.2.3 dst=192.0.2.1 sport=53 dport=32879 mark=0 use=1 id=7")
	if err != nil || u.State != "" || u.Flags[0] != "UNREPLIED" || u.Reply[1] != netip.MustParseAddrPort("192.0.2.1:32879") {
		t.Errorf("%+v, %v", u, err)
	}
	for _, line := range []string{"", "tcp 6", "icmp 1 29 src=198.51.100.2 dst=192.0.2.3 type=8 code=0 id=1 src=192.0.2.3 dst=192.0.2.1 type=0 code=0 id=1"} {
		if _, err := parseEntry(line); err == nil {
			t.Errorf("%q: no error", line)
		}
	}
}
