package integration

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/tcpreap/tcpreap/integration/testnet"
)

// nobody runs the rest of the command line as uid/gid 65534 with no capabilities at all.
var nobody = []string{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all"}

// TestIntegrationUnprivileged checks that listing needs no privilege (socket dumps are open
// to everyone) and that a destroy without CAP_NET_ADMIN fails with a sentence that says so,
// exit 1, and leaves every socket alone.
func TestIntegrationUnprivileged(t *testing.T) {
	e := setup(t)
	l := e.listen(e.Local, netip.AddrPortFrom(testnet.LocalV4, 0))
	in := e.inbound(l, peer)
	cw := e.closeWait(l, peer)
	targets := []conn{tcp("inbound", in), tcp("close_wait", cw)}
	before := e.sockets()

	r := e.decode(e.run(e.Local, slices.Concat(nobody, []string{bin, "list", "--json", testnet.PeerV4.String()})...), 0)
	expectRecords(t, r, "would_kill", targets...)
	for _, rec := range r.Sockets {
		if rec.UID != 0 {
			t.Errorf("%+v: uid %d, want 0 (the sockets are root's, whoever lists them)", rec, rec.UID)
		}
	}

	res := e.run(e.Local, slices.Concat(nobody, []string{bin, testnet.PeerV4.String()})...)
	if res.Code != 1 {
		t.Errorf("destroy as nobody: exit %d, want 1", res.Code)
	}
	if !strings.HasPrefix(res.Stderr, "tcpreap: ") || !strings.Contains(res.Stderr, "needs CAP_NET_ADMIN") {
		t.Errorf("destroy as nobody: stderr %q, want a tcpreap: line saying it needs CAP_NET_ADMIN", res.Stderr)
	}
	expectUnchanged(t, before, e.sockets())
	if err := testnet.Echo(in); err != nil {
		t.Errorf("the connection no longer carries data: %v", err)
	}
}
