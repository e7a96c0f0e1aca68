package integration

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/tcpreap/tcpreap/integration/testnet"
)

// TestIntegrationSessionGuard checks the guard for the SSH connection tcpreap runs in: the
// socket that SSH_CONNECTION names is skipped with its reason, whether SSH_CONNECTION is in
// tcpreap's own environment or (as after sudo) only in an ancestor's; the guard runs again
// when a plan file is applied; --include-self destroys it. In every round, connections
// that share one end with the session (the same client address and port towards another
// server port, or another client port towards the same server port) are destroyed, so a
// guard that protected more than the one connection would show.
func TestIntegrationSessionGuard(t *testing.T) {
	e := setup(t)
	// sshd listens on [::]: OpenSSH writes an IPv4 client in SSH_CONNECTION as plain IPv4,
	// while the kernel shows the connection as an AF_INET6 socket with v4-mapped addresses.
	sshd := e.listen(e.Local, netip.AddrPortFrom(netip.IPv6Unspecified(), 0))
	web := e.listen(e.Local, netip.AddrPortFrom(testnet.LocalV4, 0))
	client := netip.AddrPortFrom(testnet.PeerV4, 47201)
	session := e.inbound(sshd, client)
	if !session.LocalAddr().Addr().Is4In6() {
		t.Fatalf("the session's local address %s is not v4-mapped; the test would not check the unmapping", session.LocalAddr())
	}
	self := tcp("session", session)
	ssh := "SSH_CONNECTION=" + fmt.Sprintf("%s %d %s %d", testnet.PeerV4, client.Port(), testnet.LocalV4, session.LocalAddr().Port())
	p := testnet.PeerV4.String()

	// neighbours are the connections that look like the session and are not it.
	neighbours := func() []conn {
		t.Helper()
		return []conn{
			tcp("same client end, other server port", e.inbound(web, client)),
			tcp("same server end, other client port", e.inbound(sshd, peer)),
		}
	}
	// expectGuarded checks one destroying run: the session skipped with the reason, the
	// neighbours killed, and the kernel and the session's applications agreeing.
	expectGuarded := func(t *testing.T, r testnet.Report, killed []conn) {
		t.Helper()
		expectActions(t, r, map[string][]conn{"killed": killed, "skipped": {self}})
		for _, rec := range r.Sockets {
			if rec.Cookie == self.cookie && rec.Reason != "protects the ssh session tcpreap runs in" {
				t.Errorf("the session is skipped with reason %q", rec.Reason)
			}
		}
		if want := (testnet.Summary{Matched: 3, Killed: 2, Skipped: 1}); r.Summary != want {
			t.Errorf("summary %+v, want %+v", r.Summary, want)
		}
		ss := e.sockets()
		expectGone(t, ss, killed...)
		expectPresent(t, ss, "established", self)
		expectListening(t, ss, sshd)
		if err := testnet.Echo(session); err != nil {
			t.Fatalf("the session no longer carries data: %v", err)
		}
	}

	t.Run("in tcpreap's environment", func(t *testing.T) {
		e := &env{Net: e.Net, t: t}
		killed := neighbours()
		expectGuarded(t, e.decode(e.tcpreapEnv([]string{ssh}, "--json", p), 0), killed)
	})

	// sh keeps SSH_CONNECTION; env -u takes it out of tcpreap's own environment, as sudo
	// does. "; exit $?" keeps sh from exec'ing env, so sh stays tcpreap's parent.
	const viaParent = `env -u SSH_CONNECTION "$0" "$@"; exit $?`
	// A login shell in between (su -, sudo -i) starts with a clean environment too: then
	// only the grandparent has SSH_CONNECTION.
	viaGrandparent := `env -u SSH_CONNECTION sh -c '` + viaParent + `' "$0" "$@"; exit $?`
	for _, c := range []struct{ name, script string }{
		{"in the parent's environment only", viaParent},
		{"in the grandparent's environment only", viaGrandparent},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := &env{Net: e.Net, t: t}
			// The control: the same chain without SSH_CONNECTION plans the session, so the
			// skip below comes from the ancestor's environment and nowhere else.
			r := e.decode(e.run(e.Local, "sh", "-c", c.script, bin, "list", "--json", p), 0)
			expectRecords(t, r, "would_kill", self)
			killed := neighbours()
			r = e.decode(e.run(e.Local, "env", ssh, "sh", "-c", c.script, bin, "--json", p), 0)
			expectGuarded(t, r, killed)
		})
	}

	t.Run("IPv6", func(t *testing.T) {
		e := &env{Net: e.Net, t: t}
		client6 := netip.AddrPortFrom(testnet.PeerV6, 47202)
		session6 := e.inbound(sshd, client6)
		other6 := e.inbound(sshd, netip.AddrPortFrom(testnet.PeerV6, 0))
		ssh6 := fmt.Sprintf("SSH_CONNECTION=%s %d %s %d", testnet.PeerV6, client6.Port(), testnet.LocalV6, session6.LocalAddr().Port())
		r := e.decode(e.tcpreapEnv([]string{ssh6}, "--json", testnet.PeerV6.String()), 0)
		expectActions(t, r, map[string][]conn{"killed": {tcp("other IPv6", other6)}, "skipped": {tcp("IPv6 session", session6)}})
		ss := e.sockets()
		expectGone(t, ss, tcp("other IPv6", other6))
		expectPresent(t, ss, "established", tcp("IPv6 session", session6), self)
		if err := testnet.Echo(session6); err != nil {
			t.Errorf("the IPv6 session no longer carries data: %v", err)
		}
	})

	t.Run("applying a plan made outside the session", func(t *testing.T) {
		e := &env{Net: e.Net, t: t}
		killed := neighbours()
		plan := e.plan(p)
		file := filepath.Join(t.TempDir(), "plan")
		e.check(os.WriteFile(file, []byte(plan), 0o600))
		r, err := testnet.ParseReport(stripHeader(t, plan))
		e.check(err)
		expectRecords(t, r, "would_kill", append(killed, self)...)
		expectGuarded(t, e.decode(e.tcpreapEnv([]string{ssh}, "apply", "--json", file), 0), killed)
	})

	t.Run("applying a plan made inside the session", func(t *testing.T) {
		e := &env{Net: e.Net, t: t}
		killed := neighbours()
		res := e.tcpreapEnv([]string{ssh}, "plan", p)
		if res.Code != 0 {
			t.Fatalf("plan: exit %d", res.Code)
		}
		r, err := testnet.ParseReport(stripHeader(t, res.Stdout))
		e.check(err)
		expectActions(t, r, map[string][]conn{"would_kill": killed, "skipped": {self}})
		file := filepath.Join(t.TempDir(), "plan")
		e.check(os.WriteFile(file, []byte(res.Stdout), 0o600))
		// Applied without SSH_CONNECTION, the plan still destroys only what it planned.
		expectGuarded(t, e.decode(e.tcpreap("apply", "--json", file), 0), killed)
	})

	t.Run("--include-self", func(t *testing.T) {
		e := &env{Net: e.Net, t: t}
		killed := append(neighbours(), self)
		r := e.decode(e.tcpreapEnv([]string{ssh}, "--json", "--include-self", p), 0)
		expectRecords(t, r, "killed", killed...)
		expectGone(t, e.sockets(), killed...)
		expectAborted(t, "session", session.Local)
		expectReset(t, "session", session.Peer)
	})
}
