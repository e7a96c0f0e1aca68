// Guards: what keeps tcpreap from destroying what it should not. The SSH session it runs in,
// --max, the confirmation on a terminal, bad words and a run with no selector (refused
// before anything is destroyed), and a destroy without CAP_NET_ADMIN.

package integration

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"

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
	web := e.listenV4()
	client := netip.AddrPortFrom(testnet.PeerV4, 47201)
	session := e.inbound(sshd, client)
	if !session.LocalAddr().Addr().Is4In6() {
		t.Fatalf("the session's local address %s is not v4-mapped; the test would not check the unmapping", session.LocalAddr())
	}
	self := tcp("session", session)
	ssh := testnet.SSHConnection(session)
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
		e := e.sub(t)
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
			e := e.sub(t)
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
		e := e.sub(t)
		client6 := netip.AddrPortFrom(testnet.PeerV6, 47202)
		session6 := e.inbound(sshd, client6)
		other6 := e.inbound(sshd, netip.AddrPortFrom(testnet.PeerV6, 0))
		ssh6 := testnet.SSHConnection(session6)
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
		e := e.sub(t)
		killed := neighbours()
		plan := e.plan(p)
		file := e.writePlan(plan)
		_, r, _, err := testnet.ParsePlan(plan)
		e.check(err)
		expectRecords(t, r, "would_kill", append(killed, self)...)
		expectGuarded(t, e.decode(e.tcpreapEnv([]string{ssh}, "apply", "--json", file), 0), killed)
	})

	t.Run("applying a plan made inside the session", func(t *testing.T) {
		e := e.sub(t)
		killed := neighbours()
		res := e.tcpreapEnv([]string{ssh}, "plan", p)
		if res.Code != 0 {
			t.Fatalf("plan: exit %d", res.Code)
		}
		_, r, _, err := testnet.ParsePlan(res.Stdout)
		e.check(err)
		expectActions(t, r, map[string][]conn{"would_kill": killed, "skipped": {self}})
		file := e.writePlan(res.Stdout)
		// Applied without SSH_CONNECTION, the plan still destroys only what it planned.
		expectGuarded(t, e.decode(e.tcpreap("apply", "--json", file), 0), killed)
	})

	t.Run("--include-self", func(t *testing.T) {
		e := e.sub(t)
		killed := append(neighbours(), self)
		r := e.decode(e.tcpreapEnv([]string{ssh}, "--json", "--include-self", p), 0)
		expectRecords(t, r, "killed", killed...)
		expectGone(t, e.sockets(), killed...)
		expectAborted(t, "session", session.Local)
		expectReset(t, "session", session.Peer)
	})
}

