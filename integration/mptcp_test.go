// MPTCP: a connection's subflows dump as TCP sockets, and destroying one leaves the MPTCP
// connection open while its application waits for ever; so SOCK_DESTROY never takes them:
// the fd engine closes the connection at its MPTCP socket, and without it they are kept back.

package integration

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tcpreap/tcpreap/host"
	"github.com/tcpreap/tcpreap/integration/testnet"
	"github.com/tcpreap/tcpreap/planfile"
)

// TestIntegrationMPTCPSubflow: an MPTCP connection from A to B. With --engine diag,
// selected by its peer, its subflow is reported skipped with the reason, the run exits 0 as
// for any skip, and afterwards the subflow is still there and the connection carries data
// both ways. A connection that fell back to TCP at its start (its peer does not speak
// MPTCP) is destroyed, and its application sees the abort.
func TestIntegrationMPTCPSubflow(t *testing.T) {
	e := setup(t)
	enableMPTCP(t, e.Local)
	enableMPTCP(t, e.Peer)
	mptcpListener := e.mptcpListen(true, "192.0.2.2:0")
	tcpListener := e.mptcpListen(false, "192.0.2.3:0")
	mp := e.mptcpDial(mptcpListener)
	fallback := e.mptcpDial(tcpListener)
	if ok, err := mp.Local.MultipathTCP(); err != nil || !ok {
		t.Fatalf("the connection to %s is not MPTCP: %v %v", mptcpListener.Addr(), ok, err)
	}
	if ok, _ := fallback.Local.MultipathTCP(); ok {
		t.Fatalf("the connection to %s did not fall back to TCP", tcpListener.Addr())
	}
	res, err := e.Local.Run("ss", "-Htni", "dst", mp.RemoteAddr().String())
	e.check(err)
	if !strings.Contains(res.Stdout, "tcp-ulp-mptcp") {
		t.Fatalf("ss does not show the subflow to %s with the mptcp ULP:\n%s", mp.RemoteAddr(), res.Stdout)
	}

	// The subflow's cookie, as the kernel shows it: the MPTCP socket's own is another.
	sf, ok := e.sockets().Find(mp.LocalAddr(), mp.RemoteAddr())
	if !ok {
		t.Fatalf("no TCP socket for the subflow %s → %s", mp.LocalAddr(), mp.RemoteAddr())
	}
	mp.Cookie = sf.Cookie

	// A dry run says the same.
	r := e.json(0, "-n", "--engine", "diag", testnet.PeerV4.String())
	if len(r.Sockets) != 1 || r.Sockets[0].Action != "skipped" {
		t.Errorf("a dry run: %+v, want the subflow skipped", r.Sockets)
	}

	r = e.json(0, "--engine", "diag", testnet.PeerV4.String(), testnet.OtherPeerV4.String())
	var subflow, fellBack *testnet.Record
	for i, rec := range r.Sockets {
		switch rec.Local() {
		case mp.LocalAddr():
			subflow = &r.Sockets[i]
		case fallback.LocalAddr():
			fellBack = &r.Sockets[i]
		}
	}
	if subflow == nil || subflow.Cookie != mp.Cookie || subflow.Action != "skipped" || !strings.Contains(subflow.Reason, "MPTCP subflow") {
		t.Errorf("the MPTCP subflow: %+v, want skipped as an MPTCP subflow", subflow)
	}
	if fellBack == nil || fellBack.Action != "killed" {
		t.Errorf("the connection that fell back to TCP: %+v, want killed", fellBack)
	}
	if want := (testnet.Summary{Matched: 2, Killed: 1, Skipped: 1}); r.Summary != want {
		t.Errorf("summary %+v, want %+v", r.Summary, want)
	}
	expectPresent(t, e.sockets(), "established", tcp("MPTCP subflow", mp))
	if err := testnet.Echo(mp); err != nil {
		t.Errorf("the MPTCP connection no longer carries data: %v", err)
	}
	expectAborted(t, "the connection that fell back to TCP", fallback.Local)
}

