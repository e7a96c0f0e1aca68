// Reviewing what tcpreap would do: plan says what it wrote; apply -n prints a plan file's
// sockets as they stand now and destroys nothing; a table of another namespace names it;
// summary counts the ports of outgoing connections as one range.
package integration

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tcpreap/tcpreap/integration/testnet"
)

// TestIntegrationApplyReview: four connections are planned; then one closes (both ends,
// gone), one becomes a TIME-WAIT socket (the same cookie, another kind of socket: the
// re-check keeps it back), one's peer closes (CLOSE-WAIT: still the socket planned), one
// stays. apply -n says so of each, in the table and in JSON, exits 0 and destroys nothing;
// over --max it exits 3, still destroying nothing; the real apply then does what the
// review said.
func TestIntegrationApplyReview(t *testing.T) {
	e := setup(t)
	l := e.listenV4()
	var planned []testnet.Pair
	for i := range 4 {
		planned = append(planned, e.inbound(l, netip.AddrPortFrom(testnet.PeerV4, uint16(47301+i))))
	}
	bystander := e.inbound(l, otherPeer)

	file := filepath.Join(e.t.TempDir(), "reap.plan")
	res := e.run(e.Local, "sh", "-c", `"$0" plan "$1" > "$2"`, bin, testnet.PeerV4.String(), file)
	want := fmt.Sprintf("tcpreap: 4 sockets planned: 4 to destroy, 0 skipped; written to %s (review it: tcpreap apply -n %s)\n", file, file)
	if res.Code != 0 || res.Stderr != want {
		t.Errorf("plan: exit %d, stderr %q; want 0 and %q", res.Code, res.Stderr, want)
	}

	gone, timeWait, closeWait, kept := planned[0], planned[1], planned[2], planned[3]
	e.check(gone.Local.SetLinger(0))
	e.check(gone.Local.Close())
	e.check(gone.Peer.Close())
	e.check(e.Local.AwaitGone(gone.LocalAddr(), gone.RemoteAddr()))
	e.check(e.TimeWait(timeWait))
	e.check(e.CloseWait(closeWait))
	before := e.sockets()
	expectPresent(t, before, "time_wait", tcp("time_wait", timeWait))

	r := e.decode(e.tcpreap("apply", "-n", "--json", file), 0)
	expectActions(t, r, map[string][]conn{
		"would_kill": {tcp("close_wait", closeWait), tcp("kept", kept)},
		"gone":       {tcp("gone", gone)},
		"skipped":    {tcp("time_wait", timeWait)},
	})
	if want := (testnet.Summary{Matched: 4, Gone: 1, Skipped: 1, DryRun: true}); r.Summary != want {
		t.Errorf("apply -n summary %+v, want %+v", r.Summary, want)
	}
	for _, rec := range r.Sockets {
		if rec.Action == "skipped" && !strings.HasPrefix(rec.Reason, "changed since the plan") {
			t.Errorf("the TIME-WAIT socket kept back: reason %q", rec.Reason)
		}
	}
	expectUnchanged(t, before, e.sockets())

	res = e.tcpreap("apply", "-n", file)
	for text, n := range map[string]int{
		"  destroy\n":     2,
		"  gone\n":        1,
		"skip: changed\n": 1,
		"\nchanged: changed since the plan into another kind of socket; its row shows what it is now\n":   1,
		"\n4 sockets matched: 2 would be destroyed, 1 gone, 1 skipped (dry run: nothing was destroyed)\n": 1,
	} {
		if got := strings.Count(res.Stdout, text); res.Code != 0 || got != n {
			t.Errorf("apply -n: exit %d, %q %d times, want %d", res.Code, text, got, n)
		}
	}
	if res.Stderr != "" {
		t.Errorf("apply -n: stderr %q", res.Stderr)
	}
	expectUnchanged(t, before, e.sockets())

	res = e.tcpreap("apply", "-n", "--max", "1", file)
	e.expectNothingDestroyed(res, 3, before)
	// Two would be destroyed, as the table says: the one gone is not counted.
	if !strings.Contains(res.Stderr, "2 sockets would be destroyed, more than --max 1; nothing was destroyed") {
		t.Errorf("apply -n --max 1: stderr %q", res.Stderr)
	}

	// The review told the truth: apply destroys the two it said it would.
	r = e.decode(e.tcpreap("apply", "--json", file), 0)
	expectActions(t, r, map[string][]conn{
		"killed":  {tcp("close_wait", closeWait), tcp("kept", kept)},
		"gone":    {tcp("gone", gone)},
		"skipped": {tcp("time_wait", timeWait)},
	})
	after := e.sockets()
	expectGone(t, after, tcp("close_wait", closeWait), tcp("kept", kept))
	expectPresent(t, after, "established", tcp("bystander", bystander))
}

