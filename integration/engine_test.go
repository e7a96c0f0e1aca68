// The engine behind a run: many targets batched over several netlink sockets at once, and
// the cookie that keeps a destroy planned for one socket off another that took its
// four-tuple. TestIntegrationCookieSafety drives the sockdiag and kill packages directly.

package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tcpreap/tcpreap/inet"
	"github.com/tcpreap/tcpreap/kill"
	"github.com/tcpreap/tcpreap/sockdiag"

	"github.com/tcpreap/tcpreap/integration/testnet"
)

// TestIntegrationManyTargets destroys more targets than one batch holds, so
// that batches go out on several netlink sockets at once: every target gets
// its own result, the kernel shows none of them afterwards, and the
// connections with another peer survive.
func TestIntegrationManyTargets(t *testing.T) {
	e := setup(t)
	l := e.listenV4()
	const n = 300 // more than two batches of 128
	doomed := make([]conn, 0, n)
	for range n {
		doomed = append(doomed, tcp("inbound", e.inbound(l, peer)))
	}
	other := e.inbound(l, otherPeer)

	r := e.json(0, testnet.PeerV4.String())
	expectRecords(t, r, "killed", doomed...)
	if want := (testnet.Summary{Matched: n, Killed: n}); r.Summary != want {
		t.Errorf("summary %+v, want %+v", r.Summary, want)
	}
	ss := e.sockets()
	expectGone(t, ss, doomed...)
	expectPresent(t, ss, "established", tcp("other peer", other))
	expectListening(t, ss, l)
}

// TestIntegrationCookieSafety is the race that the cookie guards against: tcpreap plans to
// destroy a socket, the socket closes, and a new connection takes the same four-tuple
// before the destroy is sent. A destroy carrying the old cookie must answer ENOENT ("gone")
// and touch neither the new socket nor the listener.
func TestIntegrationCookieSafety(t *testing.T) {
	e := setup(t)
	l := e.listen(e.Local, netip.AddrPortFrom(testnet.LocalV4, 0))
	// B dials from a fixed port so that the next connection can land on the same tuple.
	old := e.inbound(l, netip.AddrPortFrom(testnet.PeerV4, 47001))

	plan := e.json(0, "list", old.RemoteAddr().String())
	expectRecords(t, plan, "would_kill", tcp("old", old))

	// The same plan through the library, held across the swap below: the
	// binary cannot be stopped between planning and destroying until plan
	// files exist.
	ns, err := os.Open("/run/netns/" + e.Local.Name)
	e.check(err)
	defer ns.Close()
	conn, err := sockdiag.Dial(&sockdiag.Config{NetNS: int(ns.Fd())})
	e.check(err)
	defer conn.Close()
	peer, err := inet.ParsePrefix(old.RemoteAddr().Addr().String())
	e.check(err)
	filter := &sockdiag.Filter{Peers: []inet.Endpoint{{Prefix: peer, Ports: []inet.PortRange{{Lo: 47001, Hi: 47001}}}}}
	goPlan, err := kill.NewPlan(conn.Query(t.Context(), filter), kill.Guards{})
	e.check(err)
	if len(goPlan.Targets) != 1 || uint64(goPlan.Targets[0].ID.Cookie) != old.Cookie {
		t.Fatalf("the library planned %+v, want the one socket with cookie %d", goPlan.Targets, old.Cookie)
	}

	reborn, err := e.Reincarnate(l, old)
	e.check(err)
	if reborn.Cookie == old.Cookie {
		t.Fatalf("the new connection has the old cookie %d; the test cannot tell them apart", old.Cookie)
	}
	ss := e.sockets()
	expectPresent(t, ss, "established", tcp("reborn", reborn))
	if _, ok := ss.Cookie(old.Cookie); ok {
		t.Errorf("the old socket (cookie %d) is still in the kernel", old.Cookie)
	}
	// A fresh plan names the new socket, not the one the kernel no longer has.
	expectRecords(t, e.json(0, "list", old.RemoteAddr().String()), "would_kill", tcp("reborn", reborn))

	results := goPlan.Execute(t.Context(), conn)
	if len(results) != 1 || results[0].Action != inet.Gone {
		t.Fatalf("executing the stale plan: %+v, want one result: gone", results)
	}
	expectPresent(t, e.sockets(), "established", tcp("reborn", reborn))
	expectListening(t, e.sockets(), l)
}

