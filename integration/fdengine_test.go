// The fd engine: sockets disconnected through a descriptor of the process that holds them
// (pidfd_getfd), compared with SOCK_DESTROY's diag engine result for result.

package integration

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tcpreap/tcpreap/integration/testnet"
	"golang.org/x/sys/unix"
)

// enginePop is a population of host A for the engines to destroy: a connection in each
// direction, CLOSE_WAIT, TIME_WAIT, IPv6, v4-mapped, a connected UDP socket, a connection
// another process holds too, three listeners (IPv4, IPv6, dual-stack), an SO_REUSEPORT
// group of two listeners and one of two connected UDP sockets, and an unconnected UDP
// socket, which no engine may destroy.
type enginePop struct {
	est, out, closeWait, timeWait, v6, mapped, shared testnet.Pair
	udp                                               testnet.UDPPair
	holder                                            *exec.Cmd // the second process of shared
	reuse                                             []conn    // the SO_REUSEPORT groups' members
	unconnected                                       conn
}

func (e *env) enginePop() enginePop {
	e.t.Helper()
	var p enginePop
	l := e.listenV4()
	l6 := e.listen(e.Local, netip.AddrPortFrom(testnet.LocalV6, 0))
	dual := e.listen(e.Local, netip.AddrPortFrom(netip.IPv6Unspecified(), 0))
	peerListener := e.listen(e.Peer, netip.AddrPortFrom(testnet.PeerV4, 0))
	p.est = e.inbound(l, peer)
	p.out = e.outbound(peerListener)
	p.closeWait = e.closeWait(l, peer)
	p.timeWait = e.timeWait(l, otherPeer)
	p.v6 = e.inbound(l6, netip.AddrPortFrom(testnet.PeerV6, 0))
	p.mapped = e.inbound(dual, peer)
	p.shared = e.inbound(l, otherPeer)
	u, err := e.ConnectedUDP(netip.AddrPortFrom(testnet.PeerV4, 0))
	e.check(err)
	p.udp = u
	// A second process holds the shared connection by a descriptor of its own.
	f, err := p.shared.Local.File()
	e.check(err)
	p.holder = exec.Command("sleep", "60")
	p.holder.ExtraFiles = []*os.File{f}
	e.check(p.holder.Start())
	f.Close()
	e.t.Cleanup(func() { p.holder.Process.Kill(); p.holder.Wait() })
	p.reuse, p.unconnected = e.reuseportPop()
	return p
}

// reuseportPop opens in A two TCP listeners of one SO_REUSEPORT group on 192.0.2.1:8081,
// two UDP sockets of another on 192.0.2.1:5300, each connected to its own socket of B,
// and a UDP socket bound to 192.0.2.1:5301 and connected to nothing.
func (e *env) reuseportPop() (reuse []conn, unconnected conn) {
	e.t.Helper()
	reuseport := func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1) })
		return errors.Join(err, serr)
	}
	lc := net.ListenConfig{Control: reuseport}
	lc.SetMultipathTCP(false)
	var closers []io.Closer
	e.t.Cleanup(func() {
		for _, c := range closers {
			c.Close()
		}
	})
	var peers []netip.AddrPort
	e.check(e.Peer.Do(func() error {
		for range 2 {
			pc, err := net.ListenPacket("udp", testnet.PeerV4.String()+":0")
			if err != nil {
				return err
			}
			closers = append(closers, pc)
			peers = append(peers, pc.LocalAddr().(*net.UDPAddr).AddrPort())
		}
		return nil
	}))
	e.check(e.Local.Do(func() error {
		for range 2 {
			l, err := lc.Listen(context.Background(), "tcp", "192.0.2.1:8081")
			if err != nil {
				return err
			}
			closers = append(closers, l)
		}
		for _, to := range peers {
			d := net.Dialer{LocalAddr: net.UDPAddrFromAddrPort(netip.MustParseAddrPort("192.0.2.1:5300")), Control: reuseport}
			c, err := d.Dial("udp", to.String())
			if err != nil {
				return err
			}
			closers = append(closers, c)
		}
		pc, err := net.ListenPacket("udp", "192.0.2.1:5301")
		closers = append(closers, pc)
		return err
	}))
	listeners, udps := 0, 0
	for _, s := range e.sockets() {
		switch {
		case s.Proto == "tcp" && s.State == "listen" && s.Local.Port() == 8081:
			listeners++
			reuse = append(reuse, conn{fmt.Sprintf("reuseport listener %d", listeners), s.Local, s.Remote, s.Cookie})
		case s.Proto == "udp" && s.Local.Port() == 5300:
			udps++
			reuse = append(reuse, conn{fmt.Sprintf("reuseport udp %d", udps), s.Local, s.Remote, s.Cookie})
		case s.Proto == "udp" && s.Local.Port() == 5301:
			unconnected = conn{"unconnected udp", s.Local, s.Remote, s.Cookie}
		}
	}
	if len(reuse) != 4 || unconnected.cookie == 0 {
		e.t.Fatalf("the kernel shows %v and %v, want two listeners and two UDP sockets of SO_REUSEPORT groups, and an unconnected UDP socket", reuse, unconnected)
	}
	return reuse, unconnected
}