// TestIntegrationMax checks --max N: a plan with more than N targets destroys nothing,
// exits 3 and says how many it would have destroyed; exactly N goes ahead. It counts
// targets, not matches: a socket a guard keeps back (here the SSH session) is not one.
func TestIntegrationMax(t *testing.T) {
	e := setup(t)
	l := e.listenV4()
	session := e.inbound(l, peer)
	others := e.peerSet(l, 2).conns()
	bystander := tcp("other peer", e.inbound(l, otherPeer))
	ssh := testnet.SSHConnection(session)
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
			e := e.sub(t)
			res := e.tcpreapEnv(c.vars, "--json", "--max", c.max, p)
			e.expectNothingDestroyed(res, 3, before)
			if !strings.HasPrefix(res.Stderr, c.msg) {
				t.Errorf("stderr %q, want it to start %q", res.Stderr, c.msg)
			}
		})
	}

	// A dry run applies --max as the real run would, so a runbook line can be rehearsed:
	// the same exit and sentence, after the plan it refuses (its JSON summary says why);
	// plan writes no plan file, which apply would carry out.
	for _, args := range [][]string{{"-n", "--max", "3", p}, {"list", "--max", "3", p}, {"plan", "--max", "3", p}, {"-n", "--max", "003", p}, {"list", "--json", "--max", "3", p}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			e := e.sub(t)
			res := e.tcpreap(args...)
			e.expectNothingDestroyed(res, 3, before)
			want := "tcpreap: 4 sockets would be destroyed, more than --max 3; nothing was destroyed"
			if !strings.HasPrefix(res.Stderr, want) {
				t.Errorf("stderr %q, want %q", res.Stderr, want)
			}
			switch {
			case args[0] == "plan" && res.Stdout != "":
				t.Errorf("plan over --max wrote %q", res.Stdout)
			case args[0] != "plan" && slices.Contains(args, "--json"):
				r, err := testnet.ParseReport(res.Stdout)
				if err != nil || len(r.Sockets) != 4 || !strings.Contains(res.Stdout, `"refused":"4 sockets would be destroyed, more than --max 3`) {
					t.Errorf("%v: %d sockets, %v, stdout %q; want the 4 planned and the summary saying why it was refused", args, len(r.Sockets), err, res.Stdout)
				}
			case args[0] != "plan" && !strings.Contains(res.Stdout, "4 would be destroyed"):
				t.Errorf("%v: stdout %q, want the plan that is refused", args, res.Stdout)
			}
		})
	}
	// A real run refused by --max, with --json, still ends in its summary object.
	if res := e.tcpreap("-y", "--json", "--max", "3", p); res.Code != 3 || !strings.Contains(res.Stdout, `"refused":"4 sockets would be destroyed`) || !strings.Contains(res.Stdout, `"would_kill":4`) {
		t.Errorf("-y --json --max 3: exit %d, stdout %q; want 3 and the summary with why", res.Code, res.Stdout)
	}
	expectUnchanged(t, before, e.sockets())
	if r := e.json(0, "list", "--max", "4", p); len(r.Sockets) != 4 {
		t.Errorf("list --max 4 of 4 targets: %d sockets listed", len(r.Sockets))
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

// TestIntegrationConfirm drives the confirmation through a pseudo-terminal, as a person at
// a terminal sees it: the plan's summary and "destroy N sockets? [y/N] " on the terminal.
// Declining (n, an empty line, any other word, end of file; also for apply) destroys
// nothing and exits 3; y and yes destroy; -y, or a stdin or stderr that is not a terminal,
// destroys without asking; a plan with nothing to destroy asks nothing.
func TestIntegrationConfirm(t *testing.T) {
	e := setup(t)
	l := e.listenV4()
	bystander := e.inbound(l, otherPeer)
	p := testnet.PeerV4.String()

	// fresh makes the connections each case works on: two ESTABLISHED and one CLOSE_WAIT.
	fresh := func(t *testing.T) peerSet {
		t.Helper()
		return e.sub(t).peerSet(l, 2)
	}
	expectDestroyed := func(t *testing.T, s peerSet) {
		t.Helper()
		ss := e.sockets()
		expectGone(t, ss, s.conns()...)
		expectPresent(t, ss, "established", tcp("bystander", bystander))
		expectReset(t, "established", s.established[0].Peer)
	}
	expectKept := func(t *testing.T, s peerSet, before testnet.Sockets) {
		t.Helper()
		expectUnchanged(t, before, e.sockets())
		for _, q := range s.established {
			if err := testnet.Echo(q); err != nil {
				t.Errorf("a connection no longer carries data: %v", err)
			}
		}
	}

	for _, c := range []struct {
		name, prompt, answer string
	}{
		{"n", "destroy 3 sockets? [y/N] ", "n\n"},
		{"an empty line (the default)", "destroy 3 sockets? [y/N] ", "\n"},
		{"anything else", "destroy 3 sockets? [y/N] ", "yess\n"},
		// ^D at the start of a line is end of file; one socket, so "socket".
		{"end of file", "destroy 1 socket? [y/N] ", "\x04"},
	} {
		t.Run("declined: "+c.name, func(t *testing.T) {
			s := fresh(t)
			before := e.sockets()
			args := []string{p}
			if strings.Contains(c.prompt, " 1 socket?") {
				args = []string{"--state", "close_wait", p}
			}
			term := startPTY(t, e.Local, args...)
			summary := term.await(c.prompt)
			if !strings.Contains(summary, p) {
				t.Errorf("the summary before the prompt does not name the peer %s:\n%s", p, summary)
			}
			term.send(c.answer)
			code, out := term.wait()
			if code != 3 {
				t.Errorf("exit %d, want 3", code)
			}
			if !strings.Contains(out, "tcpreap: not confirmed; nothing was destroyed") {
				t.Errorf("the terminal does not say \"tcpreap: not confirmed; nothing was destroyed\":\n%s", out)
			}
			expectKept(t, s, before)
			// Clean up for the next case, without a terminal: no prompt.
			expectRecords(t, e.sub(t).json(0, p), "killed", s.conns()...)
		})
	}

	t.Run("declined: apply", func(t *testing.T) {
		s := fresh(t)
		e := e.sub(t)
		file := e.writePlan(e.plan(p))
		before := e.sockets()
		term := startPTY(t, e.Local, "apply", file)
		term.await("destroy 3 sockets? [y/N] ")
		term.send("n\n")
		if code, _ := term.wait(); code != 3 {
			t.Errorf("exit %d, want 3", code)
		}
		expectKept(t, s, before)
		expectRecords(t, e.json(0, p), "killed", s.conns()...)
	})

	t.Run("nothing to destroy: no question", func(t *testing.T) {
		before := e.sockets()
		term := startPTY(t, e.Local, p) // every connection with the peer is gone
		code, out := term.wait()
		if code != 0 || strings.Contains(out, "[y/N]") {
			t.Errorf("exit %d, want 0 and no prompt", code)
		}
		expectUnchanged(t, before, e.sockets())
	})

	for _, answer := range []string{"y", "yes"} {
		t.Run("confirmed: "+answer, func(t *testing.T) {
			s := fresh(t)
			term := startPTY(t, e.Local, p)
			term.await("destroy 3 sockets? [y/N] ")
			term.send(answer + "\n")
			if code, _ := term.wait(); code != 0 {
				t.Errorf("exit %d, want 0", code)
			}
			expectDestroyed(t, s)
		})
	}

	t.Run("-y on a terminal", func(t *testing.T) {
		s := fresh(t)
		term := startPTY(t, e.Local, "-y", p)
		code, out := term.wait()
		if code != 0 || strings.Contains(out, "[y/N]") {
			t.Errorf("exit %d, want 0 and no prompt:\n%s", code, out)
		}
		expectDestroyed(t, s)
	})

	t.Run("no terminal", func(t *testing.T) {
		s := fresh(t)
		res := e.sub(t).tcpreap(p) // stdin is /dev/null
		if res.Code != 0 || strings.Contains(res.Stderr, "[y/N]") {
			t.Errorf("exit %d, want 0 and no prompt; stderr:\n%s", res.Code, res.Stderr)
		}
		expectDestroyed(t, s)
	})

	// tcpreap asks whenever stdin is a terminal, on the controlling terminal, also when its
	// output goes to a pipe (2>&1 | tee log); without a controlling terminal, or when stdin
	// is no terminal, it never asks.
	for _, c := range []struct {
		name  string
		stdin bool // the pty is stdin; else stderr, and stdin is /dev/null
		ctty  bool // the pty is the controlling terminal
		asks  bool
	}{
		{"stdin the controlling terminal, stdout and stderr a pipe", true, true, true},
		{"stdin a terminal, but no controlling terminal", true, false, false},
		{"stderr a terminal, stdin not", false, true, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := fresh(t)
			ptmx, tty, err := pty.Open()
			if err != nil {
				t.Fatal(err)
			}
			defer ptmx.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			cmd := e.Local.Command(ctx, bin, p)
			var out bytes.Buffer // stdout and stderr, when they are not the terminal
			cmd.Stdout, cmd.Stdin, cmd.Stderr = &out, tty, &out
			if !c.stdin {
				cmd.Stdin, cmd.Stderr = nil, tty // nil: /dev/null
			}
			cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: c.ctty, Ctty: 0}
			if !c.stdin {
				cmd.SysProcAttr.Ctty = 2
			}
			var screen bytes.Buffer
			asked := make(chan struct{})
			go func() {
				buf := make([]byte, 4096)
				for {
					n, err := ptmx.Read(buf)
					screen.Write(buf[:n])
					if strings.Contains(screen.String(), "[y/N] ") {
						close(asked)
						ptmx.Write([]byte("y\n"))
						io.Copy(io.Discard, ptmx)
						return
					}
					if err != nil {
						return
					}
				}
			}()
			err = cmd.Run()
			tty.Close()
			t.Logf("%s → output:\n%s", strings.Join(cmd.Args, " "), out.String())
			var ee *exec.ExitError
			if err != nil && !errors.As(err, &ee) || ctx.Err() != nil {
				t.Fatalf("%v (it waited for an answer?); output:\n%s", err, out.String())
			}
			if code := cmd.ProcessState.ExitCode(); code != 0 {
				t.Errorf("exit %d, want 0; output:\n%s", code, out.String())
			}
			select {
			case <-asked:
				if !c.asks {
					t.Errorf("it asked on the terminal, and should not have")
				}
			default:
				if c.asks {
					t.Errorf("it did not ask on the controlling terminal")
				}
			}
			expectDestroyed(t, s)
		})
	}
}

