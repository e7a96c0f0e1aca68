// Link-local peers with their interface: through a plan file, written wrong, on an
// interface the namespace does not have.
package integration

import (
	"strconv"
	"strings"
	"testing"
)

// TestIntegrationZonedPlanApply: a plan made of a zoned peer holds the socket over that
// link alone; apply -n says so and destroys nothing; apply destroys it (killed, not gone:
// the socket is looked up on its interface) and leaves the connection with the same
// addresses over the other link.
func TestIntegrationZonedPlanApply(t *testing.T) {
	e := setup(t)
	over0, over1 := e.twoLinks()
	file := e.writePlan(e.plan("fe80::2%veth1"))
	before := e.sockets()

	r := e.decode(e.tcpreap("apply", "-n", "--json", file), 0)
	expectActions(t, r, map[string][]conn{"would_kill": {over1}})
	expectUnchanged(t, before, e.sockets())

	r = e.decode(e.tcpreap("apply", "-y", "--json", file), 0)
	expectActions(t, r, map[string][]conn{"killed": {over1}})
	ss := e.sockets()
	expectGone(t, ss, over1)
	expectPresent(t, ss, "established", over0)
}

// TestIntegrationTwoZonesRefused: a PEER with one interface inside its brackets and
// another after them is refused whole, exit 2; neither link's connection is touched.
func TestIntegrationTwoZonesRefused(t *testing.T) {
	e := setup(t)
	over0, over1 := e.twoLinks()
	port := strconv.Itoa(int(over0.remote.Port()))
	before := e.sockets()
	for _, word := range []string{"[fe80::2%veth1]%veth0:" + port, "[fe80::2%veth0]%veth1"} {
		res := e.tcpreap("-y", word)
		e.expectNothingDestroyed(res, 2, before)
		if !strings.Contains(res.Stderr, "names two interfaces") {
			t.Errorf("%s: stderr %q", word, res.Stderr)
		}
	}
	ss := e.sockets()
	expectPresent(t, ss, "established", over0, over1)
}

// TestIntegrationNoInterfaceNamesNamespace: an interface that the namespace --netns names
// does not have is said to be missing there, not "in this network namespace", which is
// another one; from tcpreap's own namespace, it is this one's.
func TestIntegrationNoInterfaceNamesNamespace(t *testing.T) {
	e := setup(t)
	a := e.Local.Name
	for _, args := range [][]string{
		{"list", "--netns", a, "--interface", "nosuchif0"},
		{"list", "--netns", a, "fe80::2%nosuchif0"},
	} {
		res := e.run(e.Peer, append([]string{bin}, args...)...)
		want := `no interface named "nosuchif0" in network namespace ` + a + "\n"
		if res.Code != 2 || !strings.HasSuffix(res.Stderr, want) || strings.Contains(res.Stderr, "this network namespace") {
			t.Errorf("%q: exit %d, stderr %q; want 2 and %q", args, res.Code, res.Stderr, want)
		}
	}
	res := e.tcpreap("list", "fe80::2%nosuchif0")
	if want := `tcpreap: peer fe80::2%nosuchif0: no interface named "nosuchif0" in this network namespace (see ip link)` + "\n"; res.Code != 2 || res.Stderr != want {
		t.Errorf("in its own namespace: exit %d, stderr %q; want 2 and %q", res.Code, res.Stderr, want)
	}
}