// An engineRun is one population destroyed by the diag engine (in e) and its twin by
// another engine (in other), every state named, both reported by socket.
type engineRun struct {
	other        *env
	diagPop, pop enginePop
	diag, got    map[string]outcome
	report       testnet.Report // the other engine's
}

// compareEngines builds the two populations and runs both engines; the other engine's
// run exits 1, as its TIME_WAIT socket is out of its reach. It stops the test unless
// both report the same sockets.
func (e *env) compareEngines(engine string) engineRun {
	t := e.t
	t.Helper()
	r := engineRun{other: &env{Net: testnet.New(t), t: t}}
	r.diagPop, r.pop = e.enginePop(), r.other.enginePop()
	rd := e.json(0, "--engine", "diag", "--all", "--state", "all", "-t", "-u")
	r.report = r.other.json(1, "--engine", engine, "--all", "--state", "all", "-t", "-u")
	r.diag, r.got = outcomes(t, rd, r.diagPop.conns()), outcomes(t, r.report, r.pop.conns())
	if !slices.Equal(slices.Sorted(maps.Keys(r.diag)), slices.Sorted(maps.Keys(r.got))) {
		t.Fatalf("diag reported %v, %s %v: not the same sockets", slices.Sorted(maps.Keys(r.diag)), engine, slices.Sorted(maps.Keys(r.got)))
	}
	return r
}

func (p enginePop) conns() []conn {
	return append([]conn{tcp("established", p.est), tcp("outbound", p.out), tcp("close_wait", p.closeWait),
		tcp("time_wait", p.timeWait), tcp("ipv6", p.v6), tcp("v4-mapped", p.mapped),
		tcp("shared by two processes", p.shared), udp("connected udp", p.udp), p.unconnected}, p.reuse...)
}

// outcome is a record's result as two populations compare: what became of it, why, and
// by which engine.
type outcome struct{ action, reason, engine, err string }

// outcomes are the report's results by socket: a conn of cs by its name, another socket
// (a listener) by protocol, state and local address, which the populations share.
func outcomes(t *testing.T, r testnet.Report, cs []conn) map[string]outcome {
	t.Helper()
	out := map[string]outcome{}
	for _, rec := range r.Sockets {
		key := rec.Proto + " " + rec.State + " " + rec.LocalIP.String()
		if i := slices.IndexFunc(cs, func(c conn) bool { return c.cookie == rec.Cookie }); i >= 0 {
			key = cs[i].name
		}
		if _, dup := out[key]; dup {
			t.Errorf("two results for %s", key)
		}
		out[key] = outcome{rec.Action, rec.Reason, rec.Engine, rec.Error}
	}
	return out
}