// TestIntegrationMPTCPClosedAtSocket: the fd engine, and auto, which gives it an MPTCP
// connection's subflows, close the connection at its MPTCP socket: the descriptor of the
// process that holds it, known by the token the subflow's diag shows, disconnected
// (mptcp_disconnect: MP_FASTCLOSE). The application's blocked read fails at once, the
// peer's read fails, the subflow and the MPTCP connection are gone from the kernel, and
// the result is killed by engine fd. A dry run says it would be killed.
func TestIntegrationMPTCPClosedAtSocket(t *testing.T) {
	for _, engine := range []string{"auto", "fd"} {
		t.Run(engine, func(t *testing.T) {
			e := setup(t)
			enableMPTCP(t, e.Local)
			enableMPTCP(t, e.Peer)
			mp := e.mptcpDial(e.mptcpListen(true, "192.0.2.2:0"))
			sf, ok := e.sockets().Find(mp.LocalAddr(), mp.RemoteAddr())
			if !ok {
				t.Fatalf("no TCP socket for the subflow %s → %s", mp.LocalAddr(), mp.RemoteAddr())
			}
			if r := e.json(0, "-n", "--engine", engine, testnet.PeerV4.String()); len(r.Sockets) != 1 || r.Sockets[0].Action != "would_kill" {
				t.Errorf("a dry run: %+v, want the subflow would be killed", r.Sockets)
			}

			// The application waits in a read, with no deadline.
			read := make(chan error, 1)
			go func() {
				_, err := mp.Local.Read(make([]byte, 1))
				read <- err
			}()
			r := e.json(0, "--engine", engine, testnet.PeerV4.String())
			if len(r.Sockets) != 1 || r.Sockets[0].Cookie != sf.Cookie || r.Sockets[0].Action != "killed" || r.Sockets[0].Engine != "fd" {
				t.Errorf("the MPTCP subflow: %+v, want killed by engine fd", r.Sockets)
			}
			select {
			case err := <-read:
				if err == nil {
					t.Error("the application's read returned data, want an error")
				} else {
					t.Logf("the application's read: %v", err)
				}
			case <-time.After(5 * time.Second):
				t.Error("the application's read still waits 5 s after its MPTCP connection was closed")
			}
			if err := testnet.ReadErr(mp.Peer); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
				t.Errorf("the peer's read: %v, want the connection's end", err)
			} else {
				t.Logf("the peer's read: %v", err)
			}
			expectGone(t, e.sockets(), tcp("MPTCP subflow", testnet.Pair{Local: mp.Local, Peer: mp.Peer, Cookie: sf.Cookie}))
			res, err := e.Local.Run("ss", "-HM", "state", "connected")
			e.check(err)
			if strings.TrimSpace(res.Stdout) != "" {
				t.Errorf("the kernel still shows an MPTCP connection:\n%s", res.Stdout)
			}
		})
	}
}

// TestIntegrationMPTCPSubflowsHeld: where MPTCP connections are, telling their subflows
// apart asks the kernel for every TCP socket's tcp_info, which waits for a socket's lock.
// With a lock held, tcpreap gives the look up after 10 seconds, says why, destroys
// nothing and exits 1.
func TestIntegrationMPTCPSubflowsHeld(t *testing.T) {
	e := setup(t)
	enableMPTCP(t, e.Local)
	enableMPTCP(t, e.Peer)
	mp := e.mptcpDial(e.mptcpListen(true, "192.0.2.2:0"))
	plain := e.inbound(e.listenV4(), otherPeer)
	release := holdLock(t, plain)
	before := e.sockets()
	_, stderr, code := e.tcpreapHeld(release, true, "-y", testnet.PeerV4.String(), testnet.OtherPeerV4.String())
	if code != 1 || !strings.Contains(stderr, "which TCP sockets are MPTCP subflows") || !strings.Contains(stderr, "nothing was destroyed") {
		t.Errorf("exit %d, stderr %q: want 1 and why", code, stderr)
	}
	expectUnchanged(t, before, e.sockets())
	if err := testnet.Echo(mp); err != nil {
		t.Errorf("the MPTCP connection no longer carries data: %v", err)
	}
}

// mptcpListen listens in B on addr, with MPTCP or without.
func (e *env) mptcpListen(mptcp bool, addr string) *net.TCPListener {
	e.t.Helper()
	return e.mptcpListenIn(e.Peer, mptcp, addr)
}

// mptcpListenIn is mptcpListen in host h.
func (e *env) mptcpListenIn(h *testnet.Host, mptcp bool, addr string) *net.TCPListener {
	e.t.Helper()
	var lc net.ListenConfig
	lc.SetMultipathTCP(mptcp)
	var l net.Listener
	e.check(h.Do(func() (err error) {
		l, err = lc.Listen(context.Background(), "tcp", addr)
		return err
	}))
	e.t.Cleanup(func() { l.Close() })
	return l.(*net.TCPListener)
}

