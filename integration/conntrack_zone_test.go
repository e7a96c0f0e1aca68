package integration

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/tcpreap/tcpreap/integration/testnet"
)

// zoneRuleset is the router's firewall with a zone of the original direction alone for
// UDP to port 54 (nft's "ct original zone set", iptables' CT --zone-orig): the kernel
// reports it inside the original tuple (CTA_TUPLE_ZONE), not as CTA_ZONE, and keeps the
// entry's original tuple in that zone.
const zoneRuleset = routerRuleset + `
table ip tcpreap_zone {
	chain raw {
		type filter hook prerouting priority raw; policy accept;
		udp dport 54 ct original zone set 9
	}
}
`

// TestIntegrationConntrackZoneOneDirection: a UDP flow whose zone holds in the original
// direction alone (conntrack -L shows zone-orig=9) is listed with zone 9 and selected by
// --zone 9; the cut deletes its entry (conntrack -L no longer shows it) and reports it
// killed, and the other UDP flow's entry stays. Before, the delete looked the tuple up in
// zone 0, the kernel answered ENOENT, and the entry was reported gone while it stayed.
func TestIntegrationConntrackZoneOneDirection(t *testing.T) {
	r := &routed{Routed: testnet.NewRouted(t, zoneRuleset), t: t}
	zoned := netip.AddrPortFrom(testnet.ServerOtherV4, 54)
	zonedServer, err := r.ListenUDP(r.Server, zoned)
	r.check(err)
	plainServer, err := r.ListenUDP(r.Server, dnsServer)
	r.check(err)
	zonedClient, err := r.DialUDP(zoned)
	r.check(err)
	plainClient, err := r.DialUDP(dnsServer)
	r.check(err)
	r.check(udpEcho(zonedClient, zonedServer))
	r.check(udpEcho(plainClient, plainServer))

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	raw, err := r.Router.Command(ctx, "conntrack", "-L", "-p", "udp", "--orig-port-dst", "54").Output()
	r.check(err)
	if !strings.Contains(string(raw), "zone-orig=9") {
		t.Fatalf("conntrack -L does not show the flow to port 54 in zone-orig 9: %q", raw)
	}
	before := r.table()
	oracleZoned, ok1 := entryTo(before, "udp", zoned)
	oraclePlain, ok2 := entryTo(before, "udp", dnsServer)
	if !ok1 || !ok2 {
		t.Fatalf("conntrack -L does not show both UDP flows: %+v", before)
	}

	rep := r.json(0, "list", "-u", "--zone", "9")
	if len(rep.Flows) != 1 || rep.Flows[0].ID != oracleZoned.ID || rep.Flows[0].Zone != 9 {
		t.Fatalf("list -u --zone 9: %+v, want the flow to port 54 alone (id %d), zone 9", rep.Flows, oracleZoned.ID)
	}

	rep = r.json(0, "-y", "-u", "--port", "54")
	if len(rep.Flows) != 1 || rep.Flows[0].Action != "killed" || rep.Flows[0].ID != oracleZoned.ID {
		t.Fatalf("cut -u --port 54: %+v, want the flow to port 54 killed", rep.Flows)
	}
	after := r.table()
	if e, ok := entryTo(after, "udp", zoned); ok && e.ID == oracleZoned.ID {
		t.Errorf("the cut flow's entry is still there: %+v", e)
	}
	if e, ok := entryTo(after, "udp", dnsServer); !ok || e.ID != oraclePlain.ID {
		t.Errorf("the other UDP flow's entry is gone or replaced: %+v", e)
	}
}
