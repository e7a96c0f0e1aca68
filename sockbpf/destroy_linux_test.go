package sockbpf_test

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tcpreap/tcpreap/inet"
	"github.com/tcpreap/tcpreap/internal/ownnetns"
	"github.com/tcpreap/tcpreap/sockbpf"
	"github.com/tcpreap/tcpreap/sockdiag"
	"golang.org/x/sys/unix"
)

func TestMain(m *testing.M) { ownnetns.Main(m) }

// open opens a Destroyer in the tests' own network namespace, or skips
// where the tests have none or the kernel cannot run the engine.
func open(t *testing.T, capacity int) *sockbpf.Destroyer {
	t.Helper()
	if !ownnetns.Inside() {
		t.Skip("needs root: the sockets are made and destroyed in a network namespace of the test's own")
	}
	d, err := sockbpf.Open(capacity)
	if errors.Is(err, sockbpf.ErrKernelTooOld) || errors.Is(err, sockbpf.ErrNoBTF) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// cookie is the socket's SO_COOKIE.
func cookie(t *testing.T, c syscall.Conn) uint64 {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var v uint64
	var serr error
	if err := rc.Control(func(fd uintptr) { v, serr = unix.GetsockoptUint64(int(fd), unix.SOL_SOCKET, unix.SO_COOKIE) }); err != nil {
		t.Fatal(err)
	}
	if serr != nil {
		t.Fatal(serr)
	}
	return v
}

// listen listens on a plain TCP socket (Go's default is MPTCP where the
// kernel has it, whose descriptor is not the TCP listener's).
func listen(t *testing.T, network, addr string) *net.TCPListener {
	t.Helper()
	var lc net.ListenConfig
	lc.SetMultipathTCP(false)
	ln, err := lc.Listen(context.Background(), network, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln.(*net.TCPListener)
}

// pair connects a client to ln and returns both ends.
func pair(t *testing.T, ln *net.TCPListener) (client, server *net.TCPConn) {
	t.Helper()
	c, err := net.Dial(ln.Addr().Network(), ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); s.Close() })
	return c.(*net.TCPConn), s.(*net.TCPConn)
}