// TestIntegrationStalePlanUnprivileged applies, without CAP_NET_ADMIN, a plan whose first
// 300 targets have closed since it was made. The kernel answers ENOENT for those (it looks
// a socket up before it checks the permission), so the engine learns of the missing
// permission only in its parallel phase. Every other target must then be failed, with
// the permission said once: none may be reported killed, nor "still present after
// destroy" with the sentence about kernels before 6.11, since none was destroyed. Found
// in review: the batches the parallel workers skip after the EPERM keep a nil error.
func TestIntegrationStalePlanUnprivileged(t *testing.T) {
	e := setup(t)
	l := e.listenV4()
	const n, closed = 1200, 300
	pairs := map[netip.AddrPort]testnet.Pair{}
	for range n {
		p := e.inbound(l, peer)
		pairs[p.RemoteAddr()] = p
	}
	text := e.plan(testnet.PeerV4.String())
	_, planned, _, err := testnet.ParsePlan(text)
	e.check(err)
	for _, rec := range planned.Sockets[:closed] {
		p, ok := pairs[rec.Remote()]
		if !ok {
			t.Fatalf("planned socket %v is none of the test's", rec.Remote())
		}
		e.check(p.Local.SetLinger(0)) // a reset: the socket is gone at once
		e.check(p.Local.Close())
	}
	dir, err := os.MkdirTemp("", "tcpreap-stale-plan-") // readable by nobody, unlike t.TempDir
	e.check(err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	e.check(os.Chmod(dir, 0o755))
	file := filepath.Join(dir, "plan")
	e.check(os.WriteFile(file, []byte(text), 0o644))

	res := e.run(e.Local, slices.Concat(nobody, []string{bin, "apply", "--json", "--no-audit", file})...)
	r := e.decode(res, 1)
	wrong := map[string]int{}
	for _, rec := range r.Sockets {
		if rec.Action == "killed" || strings.Contains(rec.Error, "still present") {
			wrong[rec.Action+" "+rec.Error]++
		}
	}
	if len(wrong) > 0 {
		t.Errorf("unprivileged apply of a stale plan: %v; want %d gone and the rest failed for want of CAP_NET_ADMIN", wrong, closed)
	}
	if strings.Contains(res.Stderr, "accepted some destroys") {
		t.Errorf("stderr blames ineffective destroys that were never sent: %q", res.Stderr)
	}
}

// TestIntegrationInterrupt sends SIGINT in the middle of a reap of 20,000 sockets, slowed
// down by strace so that the signal lands halfway: no destroy goes out after it, the ones
// sent are verified, the report names every socket once (each killed one is gone, each not
// attempted one is alive), the audit line is written, and the exit code is 130.
func TestIntegrationInterrupt(t *testing.T) {
	e := setup(t)
	heavy.Lock() // one mass of sockets at a time: each churns the hash the others dump
	defer heavy.Unlock()
	const n = 20000
	l := e.listen(e.Local, netip.MustParseAddrPort("192.0.2.1:7000"))
	e.check(e.TimeWaitMass(l, n))
	sink := newSyslogSink(t)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	trace := filepath.Join(t.TempDir(), "strace")
	cmd := e.Local.Command(ctx, "strace", "-f", "-qq", "-o", trace, "-e", "trace=sendmsg", "-e", "inject=sendmsg:delay_enter=40000",
		bin, "--json", "-y", "--state", "time_wait", "--sport", "7000")
	cmd.Env = append(cmd.Env, "TCPREAP_SYSLOG_SOCKET="+sink.path)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	e.check(cmd.Start())
	started := time.Now()
	pid := tracee(t, trace)
	time.Sleep(time.Second) // about a third of the destroys
	if err := syscall.Kill(pid, syscall.SIGINT); err != nil {
		cmd.Wait()
		t.Fatalf("SIGINT to tcpreap (pid %d) after %v: %v; it ended: %s", pid, time.Since(started), err, stderr.String())
	}
	err := cmd.Wait()
	t.Logf("stderr: %s", stderr.String())
	reported, killed, notAttempted := e.interrupted(err, stdout.String())
	if reported < n/2 || killed == 0 || notAttempted == 0 {
		t.Errorf("%d sockets reported (%d killed, %d not attempted), want about %d, some of each", reported, killed, notAttempted, n)
	}
	line := sink.one(t)
	if !strings.Contains(line, fmt.Sprintf("killed=%d ", killed)) {
		t.Errorf("the audit line %q does not count the %d killed", line, killed)
	}
}

// interrupted checks a run of tcpreap --json that SIGINT stopped, which ended with err and
// printed out: it exited 130, and its report names each socket once, each killed one gone
// from the kernel, each other one failed, not attempted, and still there. It returns how
// many sockets the report names, how many were killed and how many not attempted.
func (e *env) interrupted(err error, out string) (reported, killed, notAttempted int) {
	t := e.t
	t.Helper()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 {
		t.Fatalf("exit %v, want 130", err)
	}
	r, err := testnet.ParseReport(out)
	e.check(err)
	ss := e.sockets()
	seen := map[uint64]bool{}
	for _, rec := range r.Sockets {
		if seen[rec.Cookie] {
			t.Errorf("cookie %d reported twice", rec.Cookie)
		}
		seen[rec.Cookie] = true
		_, present := ss.Cookie(rec.Cookie)
		switch {
		case rec.Action == "killed":
			killed++
			if present {
				t.Errorf("cookie %d reported killed, and the kernel still has it", rec.Cookie)
			}
		case rec.Action == "failed" && rec.Error == "not attempted: interrupted (SIGINT)":
			notAttempted++
			if !present {
				t.Errorf("cookie %d reported not attempted, and the kernel no longer has it", rec.Cookie)
			}
		default:
			t.Errorf("cookie %d: %s %q", rec.Cookie, rec.Action, rec.Error)
		}
	}
	return len(seen), killed, notAttempted
}

// tracee returns the pid of the program that strace runs, from the first line strace
// writes to its output file, once the program has made its first traced call.
func tracee(t *testing.T, trace string) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile(trace)
		if f := strings.Fields(string(b)); len(f) > 0 {
			if pid, err := strconv.Atoi(f[0]); err == nil {
				return pid
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("strace saw no call of the program it ran")
	return 0
}

// TestIntegrationReapMass reaps 20,000 TIME_WAIT sockets, once as the kernel's answers
// allow (a timewait socket's 0 is the truth: no second look) and once with --verify (a
// second look at every target): every one is gone, and the connections beside them live.
func TestIntegrationReapMass(t *testing.T) {
	e := setup(t)
	heavy.Lock() // one mass of sockets at a time: each churns the hash the others dump
	defer heavy.Unlock()
	const n = 20000
	bystanders := e.peerSet(e.listenV4(), 2)
	for i, args := range [][]string{{}, {"--verify"}} {
		t.Run("tcpreap "+strings.Join(args, " "), func(t *testing.T) {
			e := e.sub(t)
			port := uint16(7000 + i) // a population of its own
			l := e.listen(e.Local, netip.AddrPortFrom(testnet.LocalV4, port))
			e.check(e.TimeWaitMass(l, n))
			r := e.json(0, append(args, "-y", "--state", "time_wait", "--sport", fmt.Sprint(port))...)
			if r.Summary.Killed < n/2 || r.Summary.Killed != r.Summary.Matched {
				t.Errorf("summary %+v, want about %d, all killed", r.Summary, n)
			}
			ss := e.sockets()
			for _, s := range ss {
				if s.Local.Port() == port && s.State == "time_wait" {
					t.Fatalf("a TIME_WAIT socket is left: %v", s)
				}
			}
			expectPresent(t, ss, "established", tcp("bystander", bystanders.established[0]), tcp("bystander", bystanders.established[1]))
			expectPresent(t, ss, "close_wait", tcp("bystander", bystanders.closeWait))
		})
	}
}

// TestIntegrationLostAnswers injects ENOBUFS into one receive of tcpreap's (strace -e
// inject), at several points of a reap of 4,000 TIME_WAIT sockets: whichever answer is
// lost, every socket is reported once, none is left unsent, each reported killed is gone,
// and each reported failed is still there. A dump that lost an answer is taken again;
// only when every attempt lost one does the run fail, having destroyed nothing.
func TestIntegrationLostAnswers(t *testing.T) {
	e := setup(t)
	heavy.Lock() // one mass of sockets at a time: each churns the hash the others dump
	defer heavy.Unlock()
	const n = 4000
	// strace counts the receives of each thread on its own, so where one lands is not
	// known beforehand (nor whether a thread makes that many): the trace tells whether
	// it was an answer to destroys, and the runs go on, at other receives each time,
	// until one was.
	intoDestroys := 0
	defer func() {
		if intoDestroys == 0 && !t.Failed() {
			t.Errorf("no lost answer was to destroys: the destroys' were never tested")
		}
	}()
	for i, when := range []int{2, 5, 8, 11, 14, 3, 6, 9, 12, 15, 4, 7, 10, 13} {
		if intoDestroys > 0 {
			break
		}
		t.Run(fmt.Sprintf("receive %d", when), func(t *testing.T) {
			e := e.sub(t)
			port := uint16(7100 + i) // a population of its own
			l := e.listen(e.Local, netip.AddrPortFrom(testnet.LocalV4, port))
			e.check(e.TimeWaitMass(l, n))
			trace := filepath.Join(t.TempDir(), "strace")
			res := e.run(e.Local, "strace", "-f", "-qq", "-xx", "-o", trace, "-e", "trace=sendmsg,recvmsg",
				"-e", fmt.Sprintf("inject=recvmsg:error=ENOBUFS:when=%d", when),
				bin, "--json", "-y", "--no-audit", "--state", "time_wait", "--sport", fmt.Sprint(port))
			ss := e.sockets()
			text, err := os.ReadFile(trace)
			e.check(err)
			injected, destroys := injectedReceives(string(text))
			if injected == 0 {
				t.Logf("no thread of tcpreap's made %d receives: nothing was injected", when)
			}
			intoDestroys += destroys
			t.Logf("%d answers lost, %d of them to destroys", injected, destroys)
			if res.Code != 0 && strings.Contains(res.Stderr, "cannot list sockets") {
				// Every attempt at the dump lost an answer: nothing was destroyed.
				if left := countOn(ss, "time_wait", port); left < n/2 {
					t.Errorf("the dump failed, and only %d of %d sockets are left", left, n)
				}
				return
			}
			r, err := testnet.ParseReport(res.Stdout)
			e.check(err)
			seen := map[uint64]bool{}
			unverified := 0 // the second look lost its answers too: failed, present or not
			for _, rec := range r.Sockets {
				_, present := ss.Cookie(rec.Cookie)
				switch {
				case seen[rec.Cookie]:
					t.Errorf("cookie %d reported twice", rec.Cookie)
				case rec.Action == "failed" && strings.HasPrefix(rec.Error, "not verified"):
					unverified++
					if !present {
						break
					}
					unverified-- // still there: a failure like the others
				case rec.Action == "killed" && present, rec.Action == "failed" && !present:
					t.Errorf("cookie %d reported %s (%s), and the kernel shows it: %v", rec.Cookie, rec.Action, rec.Error, present)
				case strings.Contains(rec.Error, "not attempted"):
					t.Errorf("cookie %d not sent: %s", rec.Cookie, rec.Error)
				}
				seen[rec.Cookie] = true
			}
			if left := countOn(ss, "time_wait", port); left != r.Summary.Failed-unverified {
				t.Errorf("%d sockets are left, and %d reported failed (%d of them not verified and gone)", left, r.Summary.Failed, unverified)
			}
			if wantExit := min(r.Summary.Failed, 1); res.Code != wantExit {
				t.Errorf("exit %d with %d failed", res.Code, r.Summary.Failed)
			}
		})
	}
}

// injectedReceives reads an strace -f -xx trace of sendmsg and recvmsg and counts the
// receives into which an error was injected, and those of them that waited for the
// answers to SOCK_DESTROY requests: the last sendmsg on the same socket carried them.
func injectedReceives(trace string) (injected, destroys int) {
	receiving := map[string]string{} // thread → the socket of its last recvmsg
	sent := map[string]string{}      // socket → the type of the first message last sent on it
	for line := range strings.Lines(trace) {
		pid, call, _ := strings.Cut(line, " ")
		call = strings.TrimLeft(call, " ") // strace pads the pid to five columns
		if fd, rest, ok := strings.Cut(strings.TrimPrefix(call, "sendmsg("), ","); ok && strings.HasPrefix(call, "sendmsg(") {
			// iov_base="\xLL\xLL\xLL\xLL\xTT\xTT...: nlmsg_len, then nlmsg_type
			if _, b, ok := strings.Cut(rest, `iov_base="`); ok && len(b) >= 24 {
				sent[fd] = b[16:24]
			}
		}
		if fd, _, ok := strings.Cut(strings.TrimPrefix(call, "recvmsg("), ","); ok && strings.HasPrefix(call, "recvmsg(") {
			receiving[pid] = fd
		}
		if strings.Contains(line, "(INJECTED)") {
			injected++
			if sent[receiving[pid]] == `\x15\x00` { // SOCK_DESTROY, 21
				destroys++
			}
		}
	}
	return injected, destroys
}

func countOn(ss testnet.Sockets, state string, port uint16) int {
	k := 0
	for _, s := range ss {
		if s.State == state && s.Local.Port() == port {
			k++
		}
	}
	return k
}

// heavy serializes the tests that build tens of thousands of sockets.
var heavy sync.Mutex
