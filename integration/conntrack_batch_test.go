package integration

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tcpreap/tcpreap/flows"
	"github.com/tcpreap/tcpreap/inet"
	"github.com/tcpreap/tcpreap/integration/testnet"
)

// TestIntegrationConntrackBatch: 2,000 UDP entries to 192.0.2.2 and 300 to 192.0.2.3,
// loaded with conntrack -R, are planned by flows; one planned entry is replaced (deleted,
// then made again with another mark) between the plan and the delete. The plan's windows
// delete every other planned entry (killed), leave the newcomer (gone, and conntrack -L
// still shows it with its mark) and the entries to 192.0.2.3. Then the real binary cuts
// 192.0.2.3's entries in one run and leaves the newcomer. Both plans are most of the
// table: their targets are compared and deleted as a second dump shows them
// (flows.Conn.DeleteSeen), on two sockets at once.
func TestIntegrationConntrackBatch(t *testing.T) {
	n := testnet.New(t)
	h := n.Peer
	target, other := netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("192.0.2.3")
	const toTarget, toOther = 2000, 300
	var lines strings.Builder
	for i := range toTarget + toOther {
		dst := target
		if i >= toTarget {
			dst = other
		}
		fmt.Fprintf(&lines, "-I -p udp -s 198.51.100.7 -d %s --sport %d --dport 53 -t 600 -m 1\n", dst, 1024+i)
	}
	load := filepath.Join(t.TempDir(), "flows")
	if err := os.WriteFile(load, []byte(lines.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if out, err := h.Command(ctx, "conntrack", "-R", load).CombinedOutput(); err != nil {
		t.Fatalf("conntrack -R: %v: %s", err, out)
	}

	conn, err := flows.Dial(&flows.Config{NetNS: h.NetNSFD()})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	found, err := conn.Dump(ctx, &flows.Filter{Protocols: []inet.Protocol{inet.UDP}, Peers: []inet.Endpoint{{Prefix: netip.PrefixFrom(target, 32)}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != toTarget {
		t.Fatalf("the dump found %d entries to %s, want %d", len(found), target, toTarget)
	}
	plan := flows.NewPlan(found, nil)
	// The replacement, after the plan: the same tuple, another entry (mark 2).
	replaced := plan.Targets[777]
	sport := fmt.Sprint(replaced.Orig.Src.Port())
	for _, argv := range [][]string{
		{"conntrack", "-D", "-p", "udp", "-s", "198.51.100.7", "-d", target.String(), "--sport", sport, "--dport", "53"},
		{"conntrack", "-I", "-p", "udp", "-s", "198.51.100.7", "-d", target.String(), "--sport", sport, "--dport", "53", "-t", "600", "-m", "2"},
	} {
		if out, err := h.Command(ctx, argv...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v: %s", strings.Join(argv, " "), err, out)
		}
	}
	results := plan.Execute(ctx, conn)
	if s := inet.Summarize(results); s != (inet.Summary{Matched: toTarget, Killed: toTarget - 1, Gone: 1}) {
		t.Errorf("summary %+v, want %d killed and the replaced one gone", s, toTarget-1)
	}
	for _, r := range results {
		if r.Flow.Orig == replaced.Orig && r.Action != inet.Gone {
			t.Errorf("the replaced entry: %v (%v), want gone", r.Action, r.Err)
		}
	}
	left := func() (newcomers, others int) {
		t.Helper()
		es, err := h.Conntrack()
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			switch {
			case e.Orig[1].Addr() == target && e.Orig[0].Port() == replaced.Orig.Src.Port():
				newcomers++
			case e.Orig[1].Addr() == target:
				t.Errorf("an entry to %s is still there: %+v", target, e)
			case e.Orig[1].Addr() == other:
				others++
			}
		}
		return newcomers, others
	}
	if newcomers, others := left(); newcomers != 1 || others != toOther {
		t.Errorf("left: %d newcomers, %d entries to %s; want the newcomer and all %d", newcomers, others, other, toOther)
	}

	res, err := h.Run(bin, "conntrack", "-u", "-y", "-q", "--json", "--no-audit", other.String())
	if err != nil {
		t.Fatal(err)
	}
	rep, err := testnet.ParseFlowReport(res.Stdout)
	if res.Code != 0 || err != nil || rep.Summary.Killed != toOther || rep.Summary.Matched != toOther {
		t.Errorf("tcpreap conntrack %s: exit %d, %v, summary %+v, stderr %q; want all %d killed", other, res.Code, err, rep.Summary, res.Stderr, toOther)
	}
	if newcomers, others := left(); newcomers != 1 || others != 0 {
		t.Errorf("after the cut of %s: %d newcomers, %d of its entries; want the newcomer alone", other, newcomers, others)
	}
}
