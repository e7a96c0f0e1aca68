package host

import (
	"os"
	"strconv"
	"testing"
)

func TestParseSSHConnection(t *testing.T) {
	c, err := ParseSSHConnection("192.0.2.2 40000 192.0.2.1 22")
	if err != nil || c.Client.String() != "192.0.2.2:40000" || c.Server.String() != "192.0.2.1:22" {
		t.Errorf("IPv4: %+v, %v", c, err)
	}
	c, err = ParseSSHConnection("::ffff:192.0.2.2 40000 ::ffff:192.0.2.1 22")
	if err != nil || c.Client.String() != "192.0.2.2:40000" {
		t.Errorf("v4-mapped: %+v, %v; want it unmapped", c, err)
	}
	if c, err := ParseSSHConnection("2001:db8::9 50000 2001:db8::1 22"); err != nil || c.Server.String() != "[2001:db8::1]:22" {
		t.Errorf("IPv6: %+v, %v", c, err)
	}
	for _, bad := range []string{"", "192.0.2.2 40000 192.0.2.1", "a b c d", "192.0.2.2 99999 192.0.2.1 22"} {
		if _, err := ParseSSHConnection(bad); err == nil {
			t.Errorf("ParseSSHConnection(%q): no error", bad)
		}
	}
}

func FuzzParseSSHConnection(f *testing.F) {
	for _, s := range []string{"192.0.2.2 40000 192.0.2.1 22", "2001:db8::9 50000 2001:db8::1 22", "fe80::2%eth0 46068 fe80::1%eth0 22", "a b c d", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		c, err := ParseSSHConnection(v)
		if err == nil && (!c.Client.IsValid() || !c.Server.IsValid()) {
			t.Fatalf("%q: invalid connection %+v", v, c)
		}
	})
}

func TestParseSSHConnectionZone(t *testing.T) {
	c, err := ParseSSHConnection("fe80::2%eth0 46068 fe80::1%eth0 22")
	if err != nil || c.Client.String() != "[fe80::2]:46068" || c.Server.String() != "[fe80::1]:22" || c.Zone != "eth0" {
		t.Errorf("%+v, %v; want the addresses without zone and the zone apart", c, err)
	}
}

// TestFindSSHSession reads a process tree of its own: tcpreap under an
// sshd, inside tmux (no sshd above it), and on a console.
func TestFindSSHSession(t *testing.T) {
	self := os.Getpid()
	me := strconv.Itoa(self)
	for _, v := range sshLogin {
		t.Setenv(v, "")
	}
	tree := func(parent int) map[int]proc {
		return map[int]proc{
			self: {stat: me + " (tcpreap) S " + strconv.Itoa(parent) + " 1 1"},
			30:   {stat: "30 (bash) S 20 1 1", environ: "SSH_CONNECTION=192.0.2.9 50000 192.0.2.1 22\x00"},
			20:   {stat: "20 (sshd) S 10 1 1", fds: map[int]string{4: "socket:[500]"}},
			10:   {stat: "10 (sshd) S 1 1 1", fds: map[int]string{3: "socket:[400]"}},
			40:   {stat: "40 (tmux: server) S 1 1 1", environ: "TMUX=/tmp/tmux-0/default,40,0\x00"},
			50:   {stat: "50 (sshd-session) S 10 1 1", fds: map[int]string{4: "socket:[600]"}},
			60:   {stat: "60 (login) S 1 1 1"},
		}
	}

	fakeProc(t, tree(30))
	s, err := FindSSHSession()
	if err != nil || s == nil || !s.Ancestral || len(s.Servers) != 2 || s.Conn == nil || s.Conn.Server.Port() != 22 {
		t.Fatalf("under sshd: %+v, %v", s, err)
	}
	if _, ok := s.Sockets[500]; !ok || len(s.Sockets) != 2 {
		t.Errorf("under sshd: sockets %v, want the ancestors' 400 and 500", s.Sockets)
	}

	fakeProc(t, tree(40))
	s, err = FindSSHSession()
	if err != nil || s == nil || s.Ancestral || s.Conn != nil {
		t.Fatalf("inside tmux: %+v, %v", s, err)
	}
	if len(s.Sockets) != 3 {
		t.Errorf("inside tmux: sockets %v, want every SSH server's: 400, 500, 600", s.Sockets)
	}

	fakeProc(t, tree(60))
	if s, err := FindSSHSession(); s != nil || err != nil {
		t.Errorf("on a console: %+v, %v; want no session", s, err)
	}
}

// TestFindSSHSessionNested: the session came over loopback (ssh localhost
// inside a session): the ssh client's end of that connection and the outer
// session it runs in are kept too.
func TestFindSSHSessionNested(t *testing.T) {
	self := os.Getpid()
	for _, v := range sshLogin {
		t.Setenv(v, "")
	}
	fakeProc(t, map[int]proc{
		self: {stat: strconv.Itoa(self) + " (tcpreap) S 30 1 1"},
		30:   {stat: "30 (bash) S 20 1 1"},
		20:   {stat: "20 (sshd) S 10 1 1", fds: map[int]string{4: "socket:[500]"}}, // the inner session
		10:   {stat: "10 (sshd) S 1 1 1", fds: map[int]string{3: "socket:[400]"}},  // the listener
		70:   {stat: "70 (ssh) S 80 1 1", fds: map[int]string{3: "socket:[600]"}},  // ssh -p 2022 localhost
		80:   {stat: "80 (bash) S 90 1 1"},
		90:   {stat: "90 (sshd) S 10 1 1", fds: map[int]string{4: "socket:[700]"}}, // the outer session
	})
	fakeTCP(t,
		"0100007F:07E6 0100007F:9C40 500", // inner: 127.0.0.1:2022 <- 127.0.0.1:40000
		"0100007F:9C40 0100007F:07E6 600", // the ssh client's end
		"010200C0:0016 090200C0:C350 700", // outer: 192.0.2.1:22 <- 192.0.2.9:50000
		"00000000:07E6 00000000:0000 400",
	)
	s, err := FindSSHSession()
	if err != nil || s == nil || !s.Ancestral {
		t.Fatalf("%+v, %v", s, err)
	}
	for _, ino := range []uint32{500, 600, 700} {
		if _, ok := s.Sockets[ino]; !ok {
			t.Errorf("socket %d is not kept: %v", ino, s.Sockets)
		}
	}
}

func TestParseProcAddr(t *testing.T) {
	for in, want := range map[string]string{
		"0100007F:0016":                         "127.0.0.1:22",
		"010200C0:C350":                         "192.0.2.1:50000",
		"B80D0120000000000000000001000000:01BB": "[2001:db8::1]:443",
		"0000000000000000FFFF00000100007F:0016": "127.0.0.1:22",
	} {
		got, err := parseProcAddr(in)
		if err != nil || got.String() != want {
			t.Errorf("parseProcAddr(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
}