// TestIntegrationBadInput checks that bad words stop tcpreap before it destroys anything:
// exit 2 and one line on stderr that names the problem. Each case but the last two also
// names a valid peer, so a parser that quietly dropped the bad word would destroy the
// sockets with 192.0.2.2, and the kernel's view would show it.
func TestIntegrationBadInput(t *testing.T) {
	e := setup(t)
	in := e.peerSet(e.listenV4(), 1).established[0]
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
		// A selector that means more than it says: an unspecified peer selects no
		// connection, and a selector that takes in everything is no selector.
		{[]string{"--state", "all", "0.0.0.0"}, "0.0.0.0 is no peer"},
		{[]string{"--state", "all", "::"}, ":: is no peer"},
		{[]string{"--state", "all", "[::]:5432"}, ":: is no peer"},
		{[]string{"--port", "0-65535"}, "--all"},
		{[]string{"0.0.0.0/0", "::/0"}, "--all"},
		{[]string{"--local", "::/0", "--local", "0.0.0.0/0"}, "--all"},
		{[]string{"--state", "connected"}, "--all"},
		{[]string{"--state", "established,syn_sent,syn_recv,fin_wait1,fin_wait2,time_wait,close,close_wait,last_ack,closing"}, "--all"},
		{[]string{"--sport", "1-30000", "--sport", "30001-65535"}, "--all"},
	} {
		t.Run(strings.Join(append([]string{"tcpreap"}, c.args...), " "), func(t *testing.T) {
			e := e.sub(t)
			res := e.tcpreap(c.args...)
			e.expectNothingDestroyed(res, 2, before)
			msg := strings.TrimSuffix(res.Stderr, "\n")
			if !strings.HasPrefix(msg, "tcpreap: ") || strings.Contains(msg, "\n") {
				t.Errorf("stderr %q, want one line starting with \"tcpreap: \"", res.Stderr)
			}
			if !strings.Contains(msg, c.mention) {
				t.Errorf("stderr %q does not mention %q", res.Stderr, c.mention)
			}
		})
	}
	if err := testnet.Echo(in); err != nil {
		t.Errorf("the connection no longer carries data: %v", err)
	}
}

