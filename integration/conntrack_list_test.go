package integration

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/tcpreap/tcpreap/integration/testnet"
)

// TestIntegrationConntrackListMany: a list of more entries than a screen, of both
// families, some of them in a zone, loaded with conntrack -R into the router, shows each
// entry of conntrack -L once, in order (protocol, client, server, zone, id), as NDJSON
// and as a table whose columns stay aligned, and counts them.
func TestIntegrationConntrackListMany(t *testing.T) {
	r := &routed{Routed: testnet.NewRouted(t, routerRuleset), t: t}
	const v4, v6 = 9000, 1000
	file := filepath.Join(t.TempDir(), "entries")
	f, err := os.Create(file)
	r.check(err)
	w := bufio.NewWriter(f)
	for i := range v4 {
		zone := ""
		if i%10 == 0 {
			zone = " --zone 4"
		}
		fmt.Fprintf(w, "-I -p udp -s 198.51.100.%d -d 192.0.2.%d --sport %d --dport 53 -t 600%s\n", 201+i%3, 101+i%2, 1024+i/3, zone)
	}
	for i := range v6 {
		fmt.Fprintf(w, "-I -p udp -s 2001:db8::%x -d 2001:db8::53 --sport %d --dport 53 -t 600\n", 0x100+i%7, 1024+i)
	}
	r.check(w.Flush())
	r.check(f.Close())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if out, err := r.Router.Command(ctx, "conntrack", "-R", file).CombinedOutput(); err != nil {
		t.Fatalf("conntrack -R: %v: %s", err, out)
	}
	oracle := map[[2]netip.AddrPort]uint32{}
	for _, e := range r.table() {
		if e.Proto == "udp" {
			oracle[e.Orig] = e.ID
		}
	}
	if len(oracle) != v4+v6 {
		t.Fatalf("conntrack -L shows %d UDP entries, want %d", len(oracle), v4+v6)
	}

	run := func(args ...string) string {
		t.Helper()
		out, err := r.Router.Run(append([]string{bin, "conntrack", "list"}, args...)...)
		r.check(err)
		if out.Code != 0 {
			t.Fatalf("conntrack list %s: exit %d: %s", strings.Join(args, " "), out.Code, out.Stderr)
		}
		return out.Stdout
	}
	rep, err := testnet.ParseFlowReport(run("--json", "-u"))
	r.check(err)
	if rep.Summary.Matched != len(oracle) || len(rep.Flows) != len(oracle) {
		t.Fatalf("list: %d entries, summary %+v; conntrack -L shows %d", len(rep.Flows), rep.Summary, len(oracle))
	}
	type key struct {
		src, dst netip.AddrPort
		zone     uint16
		id       uint32
	}
	var keys []key
	zoned := 0
	for _, fl := range rep.Flows {
		orig := [2]netip.AddrPort{
			netip.AddrPortFrom(netip.MustParseAddr(fl.OrigSrcIP), fl.OrigSrcPort),
			netip.AddrPortFrom(netip.MustParseAddr(fl.OrigDstIP), fl.OrigDstPort)}
		id, ok := oracle[orig]
		if !ok || id != fl.ID {
			t.Fatalf("listed %+v, which conntrack -L does not show (id %d, %v)", fl, id, ok)
		}
		delete(oracle, orig)
		if fl.Zone == 4 {
			zoned++
		}
		keys = append(keys, key{orig[0], orig[1], fl.Zone, fl.ID})
	}
	if zoned != v4/10 {
		t.Errorf("%d entries listed in zone 4, want %d", zoned, v4/10)
	}
	if !slices.IsSortedFunc(keys, func(a, b key) int {
		return cmp.Or(a.src.Compare(b.src), a.dst.Compare(b.dst), cmp.Compare(a.zone, b.zone), cmp.Compare(a.id, b.id))
	}) {
		t.Errorf("the entries are not in order of client, server, zone and id")
	}

	table := strings.Split(strings.TrimSuffix(run("-u"), "\n"), "\n")
	if len(table) != 2*(v4+v6)+1 || !strings.HasPrefix(table[len(table)-1], fmt.Sprintf("%d conntrack entries matched: %d would be deleted", v4+v6, v4+v6)) {
		t.Fatalf("a table of %d lines, ending %q", len(table), table[len(table)-1])
	}
	column := -1
	for i := 0; i < len(table)-1; i += 2 {
		at := strings.Index(table[i], "s  delete")
		if at < 0 {
			t.Fatalf("line %d: %q", i, table[i])
		}
		if c := utf8.RuneCountInString(table[i][:at]); column < 0 {
			column = c
		} else if c != column {
			t.Fatalf("line %d: the timeout ends at column %d, not %d as above: %q", i, c, column, table[i])
		}
	}
}
