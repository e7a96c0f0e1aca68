// The SSH session through a real OpenSSH server (testnet.SSHD: Debian's sshd run as a
// plain process in host A, reached with ssh from host B): tcpreap run inside a session
// that sshd made, with the environment sshd gave it, cuts the peer's other connections and
// leaves the session carrying data. A plain session over IPv4; a session over link-local
// IPv6, whose SSH_CONNECTION carries zones; and a session that runs tcpreap in a tmux
// server that an earlier, ended session started, where SSH_CONNECTION is the earlier one's.

package integration

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tcpreap/tcpreap/integration/testnet"
)

// TestIntegrationSSHSession: a plain session over IPv4. The connections tcpreap must cut
// include another session of the same client and a connection to sshd that has not logged
// in, so a guard that kept every connection of the SSH server would show.
func TestIntegrationSSHSession(t *testing.T) {
	e := setup(t)
	s := e.sshd()
	m := e.peerMix()
	killed := append(m.targets(), e.dialSSHD("a connection to sshd that has not logged in", testnet.LocalV4))
	kept := []conn{tcp("bystander", m.bystander)}
	e.reapInSession(s, testnet.PeerV4, testnet.LocalV4, killed, kept, "--json", testnet.PeerV4.String())
}

// TestIntegrationSSHSessionNetNS: the same through --netns naming the namespace the
// session is in: the guard holds there too.
func TestIntegrationSSHSessionNetNS(t *testing.T) {
	e := setup(t)
	s := e.sshd()
	m := e.peerMix()
	killed := append(m.targets(), e.dialSSHD("a connection to sshd that has not logged in", testnet.LocalV4))
	kept := []conn{tcp("bystander", m.bystander)}
	e.reapInSession(s, testnet.PeerV4, testnet.LocalV4, killed, kept, "--json", "--netns", e.Local.Name, testnet.PeerV4.String())
}

// TestIntegrationSSHLinkLocal: a session over link-local IPv6. sshd writes
// SSH_CONNECTION="fe80::2%veth0 PORT fe80::1%veth0 2022"; tcpreap is given the client's
// address as an operator would copy it from there (without the zone, which a PEER does
// not take).
func TestIntegrationSSHLinkLocal(t *testing.T) {
	e := setup(t)
	s := e.sshd()
	l := e.listen(e.Local, netip.AddrPortFrom(testnet.LocalLinkLocal, 0))
	killed := []conn{
		tcp("link-local inbound", e.inbound(l, netip.AddrPortFrom(testnet.PeerLinkLocal, 0))),
		e.dialSSHD("a link-local connection to sshd that has not logged in", testnet.LocalLinkLocal),
	}
	kept := []conn{tcp("the same host over IPv4", e.inbound(e.listenV4(), peer))}

	e.reapInSession(s, testnet.PeerLinkLocal, testnet.LocalLinkLocal, killed, kept, "--json", testnet.PeerLinkLocal.WithZone("").String())
}