// TestIntegrationWidePeersSpareListeners: a peer selector as wide as it gets, with --all
// and every state, still takes in connections only: the listener, which has no peer, lives.
func TestIntegrationWidePeersSpareListeners(t *testing.T) {
	e := setup(t)
	l := e.listenV4()
	s := e.peerSet(l, 2)
	r := e.json(0, "--all", "--state", "all", "0.0.0.0/0", "::/0")
	expectRecords(t, r, "killed", s.conns()...)
	ss := e.sockets()
	expectGone(t, ss, s.conns()...)
	expectListening(t, ss, l)
}

// nobody runs the rest of the command line as uid/gid 65534 with no capabilities at all.
var nobody = []string{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all"}

// TestIntegrationUnprivileged checks that listing needs no privilege (socket dumps are open
// to everyone) and that a destroy without CAP_NET_ADMIN fails with a sentence that says so,
// exit 1, and leaves every socket alone.
func TestIntegrationUnprivileged(t *testing.T) {
	e := setup(t)
	s := e.peerSet(e.listenV4(), 1)
	targets := s.conns()
	before := e.sockets()

	r := e.decode(e.run(e.Local, slices.Concat(nobody, []string{bin, "list", "--json", testnet.PeerV4.String()})...), 0)
	expectRecords(t, r, "would_kill", targets...)
	for _, rec := range r.Sockets {
		if rec.UID != 0 {
			t.Errorf("%+v: uid %d, want 0 (the sockets are root's, whoever lists them)", rec, rec.UID)
		}
	}

	res := e.run(e.Local, slices.Concat(nobody, []string{bin, testnet.PeerV4.String()})...)
	e.expectNothingDestroyed(res, 1, before)
	if !strings.HasPrefix(res.Stderr, "tcpreap: ") || !strings.Contains(res.Stderr, "needs CAP_NET_ADMIN") {
		t.Errorf("destroy as nobody: stderr %q, want a tcpreap: line saying it needs CAP_NET_ADMIN", res.Stderr)
	}
	if err := testnet.Echo(s.established[0]); err != nil {
		t.Errorf("the connection no longer carries data: %v", err)
	}
}

// ptyRun is tcpreap running in a host with a pseudo-terminal as its stdin, stdout and
// stderr, its controlling terminal.
type ptyRun struct {
	t     *testing.T
	cmd   *exec.Cmd
	ptmx  *os.File
	mu    sync.Mutex
	out   bytes.Buffer  // everything the terminal showed, our echoed answers included
	more  chan struct{} // a token after each read
	done  chan struct{} // closed when the terminal has no more to read
	ended bool
}

// startPTY starts tcpreap with args in h on a new pseudo-terminal. Cleanup kills it if the
// test did not wait for it.
func startPTY(t *testing.T, h *testnet.Host, args ...string) *ptyRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	cmd := h.Command(ctx, append([]string{bin}, args...)...)
	ptmx, err := pty.Start(cmd)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	r := &ptyRun{t: t, cmd: cmd, ptmx: ptmx, more: make(chan struct{}, 1), done: make(chan struct{})}
	go func() {
		defer close(r.done)
		buf := make([]byte, 4096)
		for {
			n, err := ptmx.Read(buf)
			r.mu.Lock()
			r.out.Write(buf[:n])
			r.mu.Unlock()
			select {
			case r.more <- struct{}{}:
			default:
			}
			if err != nil { // EIO once tcpreap has exited and closed the terminal
				return
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		if !r.ended {
			cmd.Wait()
		}
		ptmx.Close()
	})
	return r
}

func (r *ptyRun) output() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.out.String()
}

