package integration

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/tcpreap/tcpreap/integration/testnet"
)

// TestIntegrationDryRun checks that -n, --dry-run, list and ls destroy nothing, and that
// the plan they print is exactly what a real run then destroys: the same sockets, by cookie.
func TestIntegrationDryRun(t *testing.T) {
	e := setup(t)
	l := e.listen(e.Local, netip.AddrPortFrom(testnet.LocalV4, 0))
	peerListener := e.listen(e.Peer, netip.AddrPortFrom(testnet.PeerV4, 0))
	in := e.inbound(l, peer)
	out := e.outbound(peerListener)
	cw := e.closeWait(l, peer)
	other := e.inbound(l, otherPeer)
	doomed := []conn{tcp("inbound", in), tcp("outbound", out), tcp("close_wait", cw)}

	before := e.sockets()
	var planned []uint64
	for _, args := range [][]string{
		{"-n", testnet.PeerV4.String()},
		{"--dry-run", testnet.PeerV4.String()},
		{"list", testnet.PeerV4.String()},
		{"ls", testnet.PeerV4.String()},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			e := &env{Net: e.Net, t: t}
			r := e.json(0, args...)
			expectRecords(t, r, "would_kill", doomed...)
			if want := (testnet.Summary{Matched: 3, DryRun: true}); r.Summary != want {
				t.Errorf("summary %+v, want %+v", r.Summary, want)
			}
			cookies := sorted(r.Cookies("would_kill"))
			if planned == nil {
				planned = cookies
			} else if !slices.Equal(cookies, planned) {
				t.Errorf("planned cookies %v, an earlier dry run planned %v", cookies, planned)
			}
			expectUnchanged(t, before, e.sockets())
		})
	}

	// list needs no selector: then it shows every connection, still in every state but listen.
	r := e.json(0, "list")
	expectRecords(t, r, "would_kill", append(doomed, tcp("other peer", other))...)
	expectUnchanged(t, before, e.sockets())

	r = e.json(0, testnet.PeerV4.String())
	if killed := sorted(r.Cookies("killed")); !slices.Equal(killed, planned) {
		t.Errorf("killed cookies %v, the dry runs planned %v", killed, planned)
	}
	ss := e.sockets()
	expectGone(t, ss, doomed...)
	expectPresent(t, ss, "established", tcp("other peer", other))
}

// expectUnchanged fails unless the kernel shows the same sockets (tuples, states and
// cookies) as before.
func expectUnchanged(t *testing.T, before, after testnet.Sockets) {
	t.Helper()
	key := func(a, b testnet.Socket) int { return strings.Compare(a.String(), b.String()) }
	b, a := slices.SortedFunc(slices.Values(before), key), slices.SortedFunc(slices.Values(after), key)
	if !slices.Equal(a, b) {
		t.Errorf("the kernel's sockets changed:\nbefore:%s\nafter:%s", testnet.Sockets(b), testnet.Sockets(a))
	}
}

func sorted(cs []uint64) []uint64 {
	slices.Sort(cs)
	return cs
}