// mptcpDial connects A to l with MPTCP (to B's first address when l listens on every
// address), and accepts in B.
func (e *env) mptcpDial(l *net.TCPListener) testnet.Pair {
	e.t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second}
	d.SetMultipathTCP(true)
	to := l.Addr().(*net.TCPAddr).AddrPort()
	if to.Addr().IsUnspecified() {
		to = netip.AddrPortFrom(testnet.PeerV4, to.Port())
	}
	var c net.Conn
	e.check(e.Local.Do(func() (err error) {
		c, err = d.Dial("tcp", to.String())
		return err
	}))
	e.t.Cleanup(func() { c.Close() })
	e.check(l.SetDeadline(time.Now().Add(5 * time.Second)))
	a, err := l.AcceptTCP()
	e.check(err)
	e.t.Cleanup(func() { a.Close() })
	return testnet.Pair{Local: c.(*net.TCPConn), Peer: a}
}

// TestIntegrationMPTCPHeldLockElsewhere: where an MPTCP connection is, a socket's lock held
// by its application stuck in the kernel keeps back that socket alone: a selection that
// does not take it in is planned and destroyed at once, without waiting on that lock.
func TestIntegrationMPTCPHeldLockElsewhere(t *testing.T) {
	e := setup(t)
	enableMPTCP(t, e.Local)
	enableMPTCP(t, e.Peer)
	mp := e.mptcpDial(e.mptcpListen(true, "192.0.2.2:0"))
	held := e.inbound(e.listenV4(), otherPeer)
	l := e.listenV4()
	target := e.inbound(l, peer)
	release := holdLock(t, held)

	start := time.Now()
	out, stderr, code := e.tcpreapHeld(release, true, "--json", "-y", "--sport", strconv.Itoa(l.Addr().(*net.TCPAddr).Port))
	if took := time.Since(start); code != 0 || took > 5*time.Second {
		t.Errorf("exit %d after %v, stderr %q: want 0 at once, the held socket not selected", code, took.Round(time.Millisecond), stderr)
	}
	if code == 0 {
		r, err := testnet.ParseReport(out)
		e.check(err)
		expectActions(t, r, map[string][]conn{"killed": {tcp("selected", target)}})
	}
	if err := testnet.Echo(mp); err != nil {
		t.Errorf("the MPTCP connection no longer carries data: %v", err)
	}
}

// TestIntegrationMPTCPSubflowApplied: a plan that holds an MPTCP subflow as a target (made
// where the fd engine closes MPTCP connections) is checked again when it is applied: with
// --engine diag, which cannot close the connection, the subflow is kept back with its
// reason, the MPTCP connection still carries data, and the connection that fell back to
// TCP is destroyed.
func TestIntegrationMPTCPSubflowApplied(t *testing.T) {
	e := setup(t)
	enableMPTCP(t, e.Local)
	enableMPTCP(t, e.Peer)
	mp := e.mptcpDial(e.mptcpListen(true, "192.0.2.2:0"))
	fallback := e.mptcpDial(e.mptcpListen(false, "192.0.2.3:0"))
	text := e.plan(testnet.PeerV4.String(), testnet.OtherPeerV4.String())

	// What the plan file holds is read as tcpreap does, with the identity of the boot
	// and of the namespace it was made in.
	boot, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	e.check(err)
	var st syscall.Stat_t
	e.check(syscall.Stat("/run/netns/"+e.Local.Name, &st))
	here := host.Identity{BootID: strings.TrimSpace(string(boot)), NetNS: host.NetNS(fmt.Sprintf("net:[%d]", st.Ino))}
	f, err := planfile.Read(strings.NewReader(text), here)
	e.check(err)
	targets := 0
	for _, p := range f.Parts {
		for _, s := range p.Plan.Targets {
			if s.ID.Local == mp.LocalAddr() {
				targets++
			}
		}
	}
	if targets != 1 {
		t.Fatalf("the plan holds the subflow as a target %d times, want 1:\n%s", targets, text)
	}

	r := e.decode(e.tcpreap("apply", "--json", "-y", "--engine", "diag", e.writePlan(text)), 0)
	for _, rec := range r.Sockets {
		switch rec.Local() {
		case mp.LocalAddr():
			if rec.Action != "skipped" || !strings.Contains(rec.Reason, "MPTCP subflow") {
				t.Errorf("the MPTCP subflow, a target of the plan: %+v, want skipped as an MPTCP subflow", rec)
			}
		case fallback.LocalAddr():
			if rec.Action != "killed" {
				t.Errorf("the connection that fell back to TCP: %+v, want killed", rec)
			}
		}
	}
	if err := testnet.Echo(mp); err != nil {
		t.Errorf("the MPTCP connection no longer carries data: %v", err)
	}
	expectAborted(t, "the connection that fell back to TCP", fallback.Local)
}

