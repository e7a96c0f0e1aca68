package integration

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/tcpreap/tcpreap/integration/testnet"
)

// TestIntegrationMax checks --max N: a plan with more than N targets destroys nothing,
// exits 3 and says how many it would have destroyed; exactly N goes ahead. It counts
// targets, not matches: a socket a guard keeps back (here the SSH session) is not one.
func TestIntegrationMax(t *testing.T) {
	e := setup(t)
	l := e.listen(e.Local, netip.AddrPortFrom(testnet.LocalV4, 0))
	session := e.inbound(l, peer)
	others := []conn{tcp("established", e.inbound(l, peer)), tcp("established", e.inbound(l, peer)), tcp("close_wait", e.closeWait(l, peer))}
	bystander := tcp("other peer", e.inbound(l, otherPeer))
	ssh := fmt.Sprintf("SSH_CONNECTION=%s %d %s %d", session.RemoteAddr().Addr(), session.RemoteAddr().Port(), session.LocalAddr().Addr(), session.LocalAddr().Port())
	p := testnet.PeerV4.String()
	before := e.sockets()

	for _, c := range []struct {
		vars []string
		max  string
		msg  string
	}{
		{nil, "3", "tcpreap: 4 sockets would be destroyed, more than --max 3; nothing was destroyed"},
		{nil, "0", "tcpreap: 4 sockets would be destroyed, more than --max 0; nothing was destroyed"},
		{[]string{ssh}, "2", "tcpreap: 3 sockets would be destroyed, more than --max 2; nothing was destroyed"},
	} {
		t.Run(strings.Join(append(c.vars, "--max", c.max), " "), func(t *testing.T) {
			e := &env{Net: e.Net, t: t}
			res := e.tcpreapEnv(c.vars, "--json", "--max", c.max, p)
			if res.Code != 3 {
				t.Errorf("exit %d, want 3", res.Code)
			}
			if !strings.HasPrefix(res.Stderr, c.msg) {
				t.Errorf("stderr %q, want it to start %q", res.Stderr, c.msg)
			}
			expectUnchanged(t, before, e.sockets())
		})
	}

	// Exactly --max targets: the three others; the session is skipped, not counted.
	r := e.decode(e.tcpreapEnv([]string{ssh}, "--json", "--max", "3", p), 0)
	expectActions(t, r, map[string][]conn{"killed": others, "skipped": {tcp("session", session)}})
	ss := e.sockets()
	expectGone(t, ss, others...)
	expectPresent(t, ss, "established", tcp("session", session), bystander)

	// One target, --max 0: "1 socket".
	res := e.tcpreap("--max", "0", p)
	if want := "tcpreap: 1 socket would be destroyed, more than --max 0; nothing was destroyed"; res.Code != 3 || !strings.HasPrefix(res.Stderr, want) {
		t.Errorf("exit %d, stderr %q; want exit 3 and %q", res.Code, res.Stderr, want)
	}
	// No target at all is not more than --max 0.
	if res := e.tcpreap("--max", "0", "192.0.2.4"); res.Code != 0 {
		t.Errorf("--max 0 with nothing matched: exit %d, want 0", res.Code)
	}
	expectPresent(t, e.sockets(), "established", tcp("session", session), bystander)
	if err := testnet.Echo(session); err != nil {
		t.Errorf("the session no longer carries data: %v", err)
	}
}