// TestIntegrationTableNamesNamespace: list --netns, and apply -n of a plan made with
// --netns, run from host B, name A's namespace in a column of their own, as --all-netns
// does; a list of tcpreap's own namespace has no such column.
func TestIntegrationTableNamesNamespace(t *testing.T) {
	e := setup(t)
	l := e.listenV4()
	e.inbound(l, netip.AddrPortFrom(testnet.PeerV4, 47311))
	peer := testnet.PeerV4.String()
	named := func(what string, res testnet.Result) {
		t.Helper()
		lines := strings.Split(res.Stdout, "\n")
		if res.Code != 0 || len(lines) < 2 || !strings.HasPrefix(lines[0], "NetNS ") || !strings.HasPrefix(lines[1], e.Local.Name+" ") {
			t.Errorf("%s: exit %d, the table does not name %s:\n%s", what, res.Code, e.Local.Name, res.Stdout)
		}
	}
	named("list --netns", e.run(e.Peer, bin, "list", "--netns", e.Local.Name, peer))
	named("tcpreap -n --netns", e.run(e.Peer, bin, "-n", "--netns", e.Local.Name, peer))
	plan := e.run(e.Peer, bin, "plan", "--netns", e.Local.Name, peer)
	if plan.Code != 0 || !strings.Contains(plan.Stderr, "1 socket planned in network namespace "+e.Local.Name+": 1 to destroy, 0 skipped") {
		t.Errorf("plan --netns: exit %d, stderr %q", plan.Code, plan.Stderr)
	}
	named("apply -n of a plan made with --netns", e.run(e.Peer, bin, "apply", "-n", e.writePlan(plan.Stdout)))
	if res := e.tcpreap("list", peer); res.Code != 0 || strings.Contains(res.Stdout, "NetNS") {
		t.Errorf("list in tcpreap's own namespace: exit %d\n%s", res.Code, res.Stdout)
	}
}

// TestIntegrationSummaryEphemeralPorts: with A's local port range narrowed to
// 40000-40099, ten outgoing connections are one row of the local ports, the range; a
// service listening on a port of the range keeps a row of its own.
func TestIntegrationSummaryEphemeralPorts(t *testing.T) {
	e := setup(t)
	e.run(e.Local, "sh", "-c", "echo '40000 40099' > /proc/sys/net/ipv4/ip_local_port_range")
	// The service first: an outgoing connection must not take its port.
	service := e.listen(e.Local, netip.AddrPortFrom(testnet.LocalV4, 40050))
	e.inbound(service, netip.AddrPortFrom(testnet.PeerV4, 47321))
	server := e.listen(e.Peer, netip.AddrPortFrom(testnet.PeerV4, 0))
	for range 10 {
		e.outbound(server)
	}

	res := e.tcpreap("summary")
	lines := strings.Split(res.Stdout, "\n")
	row := func(label string) string {
		i := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(strings.TrimSpace(l), label+" ") })
		if i < 0 {
			return ""
		}
		return strings.Join(strings.Fields(lines[i]), " ")
	}
	if res.Code != 0 || !strings.HasPrefix(row(":40000-40099 (ephemeral)"), ":40000-40099 (ephemeral) 10 #") || !strings.HasPrefix(row(":40050"), ":40050 2 #") {
		t.Errorf("summary: exit %d, local ports not grouped:\n%s", res.Code, res.Stdout)
	}
	for _, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), ":400") && !strings.Contains(l, "ephemeral") && !strings.Contains(l, ":40050") {
			t.Errorf("summary: a port of the range on its own: %q", l)
		}
	}

	res = e.tcpreap("summary", "--json")
	type count struct {
		Key     string `json:"key"`
		Sockets int    `json:"sockets"`
	}
	var c struct {
		LocalPorts []count `json:"local_ports"`
	}
	e.check(json.Unmarshal([]byte(res.Stdout), &c))
	if !slices.Contains(c.LocalPorts, count{"40000-40099", 10}) {
		t.Errorf("summary --json: local_ports %+v, want 40000-40099 with 10", c.LocalPorts)
	}
}