// TestIntegrationSSHTmux: a first session starts a tmux server and logs out; a second
// session runs tcpreap in a new window of that server. The window's SSH_CONNECTION is the
// first session's (tmux gives its windows the environment of the session that started
// it), and the window's processes descend from the tmux server, not from the second
// session's sshd.
func TestIntegrationSSHTmux(t *testing.T) {
	e := setup(t)
	s := e.sshd()
	tmux, firstEnv := e.tmuxServer(s)
	firstClient, _, err := testnet.ParseSSHConnection(firstEnv)
	e.check(err)

	m := e.peerMix()
	run := newReapRun(s.Dir)
	windowEnv := filepath.Join(s.Dir, "window-ssh-connection")
	// A tmux window is a terminal, where tcpreap would ask: -y, as in a runbook.
	inWindow := `printf '%s\n' "$SSH_CONNECTION" >` + shq(windowEnv) + "; " + run.command("-y", "--json", testnet.PeerV4.String())
	session := e.startSession(s, testnet.LocalV4, sessionScript("tmux -S "+shq(tmux)+" new-window -d -t reap "+shq(inWindow)+" || exit 1"))
	self, secondEnv := e.connection(session, "the second session")

	e.check(session.Send("go"))
	res := e.awaitReap(run, session)
	b, err := os.ReadFile(windowEnv)
	e.check(err)
	if got := strings.TrimSpace(string(b)); got != firstEnv || got == secondEnv {
		t.Fatalf("tcpreap ran in the tmux window with SSH_CONNECTION=%q; the test needs the first session's %q (the second's is %q)", got, firstEnv, secondEnv)
	}
	e.expectSessionKept(res, session, sshOutcome{
		self:   self,
		killed: m.targets(),
		kept:   []conn{tcp("bystander", m.bystander)},
		// What is left of the first session (TIME_WAIT, if A closed first) may be
		// reported either way.
		ignore: []netip.AddrPort{netip.AddrPortFrom(firstClient.Addr().WithZone(""), firstClient.Port())},
	})
}

// reapInSession opens two sessions from B to the server at to: one that only waits (the
// same person's other session), and one that runs tcpreap with args. It checks that sshd
// gave the second the SSH_CONNECTION the test is about (client and to, zones included) and
// then the run: its own session kept and carrying data, the other session and killed cut,
// kept untouched.
func (e *env) reapInSession(s *testnet.SSHD, client, to netip.Addr, killed, kept []conn, args ...string) {
	e.t.Helper()
	other := e.startSession(s, to, waitingScript)
	run := newReapRun(s.Dir)
	session := e.startSession(s, to, sessionScript(run.command(args...)))
	otherConn, _ := e.connection(other, "another session of the same client")
	self, env := e.connection(session, "the session")
	if c, server, _ := testnet.ParseSSHConnection(env); c.Addr() != client || server.Addr() != to {
		e.t.Fatalf("sshd gave the session SSH_CONNECTION=%q; this test is about %s to %s", env, client, to)
	}
	e.check(session.Send("go"))
	e.expectSessionKept(e.awaitReap(run, session), session, sshOutcome{
		self:   self,
		killed: append(killed, otherConn),
		kept:   kept,
		cut:    []*testnet.Session{other},
	})
}

// sshd starts a real SSH server in host A; its log is shown when the test fails. A missing
// sshd, ssh or tmux fails the test: `make deps` installs them.
func (e *env) sshd() *testnet.SSHD {
	e.t.Helper()
	s, err := e.StartSSHD()
	e.check(err)
	t := e.t
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("sshd's log:\n%s", s.Log())
		}
	})
	return s
}

// startSession opens a session from B to the server at to, running script, which must
// first print "connection: $SSH_CONNECTION".
func (e *env) startSession(s *testnet.SSHD, to netip.Addr, script string) *testnet.Session {
	e.t.Helper()
	session, err := s.Session(to, script)
	e.check(err)
	return session
}

// connection waits for the session's SSH_CONNECTION line and returns the session's
// connection as A's kernel shows it, with the value of SSH_CONNECTION.
func (e *env) connection(session *testnet.Session, name string) (conn, string) {
	e.t.Helper()
	env, err := session.Await("connection: ")
	e.check(err)
	client, server, err := testnet.ParseSSHConnection(env)
	e.check(err)
	return e.kernelConn(name, server, client), env
}

// dialSSHD connects B to the server at to without logging in, waits until sshd has
// accepted it (its banner arrives), and returns the connection as A's kernel shows it.
func (e *env) dialSSHD(name string, to netip.Addr) conn {
	e.t.Helper()
	c, err := e.Dial(netip.AddrPortFrom(to, testnet.SSHPort))
	e.check(err)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	banner, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || !strings.HasPrefix(banner, "SSH-2.0-") {
		e.t.Fatalf("%s: sshd's banner: %q, %v", name, banner, err)
	}
	c.SetReadDeadline(time.Time{})
	return e.kernelConn(name, netip.AddrPortFrom(to, testnet.SSHPort), c.LocalAddr().(*net.TCPAddr).AddrPort())
}