// TestIntegrationEngineFD destroys the same population with --engine diag and with
// --engine fd, in two pairs of namespaces, every state named (--state all, so that the
// listeners are targets too), and compares them result for result: every connection and
// listener killed by both (the fd engine shuts a listener down), each result naming its
// engine; the TIME_WAIT socket, which no process holds, out of the fd engine's reach and
// said so (exit 1). The kernel shows none of the killed ones afterwards, and every peer of
// a TCP connection in a synchronized state gets a reset from either engine.
func TestIntegrationEngineFD(t *testing.T) {
	if major, _ := kernelVersion(t); major < 6 {
		t.Skip("the comparison expects SOCK_DESTROY to destroy TIME_WAIT sockets (Linux 6.0)")
	}
	e := setup(t)
	c := e.compareEngines("fd")
	f, diagPop, fdPop, diag, fd, rf := c.other, c.diagPop, c.pop, c.diag, c.got, c.report
	listeners := 0
	for key, d := range diag {
		x := fd[key]
		switch {
		case key == "time_wait":
			if d != (outcome{action: "killed", engine: "diag"}) {
				t.Errorf("time_wait by diag: %+v, want killed by diag", d)
			}
			if x.action != "failed" || x.engine != "fd" || !strings.Contains(x.err, "no process holds it") {
				t.Errorf("time_wait by fd: %+v, want failed by fd, as no process holds it", x)
			}
		case key == "unconnected udp":
			expectUnconnectedKept(t, d, x)
		default:
			if strings.Contains(key, " listen ") {
				listeners++
			}
			if d != (outcome{action: "killed", engine: "diag"}) || x != (outcome{action: "killed", engine: "fd"}) {
				t.Errorf("%s: diag %+v, fd %+v; want killed by each", key, d, x)
			}
		}
	}
	if listeners != 3 {
		t.Errorf("%d listeners, want 3 (IPv4, IPv6, dual-stack): %v", listeners, diag)
	}
	if rf.Summary != (testnet.Summary{Matched: 16, Killed: 14, Failed: 1, Skipped: 1}) {
		t.Errorf("fd summary %+v", rf.Summary)
	}

	for _, run := range []struct {
		e   *env
		pop enginePop
	}{{e, diagPop}, {f, fdPop}} {
		cs := run.pop.conns()
		killed := slices.DeleteFunc(slices.Clone(cs), func(c conn) bool { return c.name == "time_wait" || c.name == "unconnected udp" })
		ss := run.e.sockets()
		expectGone(t, ss, killed...)
		expectKept(t, ss, run.pop.unconnected)
		for _, s := range ss {
			if s.State == "listen" {
				t.Errorf("a listener is still there: %v", s)
			}
		}
		for _, p := range []struct {
			name string
			peer net.Conn
		}{{"established", run.pop.est.Peer}, {"outbound", run.pop.out.Peer}, {"ipv6", run.pop.v6.Peer},
			{"v4-mapped", run.pop.mapped.Peer}, {"shared", run.pop.shared.Peer}} {
			expectReset(t, p.name, p.peer)
		}
	}
	expectPresent(t, f.sockets(), "time_wait", tcp("time_wait", fdPop.timeWait))
}

// expectUnconnectedKept fails unless both engines' results for the unconnected UDP socket
// are the guard's: skipped, never sent to an engine (whose connect(AF_UNSPEC) or
// bpf_sock_destroy would unbind or abort it), as diag does.
func expectUnconnectedKept(t *testing.T, diag, other outcome) {
	t.Helper()
	if diag.action != "skipped" || diag.engine != "" || !strings.Contains(diag.reason, "unconnected") || other != diag {
		t.Errorf("unconnected udp: diag %+v, other %+v; want skipped as unconnected by both, by no engine", diag, other)
	}
}

// expectKept fails unless the kernel still shows c with its cookie.
func expectKept(t *testing.T, ss testnet.Sockets, c conn) {
	t.Helper()
	if !slices.ContainsFunc(ss, func(s testnet.Socket) bool { return s.Cookie == c.cookie }) {
		t.Errorf("%s: gone from the kernel, want it kept", c.name)
	}
}