// await waits until the terminal shows s, and returns what it showed before s.
func (r *ptyRun) await(s string) string {
	r.t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		out := r.output()
		if before, _, ok := strings.Cut(out, s); ok {
			return before
		}
		select {
		case <-r.more:
		case <-r.done:
			r.t.Fatalf("tcpreap ended without showing %q; the terminal showed:\n%s", s, r.output())
		case <-timeout:
			r.t.Fatalf("the terminal did not show %q within 5 s; it showed:\n%s", s, r.output())
		}
	}
}

// send types s on the terminal.
func (r *ptyRun) send(s string) {
	r.t.Helper()
	if _, err := r.ptmx.Write([]byte(s)); err != nil {
		r.t.Fatal(err)
	}
}

// wait waits for tcpreap to exit and returns its exit code and all the terminal showed.
func (r *ptyRun) wait() (int, string) {
	r.t.Helper()
	err := r.cmd.Wait()
	r.ended = true
	<-r.done
	out := r.output()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		r.t.Fatalf("%v; the terminal showed:\n%s", err, out)
	}
	if ws, ok := r.cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		r.t.Fatalf("tcpreap was killed by %v (waiting for an answer?); the terminal showed:\n%s", ws.Signal(), out)
	}
	r.t.Logf("%s on a terminal → exit %d; the terminal showed:\n%s", strings.Join(r.cmd.Args, " "), r.cmd.ProcessState.ExitCode(), out)
	return r.cmd.ProcessState.ExitCode(), out
}

// TestIntegrationSessionGuardPIDNamespace: a shell in a PID namespace of its own with a
// clean environment (unshare --pid --mount-proc env -i, a container's shell reached
// over SSH) has an ancestry that ends out of sight: the SSH server above it cannot be
// seen and nothing names the session. Every TCP connection on the SSH port is kept
// back, with its reason; the others are destroyed; --include-self destroys them too.
// The same run outside a PID namespace of its own (cron, systemd) is no SSH session.
func TestIntegrationSessionGuardPIDNamespace(t *testing.T) {
	e := setup(t)
	sshPort := e.listen(e.Local, netip.AddrPortFrom(testnet.LocalV4, 22))
	other := e.listenV4()
	p := testnet.PeerV4.String()
	hidden := func(args ...string) []string {
		return slices.Concat([]string{"unshare", "--pid", "--fork", "--mount-proc", "--kill-child", "env", "-i", bin}, args)
	}

	session := tcp("a connection on the SSH port", e.inbound(sshPort, netip.AddrPortFrom(testnet.PeerV4, 0)))
	doomed := tcp("another connection", e.inbound(other, netip.AddrPortFrom(testnet.PeerV4, 0)))
	r := e.decode(e.run(e.Local, hidden("-y", "--json", p)...), 0)
	expectActions(t, r, map[string][]conn{"killed": {doomed}, "skipped": {session}})
	for _, s := range r.Sockets {
		if s.Action == "skipped" && !strings.Contains(s.Reason, "PID namespace of its own") {
			t.Errorf("kept back with %q, want the reason", s.Reason)
		}
	}
	expectPresent(t, e.sockets(), "established", session)

	r = e.decode(e.run(e.Local, hidden("-y", "--json", "--include-self", p)...), 0)
	expectActions(t, r, map[string][]conn{"killed": {session}})

	// Outside a PID namespace of its own, with a clean environment: no session.
	again := tcp("a connection on the SSH port", e.inbound(sshPort, netip.AddrPortFrom(testnet.PeerV4, 0)))
	r = e.decode(e.run(e.Local, "env", "-i", bin, "-y", "--json", p), 0)
	expectActions(t, r, map[string][]conn{"killed": {again}})
}