// kernelConn is the established connection local→remote in A, with the cookie the kernel
// shows for it. Zones are dropped: the kernel keeps the interface apart from the address.
func (e *env) kernelConn(name string, local, remote netip.AddrPort) conn {
	e.t.Helper()
	local = netip.AddrPortFrom(local.Addr().WithZone(""), local.Port())
	remote = netip.AddrPortFrom(remote.Addr().WithZone(""), remote.Port())
	ss, err := e.Local.Await(name+" established", func(ss testnet.Sockets) bool {
		s, ok := ss.Find(local, remote)
		return ok && s.State == "established"
	})
	e.check(err)
	s, _ := ss.Find(local, remote)
	return conn{name, local, remote, s.Cookie}
}

// waitingScript is a session that only waits: another session of the same person.
const waitingScript = `printf 'connection: %s\n' "$SSH_CONNECTION"
read -r line`

// sessionScript is the session tcpreap runs in: it prints its SSH_CONNECTION, waits for a
// line from the test, runs run, then shows that it still carries data both ways by
// echoing a line the test sends.
func sessionScript(run string) string {
	return `printf 'connection: %s\n' "$SSH_CONNECTION"
read -r go || exit 1
` + run + `
read -r line || exit 1
printf 'echo: %s\n' "$line"`
}

// reapRun is one run of tcpreap inside an SSH session. Its output goes to files, not to
// the session: the session's own connection may be what the run cuts, and the test must
// still read what tcpreap said.
type reapRun struct{ stdout, stderr, code string }

func newReapRun(dir string) reapRun {
	return reapRun{filepath.Join(dir, "reap.out"), filepath.Join(dir, "reap.err"), filepath.Join(dir, "reap.code")}
}

// command is the shell command that runs tcpreap with args. The exit code file appears,
// by a rename, only once tcpreap has ended. The audit line goes to the suite's socket, as
// in every other test.
func (r reapRun) command(args ...string) string {
	argv := []string{"TCPREAP_SYSLOG_SOCKET=" + shq(os.Getenv("TCPREAP_SYSLOG_SOCKET")), shq(bin)}
	for _, a := range args {
		argv = append(argv, shq(a))
	}
	return fmt.Sprintf("%s >%s 2>%s; echo $? >%s && mv %s %s",
		strings.Join(argv, " "), shq(r.stdout), shq(r.stderr), shq(r.code+".new"), shq(r.code+".new"), shq(r.code))
}

// tmuxServer starts a tmux server (session "reap") from a first SSH session that then
// ends, as a person's earlier login did; it returns the server's socket and that
// session's SSH_CONNECTION, which tmux gives every later window.
func (e *env) tmuxServer(s *testnet.SSHD) (sock, sshConnection string) {
	e.t.Helper()
	sock = filepath.Join(s.Dir, "tmux")
	first := e.startSession(s, testnet.LocalV4, `printf 'connection: %s\n' "$SSH_CONNECTION"
tmux -S `+shq(sock)+` new-session -d -s reap`)
	sshConnection, err := first.Await("connection: ")
	e.check(err)
	res, err := first.Wait()
	e.check(err)
	if res.Code != 0 {
		e.t.Fatalf("the first session, which starts the tmux server: ssh exited %d (stderr %q)", res.Code, res.Stderr)
	}
	return sock, sshConnection
}