// TestIntegrationEngineBadInput: an engine that is none is bad input (exit 2), before
// anything is looked at; the fd engine without the rights to read or take another user's
// descriptors fails (exit 1) with a sentence that names CAP_SYS_PTRACE, and destroys
// nothing.
func TestIntegrationEngineBadInput(t *testing.T) {
	e := setup(t)
	l := e.listenV4()
	est := e.inbound(l, peer)
	before := e.sockets()
	e.expectNothingDestroyed(e.tcpreap("--engine", "nosuch", testnet.PeerV4.String()), 2, before)

	res := e.run(e.Local, slices.Concat(nobody, []string{bin, "--engine", "fd", "--no-audit", testnet.PeerV4.String()})...)
	if res.Code != 1 || !strings.Contains(res.Stderr, "CAP_SYS_PTRACE") {
		t.Errorf("unprivileged --engine fd: exit %d, stderr %q; want exit 1 and a sentence that names CAP_SYS_PTRACE", res.Code, res.Stderr)
	}
	if major, minor := kernelVersion(t); major > 6 || major == 6 && minor >= 5 {
		res = e.run(e.Local, slices.Concat(nobody, []string{bin, "--engine", "bpf", "--no-audit", testnet.PeerV4.String()})...)
		if res.Code != 1 || !strings.Contains(res.Stderr, "CAP_BPF") {
			t.Errorf("unprivileged --engine bpf: exit %d, stderr %q; want exit 1 and a sentence that names CAP_BPF", res.Code, res.Stderr)
		}
	}
	expectPresent(t, e.sockets(), "established", tcp("established", est))
}

// TestIntegrationEngineFDBlocked: a socket with a thread blocked in a read on it. Linux
// 6.6-rc refused tcp_disconnect under a waiting thread (EBUSY), which the fd engine reports
// as such and leaves the socket for SOCK_DESTROY (auto takes diag first and destroys it);
// the kernels since (and this test's) disconnect it and wake the thread with an error. The
// test takes either, and checks each fully.
func TestIntegrationEngineFDBlocked(t *testing.T) {
	e := setup(t)
	l := e.listenV4()
	p := e.inbound(l, peer)
	f, err := p.Local.File()
	e.check(err)
	defer f.Close()
	fd := int(f.Fd()) // blocking, for the descriptor and the connection alike
	read := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		_, err := unix.Read(fd, make([]byte, 1))
		read <- err
	}()
	time.Sleep(200 * time.Millisecond) // the reader's thread reaches its wait
	c := tcp("established, a thread blocked in read", p)
	expectWoken := func() {
		t.Helper()
		select {
		case err := <-read:
			if err == nil {
				t.Error("the blocked read returned data, want an error")
			}
			t.Logf("the blocked read returned %v", err)
		case <-time.After(5 * time.Second):
			t.Error("the blocked read did not return")
		}
	}

	res := e.tcpreapJSON("--engine", "fd", testnet.PeerV4.String())
	r := e.decode(res, res.Code)
	if len(r.Sockets) != 1 || r.Sockets[0].Engine != "fd" {
		t.Fatalf("--engine fd reported %+v, want one result by fd", r.Sockets)
	}
	if res.Code == 0 {
		t.Log("this kernel disconnects a socket under a waiting thread")
		expectRecords(t, r, "killed", c)
		expectGone(t, e.sockets(), c)
		expectReset(t, "established", p.Peer)
		expectWoken()
		return
	}
	if res.Code != 1 || r.Sockets[0].Action != "failed" || !strings.Contains(r.Sockets[0].Error, "blocked on it") {
		t.Errorf("--engine fd: exit %d, %+v; want exit 1, failed, a thread blocked on it", res.Code, r.Sockets)
	}
	expectPresent(t, e.sockets(), "established", c)
	r = e.json(0, "--engine", "auto", testnet.PeerV4.String())
	expectRecords(t, r, "killed", c)
	if r.Sockets[0].Engine != "diag" {
		t.Errorf("auto destroyed it with %q, want diag", r.Sockets[0].Engine)
	}
	expectWoken()
}