// present returns the cookies of every TCP and UDP socket of the namespace,
// with their states, as sock_diag dumps them.
func present(t *testing.T) map[uint64]sockdiag.State {
	t.Helper()
	conn, err := sockdiag.Dial(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	out := map[uint64]sockdiag.State{}
	f := &sockdiag.Filter{Protocols: []inet.Protocol{inet.TCP, inet.UDP}, States: sockdiag.AllStates}
	for s, err := range conn.Query(context.Background(), f) {
		if err != nil {
			t.Fatal(err)
		}
		out[uint64(s.ID.Cookie)] = s.State
	}
	return out
}

// waitState waits until the socket with the cookie is in the state.
func waitState(t *testing.T, c uint64, st sockdiag.State) {
	t.Helper()
	for range 200 {
		if got, ok := present(t)[c]; ok && got == st {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("socket %d never reached %v", c, st)
}

// waitGone waits until none of the cookies is in a dump (a peer closes
// when the reset comes, a moment after the destroy).
func waitGone(t *testing.T, cookies map[uint64]bool) {
	t.Helper()
	for range 200 {
		left := false
		for c := range present(t) {
			left = left || cookies[c]
		}
		if !left {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestDestroy destroys a chosen set of sockets by cookie among every kind
// the iterators walk, and checks that exactly those are gone, that the
// peer of an ESTABLISHED target got a reset, and that the unconnected UDP
// socket and the TIME-WAIT socket were left alone although their cookies
// were given.
func TestDestroy(t *testing.T) {
	d := open(t, 64)

	ln4 := listen(t, "tcp4", "127.0.0.1:0")
	ln6 := listen(t, "tcp6", "[::1]:0")
	spare := listen(t, "tcp4", "127.0.0.1:0")

	est, estPeer := pair(t, ln4)   // target: ESTABLISHED, IPv4
	est6, est6Peer := pair(t, ln6) // target: ESTABLISHED, IPv6
	keep, keepPeer := pair(t, ln4) // left: ESTABLISHED
	cwPeer, cw := pair(t, ln4)     // target: cw in CLOSE_WAIT
	cwPeerCookie := cookie(t, cwPeer)
	cwPeer.Close()
	tw, twPeer := pair(t, ln4) // target, but left: TIME_WAIT
	twCookie := cookie(t, tw)
	tw.Close()
	twPeer.Close()

	userver, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer userver.Close()
	uconn, err := net.DialUDP("udp4", nil, userver.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer uconn.Close()
	ukeep, err := net.DialUDP("udp4", nil, userver.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer ukeep.Close()

	waitState(t, cookie(t, cw), sockdiag.CloseWait)
	waitState(t, twCookie, sockdiag.TimeWait)

	const nothing = 1 << 62 // no socket has it
	listener := cookie(t, ln4)
	tcpTargets := []uint64{cookie(t, est), cookie(t, est6), cookie(t, cw), listener, twCookie, nothing}
	tcpWant := []error{nil, nil, nil, nil, sockbpf.ErrNotFullSocket, sockbpf.ErrNotFound}
	udpTargets := []uint64{cookie(t, uconn), cookie(t, userver)}
	udpWant := []error{nil, sockbpf.ErrUnconnected}
	kept := []uint64{cookie(t, keep), cookie(t, keepPeer), cookie(t, spare), cookie(t, ln6), twCookie,
		cookie(t, userver), cookie(t, ukeep)}
	// The peers of the TCP connections destroyed: each gets a reset, and
	// closes.
	reset := []uint64{cookie(t, estPeer), cookie(t, est6Peer), cwPeerCookie}
	before := present(t)
	for i, c := range append(append(append(append([]uint64{}, tcpTargets[:5]...), udpTargets...), kept...), reset...) {
		if _, ok := before[c]; !ok {
			t.Fatalf("socket %d (%d) is not there before the destroy", i, c)
		}
	}

	check := func(p inet.Protocol, cookies []uint64, want []error) {
		t.Helper()
		got, err := d.Destroy(p, cookies)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(cookies) {
			t.Fatalf("%v: %d results for %d cookies", p, len(got), len(cookies))
		}
		for i, r := range got {
			if r.Cookie != cookies[i] || !errors.Is(r.Err, want[i]) || (want[i] == nil) != (r.Err == nil) {
				t.Errorf("%v target %d (cookie %d): got %v, want %v", p, i, cookies[i], r.Err, want[i])
			}
		}
	}
	check(inet.TCP, tcpTargets, tcpWant)
	check(inet.UDP, udpTargets, udpWant)
	// The cookie no socket has is the one the walk left in the map: it is
	// cleared with the others.
	if n := sockbpf.TargetsLeft(d); n != 0 {
		t.Errorf("%d cookies left in the targets map after the destroys", n)
	}

	// Exactly the destroyed targets and their peers are gone.
	gone := map[uint64]bool{}
	for i, c := range append(append([]uint64{}, tcpTargets...), udpTargets...) {
		if append(append([]error{}, tcpWant...), udpWant...)[i] == nil {
			gone[c] = true
		}
	}
	for _, c := range reset {
		gone[c] = true
	}
	waitGone(t, gone)
	after := present(t)
	for c, st := range before {
		if _, ok := after[c]; ok == gone[c] {
			t.Errorf("socket %d (%v before): present %v after the destroy, want %v", c, st, ok, !gone[c])
		}
	}
	for _, c := range kept {
		if gone[c] {
			t.Fatalf("socket %d is both kept and gone", c)
		}
	}

	// The peers of the ESTABLISHED targets got a reset; the targets'
	// owners see ECONNABORTED.
	for _, peer := range []*net.TCPConn{estPeer, est6Peer} {
		peer.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := peer.Read(make([]byte, 1)); !errors.Is(err, syscall.ECONNRESET) {
			t.Errorf("peer of a destroyed connection read %v, want a reset", err)
		}
	}
	est.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := est.Read(make([]byte, 1)); !errors.Is(err, syscall.ECONNABORTED) {
		t.Errorf("destroyed connection read %v, want ECONNABORTED", err)
	}
	// The kept UDP sockets still talk.
	if _, err := ukeep.Write([]byte("x")); err != nil {
		t.Errorf("kept connected UDP socket: %v", err)
	}
	userver.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, _, err := userver.ReadFrom(make([]byte, 8)); err != nil {
		t.Errorf("unconnected UDP socket: %v", err)
	}
}

// TestProbe: this host, root in a namespace of its own, offers the engine.
func TestProbe(t *testing.T) {
	open(t, 1)
	if err := sockbpf.Probe(); err != nil {
		t.Fatal(err)
	}
}

// unprivileged marks the run of TestProbeNoPrivilege without capabilities.
const unprivileged = "SOCKBPF_TEST_UNPRIVILEGED"

// TestProbeNoPrivilege runs itself again as root without a capability (an
// empty bounding set): there Probe says what is missing.
func TestProbeNoPrivilege(t *testing.T) {
	if os.Getenv(unprivileged) != "" {
		err := sockbpf.Probe()
		if !errors.Is(err, sockbpf.ErrNoPrivilege) || !strings.Contains(err.Error(), "CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN") {
			t.Fatalf("Probe without capabilities: %v", err)
		}
		return
	}
	open(t, 1)
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skip("needs setpriv (util-linux)")
	}
	cmd := exec.Command("setpriv", "--bounding-set=-all", "--inh-caps=-all", "--", os.Args[0], "-test.run=^TestProbeNoPrivilege$", "-test.count=1")
	cmd.Env = append(os.Environ(), unprivileged+"=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
}

// TestDestroyBatches destroys more CLOSE-WAIT sockets than the map holds,
// and more in one batch than one read of the iterator answers: every
// target gets its answer, and all are gone.
func TestDestroyBatches(t *testing.T) {
	const n, capacity = 3000, 2500
	d := open(t, capacity)
	ln := listen(t, "tcp4", "127.0.0.1:0")
	cookies := make([]uint64, 0, n)
	for range n {
		c, s := pair(t, ln)
		cookies = append(cookies, cookie(t, s))
		c.Close()
	}
	waitState(t, cookies[n-1], sockdiag.CloseWait)
	got, err := d.Destroy(inet.TCP, cookies)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range got {
		if r.Cookie != cookies[i] || r.Err != nil {
			t.Fatalf("target %d (cookie %d): %d, %v", i, cookies[i], r.Cookie, r.Err)
		}
	}
	now := present(t)
	for _, c := range cookies {
		if _, ok := now[c]; ok {
			t.Fatalf("socket %d is still there after the destroy", c)
		}
	}
	if n := sockbpf.TargetsLeft(d); n != 0 {
		t.Errorf("%d cookies left in the targets map after the destroys", n)
	}
}

// TestDestroyOtherNamespace: a walk sees only the sockets of the network
// namespace of the thread that runs Destroy. A listener in another
// namespace is not found from the tests' own, and is destroyed from its
// own.
func TestDestroyOtherNamespace(t *testing.T) {
	d := open(t, 1)
	type answer struct {
		ln  *net.TCPListener
		err error
	}
	enter := make(chan answer)
	destroy := make(chan uint64)
	results := make(chan []sockbpf.Result)
	go func() {
		// The thread stays in the new namespace and ends with the
		// goroutine: it is never unlocked.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			enter <- answer{err: err}
			return
		}
		var lc net.ListenConfig
		lc.SetMultipathTCP(false)
		ln, err := lc.Listen(context.Background(), "tcp4", "0.0.0.0:0")
		if err != nil {
			enter <- answer{err: err}
			return
		}
		enter <- answer{ln: ln.(*net.TCPListener)}
		r, err := d.Destroy(inet.TCP, []uint64{<-destroy})
		if err != nil {
			r = []sockbpf.Result{{Err: err}}
		}
		results <- r
	}()
	a := <-enter
	if a.err != nil {
		t.Fatal(a.err)
	}
	defer a.ln.Close()
	c := cookie(t, a.ln)
	r, err := d.Destroy(inet.TCP, []uint64{c})
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(r[0].Err, sockbpf.ErrNotFound) {
		t.Errorf("a listener of another namespace, from the tests' own: %v, want %v", r[0].Err, sockbpf.ErrNotFound)
	}
	destroy <- c
	if r := <-results; r[0].Err != nil {
		t.Errorf("the listener, from its own namespace: %v", r[0].Err)
	}
	if _, err := a.ln.Accept(); err == nil {
		t.Error("the destroyed listener still accepts")
	}
}
