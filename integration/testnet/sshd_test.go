package testnet

import (
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

func TestParseSSHConnection(t *testing.T) {
	ap := netip.MustParseAddrPort
	for _, c := range []struct {
		in             string
		client, server netip.AddrPort
	}{
		{"192.0.2.2 46068 192.0.2.1 22", ap("192.0.2.2:46068"), ap("192.0.2.1:22")},
		{"2001:db8::2 46068 2001:db8::1 22", ap("[2001:db8::2]:46068"), ap("[2001:db8::1]:22")},
		// As OpenSSH writes a link-local client (issue 7).
		{"fe80::2%eth0 46068 fe80::1%eth0 22", ap("[fe80::2%eth0]:46068"), ap("[fe80::1%eth0]:22")},
	} {
		client, server, err := ParseSSHConnection(c.in)
		if err != nil || client != c.client || server != c.server {
			t.Errorf("ParseSSHConnection(%q) = %v, %v, %v; want %v, %v", c.in, client, server, err, c.client, c.server)
		}
	}
	for _, bad := range []string{"", "192.0.2.2 46068 192.0.2.1", "192.0.2.2 x 192.0.2.1 22", "192.0.2.2 46068 192.0.2.1 65536", "host 1 192.0.2.1 22"} {
		if _, _, err := ParseSSHConnection(bad); err == nil {
			t.Errorf("ParseSSHConnection(%q): no error", bad)
		}
	}
}

// TestIntegrationHarnessSSHD checks the SSH server and its sessions as the SSH session
// tests use them: a session over each address, with the SSH_CONNECTION sshd writes, data
// both ways, and nothing left behind by Close, not even a tmux server that a session
// started and that left its parent.
func TestIntegrationHarnessSSHD(t *testing.T) {
	t.Parallel()
	n := New(t)
	s, err := n.StartSSHD()
	if err != nil {
		t.Fatal(err)
	}
	for _, to := range []struct{ server, client netip.Addr }{{LocalV4, PeerV4}, {LocalLinkLocal, PeerLinkLocal}} {
		c, err := s.Session(to.server, `printf 'connection: %s\n' "$SSH_CONNECTION"; read -r line; printf 'echo: %s\n' "$line"`)
		if err != nil {
			t.Fatal(err)
		}
		env, err := c.Await("connection: ")
		if err != nil {
			t.Fatal(err)
		}
		client, server, err := ParseSSHConnection(env)
		if err != nil || client.Addr() != to.client || server != netip.AddrPortFrom(to.server, SSHPort) {
			t.Errorf("SSH_CONNECTION=%q (%v), want client %s and server %s port %d", env, err, to.client, to.server, SSHPort)
		}
		if err := c.Send("ping"); err != nil {
			t.Fatal(err)
		}
		if got, err := c.Await("echo: "); err != nil || got != "ping" {
			t.Errorf("echo: %q, %v", got, err)
		}
		if res, err := c.Wait(); err != nil || res.Code != 0 {
			t.Errorf("ssh ended with %d, %v (stderr %q)", res.Code, err, res.Stderr)
		}
	}

	tmux := filepath.Join(s.Dir, "tmux")
	c, err := s.Session(LocalV4, `tmux -S '`+tmux+`' new-session -d && tmux -S '`+tmux+`' display-message -p 'server: #{pid}'; read -r line`)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := c.Await("server: ")
	if err != nil {
		t.Fatal(err)
	}
	server, err := strconv.Atoi(pid)
	if err != nil {
		t.Fatalf("tmux server pid %q", pid)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if !s.hasExited() {
		t.Error("sshd is still running after Close")
	}
	if _, err := os.Stat("/proc/" + pid + "/ns/net"); err == nil {
		t.Errorf("the tmux server (pid %d) is still running after Close", server)
	}
	if _, err := os.Stat(s.Dir); !os.IsNotExist(err) {
		t.Errorf("the server's directory %s is still there after Close (%v)", s.Dir, err)
	}
}