// TestIntegrationEngineAutoFallsBack makes SOCK_DESTROY fail for the run as on a kernel
// built without CONFIG_INET_DIAG_DESTROY: a tcpreap built with the tag tcpreap_nodestroy,
// whose probe of SOCK_DESTROY answers that the kernel has none, so the diag engine refuses
// every target without sending it. --engine diag is then an engine this host cannot offer:
// exit 2 with why, before anything is planned (of tcpreap and apply alike); auto hands every target to the next engine this host offers (bpf, else fd), which
// destroys them, and the TIME_WAIT socket, which neither can reach, keeps the diag
// engine's answer.
func TestIntegrationEngineAutoFallsBack(t *testing.T) {
	e := setup(t)
	dir := t.TempDir()
	noDestroy := filepath.Join(dir, "tcpreap-nodestroy")
	build := exec.Command("go", "build", "-tags", "tcpreap_nodestroy", "-o", noDestroy, "github.com/tcpreap/tcpreap/cmd/tcpreap")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building tcpreap without SOCK_DESTROY: %v\n%s", err, out)
	}
	l := e.listenV4()
	est := e.inbound(l, peer)
	cw := e.closeWait(l, peer)
	tw := e.timeWait(l, peer)
	u, err := e.ConnectedUDP(netip.AddrPortFrom(testnet.PeerV4, 0))
	e.check(err)
	held := []conn{tcp("established", est), tcp("close_wait", cw), udp("connected udp", u)}
	args := []string{"--json", "--no-audit", "--state", "all", "-t", "-u", testnet.PeerV4.String()}

	plan := e.writePlan(e.plan(args[2:]...))
	before := e.sockets()
	for _, cmd := range [][]string{slices.Concat([]string{noDestroy, "--engine", "diag"}, args), {noDestroy, "apply", "--engine", "diag", "-y", plan}} {
		res := e.run(e.Local, cmd...)
		if res.Code != 2 || res.Stdout != "" || !strings.Contains(res.Stderr, "--engine diag: this kernel was built without CONFIG_INET_DIAG_DESTROY") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 2 before anything is planned, for want of CONFIG_INET_DIAG_DESTROY", cmd[1:], res.Code, res.Stdout, res.Stderr)
		}
	}
	expectUnchanged(t, before, e.sockets())

	r := e.decode(e.run(e.Local, slices.Concat([]string{noDestroy, "--engine", "auto"}, args)...), 1)
	expectActions(t, r, map[string][]conn{"killed": held, "failed": {tcp("time_wait", tw)}})
	// The next engine this host offers: the bpf engine on Linux 6.5 with its BTF, the fd
	// engine before.
	next := "fd"
	if major, minor := kernelVersion(t); major > 6 || major == 6 && minor >= 5 {
		if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err == nil {
			next = "bpf"
		}
	}
	for _, rec := range r.Sockets {
		want := next
		if rec.State == "time_wait" {
			want = "diag"
		}
		if rec.Engine != want {
			t.Errorf("auto: %+v, want it by %s", rec, want)
		}
	}
	ss := e.sockets()
	expectGone(t, ss, held...)
	expectPresent(t, ss, "time_wait", tcp("time_wait", tw))
	expectReset(t, "established", est.Peer)
}

// TestIntegrationEngineFDOtherNamespace applies, in host A, a plan whose socket line names
// a connection of another namespace by its cookie and inode (edited and resealed): the
// fd engine finds a process that holds that socket, with that cookie, yet acts only on
// sockets of the plan's namespace. The connection there stays up, and A's report says
// gone, as the diag and bpf engines, whose reach is the namespace, say.
func TestIntegrationEngineFDOtherNamespace(t *testing.T) {
	e := setup(t)
	b := &env{Net: testnet.New(t), t: t}
	mine := e.inbound(e.listenV4(), peer)
	theirs := b.inbound(b.listenV4(), peer)
	p := testnet.PeerV4.String()
	other := regexp.MustCompile(`"cookie":\d+,"uid":\d+,"inode":\d+`).FindString(b.plan(p))
	plan := e.plan(p)
	if other == "" || !strings.Contains(plan, fmt.Sprintf(`"cookie":%d,`, mine.Cookie)) {
		t.Fatalf("the plans: %q in B's; A's:\n%s", other, plan)
	}
	plan = reseal(t, regexp.MustCompile(`"cookie":\d+,"uid":\d+,"inode":\d+`).ReplaceAllString(plan, other))
	r := e.decode(e.tcpreap("apply", "--json", "-y", "--no-audit", "--engine", "fd", e.writePlan(plan)), 0)
	if r.Summary != (testnet.Summary{Matched: 1, Gone: 1}) {
		t.Errorf("summary %+v, want the socket of the other namespace gone from A", r.Summary)
	}
	if err := testnet.Echo(theirs); err != nil {
		t.Errorf("the connection of the other namespace was acted on: %v", err)
	}
}

