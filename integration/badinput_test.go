package integration

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/tcpreap/tcpreap/integration/testnet"
)

// TestIntegrationBadInput checks that bad words stop tcpreap before it destroys anything:
// exit 2 and one line on stderr that names the problem. Each case but the last two also
// names a valid peer, so a parser that quietly dropped the bad word would destroy the
// sockets with 192.0.2.2, and the kernel's view would show it.
func TestIntegrationBadInput(t *testing.T) {
	e := setup(t)
	l := e.listen(e.Local, netip.AddrPortFrom(testnet.LocalV4, 0))
	in := e.inbound(l, peer)
	e.closeWait(l, peer)
	before := e.sockets()

	p := testnet.PeerV4.String()
	for _, c := range []struct {
		args    []string
		mention string // what stderr must name, so the user knows what to fix
	}{
		{[]string{"--state", "bogus", p}, "bogus"},
		{[]string{"--port", "nosuchservice", p}, "nosuchservice"},
		{[]string{"--port", "9-2", p}, "9-2"},
		{[]string{"--port", "70000", p}, "70000"},
		{[]string{"999.1.1.1"}, "999.1.1.1"},
		{[]string{"999.1.1.1", p}, "999.1.1.1"},
		{[]string{"--local", "192.0.2.1/33", p}, "192.0.2.1/33"},
		{[]string{"--interface", "", p}, "--interface"},
		{[]string{"--max", "-1", p}, "--max -1"},
		{[]string{"-u", "--port", "ssh", p}, `"ssh" has no udp port`},
		{[]string{"--json", "list", p}, "put the options after the command"},
		{[]string{"list", "--yes", p}, "-yes"},
		{[]string{"apply", "--state", "listen", "/dev/null"}, "-state"},
		{[]string{"--state", "all"}, "--all"},
		{nil, "--all"},
	} {
		t.Run(strings.Join(append([]string{"tcpreap"}, c.args...), " "), func(t *testing.T) {
			e := &env{Net: e.Net, t: t}
			res := e.tcpreap(c.args...)
			if res.Code != 2 {
				t.Errorf("exit %d, want 2", res.Code)
			}
			msg := strings.TrimSuffix(res.Stderr, "\n")
			if !strings.HasPrefix(msg, "tcpreap: ") || strings.Contains(msg, "\n") {
				t.Errorf("stderr %q, want one line starting with \"tcpreap: \"", res.Stderr)
			}
			if !strings.Contains(msg, c.mention) {
				t.Errorf("stderr %q does not mention %q", res.Stderr, c.mention)
			}
			expectUnchanged(t, before, e.sockets())
		})
	}
	if err := testnet.Echo(in); err != nil {
		t.Errorf("the connection no longer carries data: %v", err)
	}
}