// TestIntegrationMPTCPSubflowsOutside: an MPTCP connection with two subflows, the second
// to B's other address (B announces it, ADD_ADDR). Closing the connection closes both, so
// the fd engine leaves it alone when the selection takes in one subflow only: failed with
// why, exit 1, and the connection still carries data. Selecting both subflows closes it:
// both are gone from the kernel, and the application's read fails.
func TestIntegrationMPTCPSubflowsOutside(t *testing.T) {
	e := setup(t)
	enableMPTCP(t, e.Local)
	enableMPTCP(t, e.Peer)
	for _, cmd := range [][]string{
		{"ip", "mptcp", "limits", "set", "subflows", "2", "add_addr_accepted", "2"},
	} {
		for _, h := range []*testnet.Host{e.Local, e.Peer} {
			if res, err := h.Run(cmd...); err != nil || res.Code != 0 {
				t.Fatalf("%v: %v %+v", cmd, err, res)
			}
		}
	}
	if res, err := e.Peer.Run("ip", "mptcp", "endpoint", "add", testnet.OtherPeerV4.String(), "dev", "veth0", "signal"); err != nil || res.Code != 0 {
		t.Fatalf("ip mptcp endpoint add: %v %+v", err, res)
	}
	// B listens on every address: a join to its other address needs a listener there.
	mp := e.mptcpDial(e.mptcpListen(true, "0.0.0.0:0"))
	e.check(testnet.Echo(mp)) // B announces its address once the connection is fully established
	var subflows string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		res, err := e.Local.Run("ss", "-Htn", "dst", testnet.OtherPeerV4.String())
		e.check(err)
		if subflows = strings.TrimSpace(res.Stdout); subflows != "" {
			break
		}
	}
	if subflows == "" {
		for _, h := range []*testnet.Host{e.Local, e.Peer} {
			for _, c := range [][]string{{"ip", "mptcp", "endpoint", "show"}, {"ip", "mptcp", "limits", "show"}, {"nstat", "-az", "MPTcpExt*"}, {"ss", "-Htni"}, {"ss", "-HMi"}} {
				res, _ := h.Run(c...)
				t.Logf("%v: %s %s", c, res.Stdout, res.Stderr)
			}
		}
		t.Fatalf("no second subflow to %s", testnet.OtherPeerV4)
	}

	res := e.tcpreap("--json", "--engine", "fd", testnet.PeerV4.String())
	r := e.decode(res, 1)
	if len(r.Sockets) != 1 || r.Sockets[0].Action != "failed" || !strings.Contains(r.Sockets[0].Error, "subflows the selection does not take in") {
		t.Errorf("one subflow of two: %+v, want failed, with why", r.Sockets)
	}
	if err := testnet.Echo(mp); err != nil {
		t.Errorf("the MPTCP connection no longer carries data: %v", err)
	}

	// The first subflow's close closes the second: it is gone when its turn comes.
	r = e.json(0, "--engine", "fd", testnet.PeerV4.String(), testnet.OtherPeerV4.String())
	if r.Summary.Matched != 2 || r.Summary.Killed+r.Summary.Gone != 2 || r.Summary.Killed < 1 {
		t.Errorf("both subflows: %+v, want one killed, the other killed or gone", r.Summary)
	}
	if err := testnet.ReadErr(mp.Local); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("the application's read: %v, want the connection's end", err)
	}
	res2, err := e.Local.Run("ss", "-Htn", "state", "connected")
	e.check(err)
	if strings.TrimSpace(res2.Stdout) != "" {
		t.Errorf("the kernel still shows TCP sockets:\n%s", res2.Stdout)
	}
}