// sessionKept asserts that tcpreap's report gave self one of the actions in kept, and
// that the session still carries data both ways.
func (e *env) sessionKept(session *testnet.Session, self conn, res testnet.Result, kept ...string) {
	e.t.Helper()
	r, err := testnet.ParseReport(res.Stdout)
	e.check(err)
	for _, rec := range r.Sockets {
		if rec.Cookie == self.cookie && !slices.Contains(kept, rec.Action) {
			e.t.Errorf("%s (%s <- %s): tcpreap reported %q, want one of %q; stderr: %q", self.name, self.local, self.remote, rec.Action, kept, res.Stderr)
		}
	}
	if err := session.Send("ping"); err != nil {
		e.t.Errorf("%s was cut: %v", self.name, err)
	} else if _, err := session.Await("echo: "); err != nil {
		e.t.Errorf("%s was cut: %v", self.name, err)
	}
}

// awaitReap waits, ten seconds at most, for the run in session to end, and returns how it
// ended.
func (e *env) awaitReap(r reapRun, session *testnet.Session) testnet.Result {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, err := os.ReadFile(r.code)
		if err == nil {
			res := testnet.Result{Code: -1}
			if res.Code, err = strconv.Atoi(strings.TrimSpace(string(code))); err != nil {
				e.t.Fatalf("tcpreap's exit code file: %q", code)
			}
			out, err1 := os.ReadFile(r.stdout)
			errOut, err2 := os.ReadFile(r.stderr)
			e.check(err1)
			e.check(err2)
			res.Stdout, res.Stderr = string(out), string(errOut)
			e.t.Logf("tcpreap in the session → exit %d\nstdout:\n%sstderr:\n%s", res.Code, res.Stdout, res.Stderr)
			return res
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("tcpreap did not finish within 10s in the session (%s)", session.Status())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// sshOutcome is what a run inside an SSH session must have done.
type sshOutcome struct {
	self   conn               // the session tcpreap ran in: skipped, there, carrying data
	killed []conn             // the peer's other connections: killed and gone
	kept   []conn             // what the selection does not take: not reported, still there
	cut    []*testnet.Session // other sessions among killed, whose ssh clients must end
	ignore []netip.AddrPort   // remote ends whose sockets may be reported either way
}

// expectSessionKept checks a run inside the session against o, as tcpreap reported it, as
// A's kernel shows it afterwards, and as the ssh clients in B saw it. What the session
// itself went through comes first.
func (e *env) expectSessionKept(res testnet.Result, session *testnet.Session, o sshOutcome) {
	t := e.t
	t.Helper()
	if res.Code != 0 {
		t.Errorf("tcpreap in the session: exit %d, want 0 (stderr: %q)", res.Code, res.Stderr)
	}
	r, err := testnet.ParseReport(res.Stdout)
	if err != nil {
		t.Fatal(err)
	}
	records := map[uint64]testnet.Record{}
	for _, rec := range r.Sockets {
		records[rec.Cookie] = rec
	}
	switch rec, ok := records[o.self.cookie]; {
	case !ok:
		t.Errorf("%s (%s <- %s) is not in tcpreap's report", o.self.name, o.self.local, o.self.remote)
	case rec.Action != "skipped":
		t.Errorf("%s (%s <- %s): tcpreap reported %q, want skipped: it must keep the session it runs in", o.self.name, o.self.local, o.self.remote, rec.Action)
	case !strings.Contains(strings.ToLower(rec.Reason), "ssh"):
		t.Errorf("%s is skipped with reason %q, which does not say it is the ssh session", o.self.name, rec.Reason)
	}
	ss := e.sockets()
	expectPresent(t, ss, "established", o.self)
	// The session must still carry data both ways, as the ssh client in B sees it, and
	// end as the script does.
	if err := session.Send("ping"); err != nil {
		t.Errorf("%s was cut: %v", o.self.name, err)
	} else if got, err := session.Await("echo: "); err != nil {
		t.Errorf("%s was cut: %v", o.self.name, err)
	} else if got != "ping" {
		t.Errorf("%s echoed %q, want %q", o.self.name, got, "ping")
	} else if end, err := session.Wait(); err != nil || end.Code != 0 {
		t.Errorf("%s: ssh ended with code %d, want 0 (%v, stderr %q)", o.self.name, end.Code, err, end.Stderr)
	}

	for _, c := range o.killed {
		if rec, ok := records[c.cookie]; !ok || rec.Action != "killed" {
			t.Errorf("%s (%s <- %s): tcpreap reported %q (present: %v), want killed", c.name, c.local, c.remote, rec.Action, ok)
		}
	}
	known := append([]conn{o.self}, o.killed...)
	for _, rec := range r.Sockets {
		remote := netip.AddrPortFrom(rec.RemoteIP.Unmap().WithZone(""), rec.RemotePort)
		if slices.ContainsFunc(known, func(c conn) bool { return c.cookie == rec.Cookie }) || slices.Contains(o.ignore, remote) {
			continue
		}
		t.Errorf("tcpreap reported a socket the test did not plan for: %s %s %s -> %s %s", rec.Proto, rec.State, rec.Local(), rec.Remote(), rec.Action)
	}
	expectGone(t, ss, o.killed...)
	expectPresent(t, ss, "established", o.kept...)
	for _, c := range o.cut {
		if end, err := c.Wait(); err != nil {
			t.Errorf("another session was not cut: %v", err)
		} else if end.Code == 0 {
			t.Errorf("another session's ssh ended with code 0, want the broken connection's 255 (stderr %q)", end.Stderr)
		}
	}
}

// shq quotes s for the shell.
func shq(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// nestedSSH is the shell command that opens a session from A to A's own sshd (as
// `ssh root@localhost` does) and runs command in it.
func nestedSSH(s *testnet.SSHD, command string) string {
	key := filepath.Join(s.Dir, "client_key") // as StartSSHD writes it
	return strings.Join([]string{"ssh", "-F", "/dev/null", "-T", "-i", shq(key), "-o", "IdentitiesOnly=yes",
		"-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
		"-o", "GlobalKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
		"-p", fmt.Sprint(testnet.SSHPort), "root@" + testnet.LocalV4.String(), shq(command), "</dev/null"}, " ")
}

// TestIntegrationSSHNestedOuterSessionKept: a person logs in from B, then runs `ssh
// root@localhost` (to become root, or out of habit) and tcpreap in the inner session,
// naming B. The inner sshd is tcpreap's ancestor, the outer one is not, so the guard keeps
// the inner loopback connection and cuts the outer one, which carries the person: their
// whole login dies without --include-self.
func TestIntegrationSSHNestedOuterSessionKept(t *testing.T) {
	e := setup(t)
	s := e.sshd()
	run := newReapRun(s.Dir)
	outer := e.startSession(s, testnet.LocalV4, sessionScript(nestedSSH(s, run.command("-y", "--json", testnet.PeerV4.String()))))
	self, _ := e.connection(outer, "the outer session, which carries the person")
	e.check(outer.Send("go"))
	// Skipped: it carries the session tcpreap runs in.
	e.sessionKept(outer, self, e.awaitReap(run, outer), "skipped")
}

// TestIntegrationSSHClientAncestorKept: in the same nested login, the inner session's
// connection has two ends in A: sshd's, which the guard keeps, and the ssh client's (an
// ancestor of tcpreap too), which it does not. `tcpreap --dport 2022` cuts the client's
// end, and with it the session tcpreap runs in.
func TestIntegrationSSHClientAncestorKept(t *testing.T) {
	e := setup(t)
	s := e.sshd()
	run := newReapRun(s.Dir)
	script := `printf 'connection: %s\n' "$SSH_CONNECTION"
read -r go || exit 1
` + nestedSSH(s, run.command("-y", "--json", "--dport", fmt.Sprint(testnet.SSHPort))) + `
printf 'inner: %s\n' "$?"
read -r line || exit 1
printf 'echo: %s\n' "$line"`
	outer := e.startSession(s, testnet.LocalV4, script)
	e.connection(outer, "the outer session")
	e.check(outer.Send("go"))
	res := e.awaitReap(run, outer)
	inner, err := outer.Await("inner: ")
	e.check(err)
	if inner != "0" {
		t.Errorf("the inner ssh, an ancestor of tcpreap, ended with %s: tcpreap cut the session it ran in (report: %s)", inner, res.Stdout)
	}
}

// TestIntegrationSSHTmuxServersUnreadable: inside tmux (SSH_CONNECTION is an ended
// session's), run by root without CAP_SYS_PTRACE (a container, a hardened unit): the SSH
// servers' descriptors list but do not resolve (sshd is not dumpable), so no connection is
// known to be an SSH server's. The live session must still be kept (or the run refused):
// the first release cut it, with no warning at all.
func TestIntegrationSSHTmuxServersUnreadable(t *testing.T) {
	e := setup(t)
	s := e.sshd()
	tmux, _ := e.tmuxServer(s)

	run := newReapRun(s.Dir)
	inWindow := "setpriv --bounding-set=-sys_ptrace -- sh -c " + shq(run.command("-y", "--json", testnet.PeerV4.String()))
	session := e.startSession(s, testnet.LocalV4, sessionScript("tmux -S "+shq(tmux)+" new-window -d -t reap "+shq(inWindow)+" || exit 1"))
	self, _ := e.connection(session, "the live session")
	e.check(session.Send("go"))
	// Skipped, or the run refused (every socket "failed: not attempted").
	e.sessionKept(session, self, e.awaitReap(run, session), "skipped", "failed")
}

// TestIntegrationSSHScreenShared: GNU screen's server (SCREEN) is a child of the screen
// client that started it, for as long as that client stays attached. A person whose first
// session still holds the screen (a laptop that changed networks, another terminal) joins
// it from a second session with `screen -x`: tcpreap in a screen window has the first
// session's sshd among its ancestors, keeps that one, and cuts the second, live session.
// STY says this is a multiplexer: every SSH server's connections must be kept.
func TestIntegrationSSHScreenShared(t *testing.T) {
	if _, err := exec.LookPath("screen"); err != nil {
		t.Fatal("this test needs GNU screen (Debian's screen): make deps must install it")
	}
	e := setup(t)
	s := e.sshd()
	sock := filepath.Join(s.Dir, "screen")
	e.check(os.MkdirAll(sock, 0o700))
	screenEnv := "SCREENDIR=" + shq(sock) + " "
	// The first session stays attached: script(1) gives screen its terminal.
	first := e.startSession(s, testnet.LocalV4, `printf 'connection: %s\n' "$SSH_CONNECTION"
`+screenEnv+`TERM=xterm script -qfc 'screen -S reap' /dev/null`)
	_, err := first.Await("connection: ")
	e.check(err)

	run := newReapRun(s.Dir)
	inWindow := screenEnv + "screen -S reap -X screen sh -c " + shq(run.command("-y", "--json", testnet.PeerV4.String()))
	wait := "for i in $(seq 100); do " + screenEnv + "screen -ls reap >/dev/null && break; sleep 0.05; done; "
	session := e.startSession(s, testnet.LocalV4, sessionScript(wait+inWindow+" || exit 1"))
	self, _ := e.connection(session, "the live session (joined with screen -x)")
	e.check(session.Send("go"))
	e.sessionKept(session, self, e.awaitReap(run, session), "skipped")
}

// TestIntegrationSSHTmuxConntrack: host A tracks its connections and drops what conntrack
// calls invalid (nf_conntrack_tcp_loose=0), as a router or a hardened host does. Inside
// tmux, whose SSH_CONNECTION names an earlier, ended session, `tcpreap conntrack` naming
// the client must keep the entry of the live session too, as it keeps its socket: deleting
// it makes the session's next packet invalid, and the session stops.
func TestIntegrationSSHTmuxConntrack(t *testing.T) {
	e := setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	nft := e.Local.Command(ctx, "nft", "-f", "-")
	nft.Stdin = strings.NewReader("table inet tcpreap_test {\n\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n\t\tct state invalid drop\n\t}\n}\n")
	if out, err := nft.CombinedOutput(); err != nil {
		t.Fatalf("nft -f in %s: %v: %s", e.Local.Name, err, out)
	}
	e.check(e.Local.Do(func() error {
		return os.WriteFile("/proc/sys/net/netfilter/nf_conntrack_tcp_loose", []byte("0"), 0o644)
	}))
	s := e.sshd()
	tmux, _ := e.tmuxServer(s)
	run := newReapRun(s.Dir)
	inWindow := run.command("conntrack", "-y", "--json", testnet.PeerV4.String())
	session := e.startSession(s, testnet.LocalV4, sessionScript("tmux -S "+shq(tmux)+" new-window -d -t reap "+shq(inWindow)+" || exit 1"))
	self, _ := e.connection(session, "the live session")
	e.check(session.Send("go"))
	res := e.awaitReap(run, session)
	rep, err := testnet.ParseFlowReport(res.Stdout)
	e.check(err)
	i := slices.IndexFunc(rep.Flows, func(f testnet.FlowRecord) bool {
		return f.Proto == "tcp" && f.OrigSrcIP == self.remote.Addr().String() && f.OrigSrcPort == self.remote.Port() &&
			f.OrigDstIP == self.local.Addr().String() && f.OrigDstPort == self.local.Port()
	})
	if i < 0 {
		t.Errorf("the live session's entry (%s -> %s) is not in the report", self.remote, self.local)
	} else if rec := rep.Flows[i]; rec.Action != "skipped" || !strings.Contains(strings.ToLower(rec.Reason), "ssh") {
		t.Errorf("the live session's entry: %s %q, want skipped for the ssh session", rec.Action, rec.Reason)
	}
	if err := session.Send("ping"); err != nil {
		t.Errorf("the live session was cut: %v", err)
	} else if _, err := session.Await("echo: "); err != nil {
		t.Errorf("the live session was cut: %v", err)
	}
}

// TestIntegrationSSHProxyJumpKept: a person reaches A with ssh -J through A itself (a
// bastion that is also the target): the outer connection, from B to A, is held by the
// sshd that serves the jump and forwards the inner connection, which the session's own
// sshd serves. tcpreap in the inner session, naming B, must keep the outer connection
// (it carries the person) as it keeps the inner one.
func TestIntegrationSSHProxyJumpKept(t *testing.T) {
	e := setup(t)
	s := e.sshd()
	m := e.peerMix()
	run := newReapRun(s.Dir)
	session, err := s.SessionVia(testnet.LocalV4, testnet.LocalV4, sessionScript(run.command("-y", "--json", testnet.PeerV4.String())))
	e.check(err)
	e.connection(session, "the inner session")
	before := e.sockets()
	var outer []conn
	for _, sk := range before {
		if sk.State == "established" && sk.Local == netip.AddrPortFrom(testnet.LocalV4, testnet.SSHPort) && sk.Remote.Addr() == testnet.PeerV4 {
			outer = append(outer, conn{"the outer connection, from B through the jump", sk.Local, sk.Remote, sk.Cookie})
		}
	}
	if len(outer) != 1 {
		t.Fatalf("%d connections from B to sshd, want the one outer connection", len(outer))
	}
	e.check(session.Send("go"))
	res := e.awaitReap(run, session)
	e.sessionKept(session, outer[0], res, "skipped")
	// Kept as the session's own, not only by a fallback that keeps every connection
	// on the SSH port (which a process whose open files cannot be read may set off).
	r, err := testnet.ParseReport(res.Stdout)
	e.check(err)
	for _, rec := range r.Sockets {
		if rec.Cookie == outer[0].cookie && !strings.HasPrefix(rec.Reason, "protects the ssh session") {
			t.Errorf("the outer connection was kept with %q, want it kept as the session's", rec.Reason)
		}
	}
	expectGone(t, e.sockets(), m.targets()...)
}