// TestIntegrationEngineFDFromOtherNamespace runs the fd engine from host B on host A's
// namespace (--netns): the plan's namespace is A's, as a thread that entered it tells, so
// A's connection is disconnected there and its peer reset.
func TestIntegrationEngineFDFromOtherNamespace(t *testing.T) {
	e := setup(t)
	pair := e.inbound(e.listenV4(), peer)
	r := e.decode(e.run(e.Peer, bin, "--json", "--no-audit", "--netns", e.Local.Name, "--engine", "fd", "-y", "--state", "established", testnet.PeerV4.String()), 0)
	expectRecords(t, r, "killed", tcp("established", pair))
	expectGone(t, e.sockets(), tcp("established", pair))
	expectReset(t, "established, from another namespace", pair.Peer)
}

// TestIntegrationEngineOwnerExits: a process that holds a connected UDP socket and two
// TCP connections exits between the plan and its execution (plan, then apply). It alone
// held the UDP socket, which went with it, and one connection, which lives on orphaned,
// closing (FIN_WAIT2); the test's process holds the other connection too. Every engine
// answers as diag does: the UDP socket gone, the orphan kept back as changed since the plan
// (its state is another), and the connection the test holds destroyed, by the fd engine
// through the test's descriptor (the holders are read when it acts, not when it plans).
func TestIntegrationEngineOwnerExits(t *testing.T) {
	for _, engine := range []string{"diag", "fd"} {
		t.Run(engine, func(t *testing.T) {
			e := setup(t).sub(t)
			l := e.listenV4()
			alone, kept := e.inbound(l, peer), e.inbound(l, otherPeer)
			u, err := e.ConnectedUDP(netip.AddrPortFrom(testnet.PeerV4, 0))
			e.check(err)
			// A child holds all three; of the test's own descriptors, kept's stays open.
			var files []*os.File
			for _, c := range []interface{ File() (*os.File, error) }{alone.Local, kept.Local, u.Local} {
				f, err := c.File()
				e.check(err)
				files = append(files, f)
			}
			child := exec.Command("sleep", "60")
			child.ExtraFiles = files
			e.check(child.Start())
			t.Cleanup(func() { child.Process.Kill(); child.Wait() })
			for _, f := range files {
				f.Close()
			}
			alone.Local.Close()
			u.Local.Close()
			text := e.plan("-u", "-t", testnet.PeerV4.String(), testnet.OtherPeerV4.String())

			child.Process.Kill()
			child.Wait()
			var orphan testnet.Socket
			for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline) && orphan.State != "fin_wait2"; time.Sleep(20 * time.Millisecond) {
				orphan, _ = e.sockets().Find(alone.LocalAddr(), alone.RemoteAddr())
			}
			if orphan.Cookie != alone.Cookie {
				t.Fatalf("the orphaned connection: %v, want it in fin_wait2 with cookie %d", orphan, alone.Cookie)
			}

			r := e.decode(e.tcpreap("apply", "--json", "-y", "--engine", engine, e.writePlan(text)), 0)
			got := outcomes(t, r, []conn{tcp("orphan", alone), tcp("held by the test", kept), udp("udp", u)})
			want := map[string]outcome{
				"orphan":           {action: "skipped", reason: "changed since the plan: now FIN-WAIT-2"},
				"held by the test": {action: "killed", engine: engine},
				"udp":              {action: "gone", engine: engine},
			}
			if !maps.Equal(got, want) {
				t.Errorf("results %+v, want %+v", got, want)
			}
			expectPresent(t, e.sockets(), "fin_wait2", tcp("orphan", alone))
			expectGone(t, e.sockets(), tcp("held by the test", kept))
		})
	}
}
