// States: sockets in each state tcpreap reaps, and the kernel's corner cases of each.
// CLOSE_WAIT by service name, TIME_WAIT, the orphaned FIN_WAIT2 timewait socket, UDP bound
// and connected, an SO_REUSEPORT group whose members share one address and port, and an
// MPTCP listener, which the kernel will not destroy.

package integration

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tcpreap/tcpreap/integration/testnet"
	"golang.org/x/sys/unix"
)

// TestIntegrationCloseWaitReap is "reap the CLOSE_WAIT sockets of this service", with the
// service given by name: only CLOSE_WAIT, only that port.
func TestIntegrationCloseWaitReap(t *testing.T) {
	const service = "postgresql"
	port := servicePort(t, service)
	e := setup(t)
	l := e.listen(e.Local, netip.AddrPortFrom(testnet.LocalV4, port))
	elsewhere := e.listenV4()

	est := e.inbound(l, peer)
	otherEst := e.inbound(l, otherPeer)
	cw := e.closeWait(l, peer)
	otherCW := e.closeWait(l, otherPeer)
	cwElsewhere := e.closeWait(elsewhere, peer)
	doomed := []conn{tcp("close_wait", cw), tcp("other peer's close_wait", otherCW)}

	r := e.json(0, "--state", "close_wait", "--port", service)
	expectRecords(t, r, "killed", doomed...)
	for _, rec := range r.Sockets {
		if rec.State != "close_wait" || rec.LocalPort != port {
			t.Errorf("reported %+v, want only close_wait on port %d", rec, port)
		}
	}
	if want := (testnet.Summary{Matched: 2, Killed: 2}); r.Summary != want {
		t.Errorf("summary %+v, want %+v", r.Summary, want)
	}

	ss := e.sockets()
	expectGone(t, ss, doomed...)
	expectPresent(t, ss, "established", tcp("established", est), tcp("other peer's established", otherEst))
	expectPresent(t, ss, "close_wait", tcp("close_wait on another port", cwElsewhere))
	expectListening(t, ss, l)
	expectWriteAborted(t, "close_wait", cw.Local)
	if err := testnet.Echo(est); err != nil {
		t.Errorf("the ESTABLISHED connection on %s no longer carries data: %v", service, err)
	}
}

// servicePort looks name up in /etc/services for TCP, independently of tcpreap's parser, and
// fails the test if it is not there: the test would otherwise prove nothing.
func servicePort(t *testing.T, name string) uint16 {
	t.Helper()
	f, err := os.Open("/etc/services")
	if err != nil {
		t.Fatalf("the service-name test needs /etc/services: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		num, proto, ok := strings.Cut(f[1], "/")
		if !ok || proto != "tcp" || (f[0] != name && !slices.Contains(f[2:], name)) {
			continue
		}
		p, err := strconv.ParseUint(num, 10, 16)
		if err != nil {
			t.Fatalf("/etc/services: bad port in %q", sc.Text())
		}
		return uint16(p)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	t.Fatalf("/etc/services has no tcp entry for %q; the service-name test needs it", name)
	return 0
}

// TestIntegrationTimeWait is "free these TIME_WAIT ports". SOCK_DESTROY handles TIME_WAIT
// sockets only since Linux 6.0; before, the kernel answers EOPNOTSUPP and tcpreap must
// report a skip with that reason, not a success.
func TestIntegrationTimeWait(t *testing.T) {
	e := setup(t)
	l := e.listenV4()
	tw1 := e.timeWait(l, peer)
	tw2 := e.timeWait(l, otherPeer)
	est := e.inbound(l, peer)
	tws := []conn{tcp("time_wait", tw1), tcp("other peer's time_wait", tw2)}

	major, minor := kernelVersion(t)
	if major < 6 {
		// DESIGN.md fixes the skip and its reason, not the exit code of a run that only
		// skipped, so the code is not checked here.
		r := e.jsonAnyExit("--state", "time_wait")
		expectRecords(t, r, "skipped", tws...)
		for _, rec := range r.Sockets {
			if rec.Reason == "" {
				t.Errorf("%+v: skipped without a reason", rec)
			}
		}
		expectPresent(t, e.sockets(), "time_wait", tws...)
		t.Logf("kernel %d.%d: TIME_WAIT sockets cannot be destroyed, checked the skip", major, minor)
		return
	}

	r := e.json(0, "--state", "time_wait")
	expectRecords(t, r, "killed", tws...)
	if want := (testnet.Summary{Matched: 2, Killed: 2}); r.Summary != want {
		t.Errorf("summary %+v, want %+v", r.Summary, want)
	}
	ss := e.sockets()
	expectGone(t, ss, tws...)
	expectPresent(t, ss, "established", tcp("established", est))
	expectListening(t, ss, l)
}

// kernelVersion reads the running kernel's major and minor version.
func kernelVersion(t *testing.T) (major, minor int) {
	t.Helper()
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fmt.Sscanf(strings.TrimSpace(string(b)), "%d.%d", &major, &minor); err != nil {
		t.Fatalf("kernel release %q: %v", b, err)
	}
	return major, minor
}

// TestIntegrationTimeWaitFinWait2 is the timewait socket the kernel makes
// when an application closes and its peer has not: it dumps as fin_wait2
// with the TIME_WAIT timer and belongs to no process. tcpreap destroys it
// (Linux 6.0+) and the peer gets no reset: it stays in CLOSE_WAIT.
func TestIntegrationTimeWaitFinWait2(t *testing.T) {
	e := setup(t)
	p := e.inbound(e.listenV4(), peer)
	local, remote := p.LocalAddr(), p.RemoteAddr()
	e.check(e.OrphanFinWait2(p))

	if major, _ := kernelVersion(t); major < 6 {
		r := e.jsonAnyExit("--state", "fin_wait2", testnet.PeerV4.String())
		if len(r.Sockets) != 1 || r.Sockets[0].Action != "skipped" || !strings.Contains(r.Sockets[0].Reason, "TIME_WAIT") {
			t.Errorf("before 6.0 tcpreap reported %+v, want the timewait socket skipped with the TIME_WAIT reason", r.Sockets)
		}
		return
	}
	r := e.json(0, "--state", "fin_wait2", testnet.PeerV4.String())
	if len(r.Sockets) != 1 || r.Sockets[0].Action != "killed" || r.Sockets[0].Inode != 0 {
		t.Fatalf("tcpreap reported %+v, want the orphaned fin_wait2 socket killed", r.Sockets)
	}
	if _, ok := e.sockets().Find(local, remote); ok {
		t.Error("the fin_wait2 timewait socket is still in the kernel")
	}
	ss, err := e.Peer.Sockets()
	e.check(err)
	if s, ok := ss.Find(remote, local); !ok || s.State != "close_wait" {
		t.Errorf("the peer's socket is %v (present %v), want close_wait: no reset was due", s, ok)
	}
	// The peer's end is not used after the plan: without this, a garbage
	// collection may close it (a finalizer) and the peer's socket with it.
	runtime.KeepAlive(p.Peer)
}

// TestIntegrationUDPBoundAndConnected: udp_abort disconnects a socket and
// leaves it bound to its explicit port, with its cookie. The connection is
// destroyed (killed, the owner reads ECONNABORTED) though the socket stays;
// an unconnected UDP socket is kept back with the reason.
func TestIntegrationUDPBoundAndConnected(t *testing.T) {
	e := setup(t)
	var conn, unconnected *net.UDPConn
	e.check(e.Local.Do(func() (err error) {
		conn, err = net.DialUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("192.0.2.1:5000")),
			net.UDPAddrFromAddrPort(netip.MustParseAddrPort("192.0.2.2:9999")))
		if err != nil {
			return err
		}
		unconnected, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("192.0.2.1:5001")))
		return err
	}))
	t.Cleanup(func() { conn.Close(); unconnected.Close() })

	r := e.json(0, "-u", "192.0.2.2")
	if len(r.Sockets) != 1 || r.Sockets[0].Action != "killed" || r.Sockets[0].LocalPort != 5000 {
		t.Fatalf("tcpreap reported %+v, want the connected socket killed", r.Sockets)
	}
	for _, s := range e.sockets() {
		if s.Proto == "udp" && s.Local.Port() == 5000 && s.State != "close" {
			t.Errorf("the UDP socket is still %s after the destroy: %v", s.State, s)
		}
	}
	expectAborted(t, "bound UDP", conn)

	r = e.json(0, "-u", "--state", "all", "--local", "192.0.2.1")
	if len(r.Sockets) == 0 {
		t.Fatal("nothing listed")
	}
	for _, rec := range r.Sockets {
		if rec.Action != "skipped" || !strings.Contains(rec.Reason, "unconnected UDP socket cannot be destroyed") {
			t.Errorf("%+v: want skipped as an unconnected UDP socket", rec)
		}
	}
	if _, err := unconnected.WriteToUDPAddrPort([]byte("x"), netip.MustParseAddrPort("192.0.2.2:9")); err != nil {
		t.Errorf("the unconnected socket was touched: %v", err)
	}
}

// TestIntegrationReuseportGroup: the kernel finds a destroy's target by
// address and port, and in an SO_REUSEPORT group that lookup lands on one
// member (reuseport_select_sock, by a hash of the tuple) and answers ENOENT
// for the others, which are alive. The member it lands on is a target too,
// so its destroy succeeds and the group shrinks; tcpreap sends the others
// again while it does, and destroys every member: of an IPv4 group and of an
// IPv6 one, four listeners each, all reported killed, none reported gone,
// none left, exit 0.
func TestIntegrationReuseportGroup(t *testing.T) {
	e := setup(t)
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1) })
		return errors.Join(err, serr)
	}}
	lc.SetMultipathTCP(false)
	var group []net.Listener
	t.Cleanup(func() {
		for _, l := range group {
			l.Close()
		}
	})
	e.check(e.Local.Do(func() error {
		for _, addr := range []string{"192.0.2.1:8080", "[2001:db8::1]:8080"} {
			for range 4 {
				l, err := lc.Listen(context.Background(), "tcp", addr)
				if err != nil {
					return err
				}
				group = append(group, l)
			}
		}
		return nil
	}))
	var cookies []uint64
	for _, s := range e.sockets() {
		if s.State == "listen" && s.Local.Port() == 8080 {
			cookies = append(cookies, s.Cookie)
		}
	}
	if len(cookies) != len(group) {
		t.Fatalf("the kernel shows %d listeners on port 8080, want %d", len(cookies), len(group))
	}

	r := e.json(0, "--state", "listen", "--sport", "8080")
	for _, c := range cookies {
		if i := slicesIndex(r.Sockets, c); i < 0 || r.Sockets[i].Action != "killed" {
			t.Errorf("listener with cookie %d: want it killed; tcpreap reported %+v", c, r.Sockets)
		}
	}
	if want := (testnet.Summary{Matched: len(group), Killed: len(group)}); r.Summary != want {
		t.Errorf("summary %+v, want %+v", r.Summary, want)
	}
	for _, s := range e.sockets() {
		if s.State == "listen" && s.Local.Port() == 8080 {
			t.Errorf("still listening: %v", s)
		}
	}
}

// TestIntegrationMPTCPListener: since Go 1.24 a Go server listens with MPTCP where the
// kernel has it enabled, and the kernel refuses to destroy an MPTCP listener (EINVAL from
// MPTCP's tcp_abort_override, Linux 6.7 and the stable kernels it went back to). With
// --engine diag tcpreap fails it with a sentence that says so and what to do, exits 1,
// and the listener still accepts connections; auto then stops it through the fd engine,
// at its MPTCP socket, and the application's accept fails.
func TestIntegrationMPTCPListener(t *testing.T) {
	if major, minor := kernelVersion(t); major < 6 || major == 6 && minor < 7 {
		t.Skipf("kernel %d.%d: MPTCP listeners refuse SOCK_DESTROY from 6.7 on (and where stable kernels took the change); before, the kernel closes them", major, minor)
	}
	e := setup(t)
	l, addr := e.mptcpListener()
	port := strconv.Itoa(int(addr.Port()))
	// ss, not tcpreap, says whether the listener is MPTCP: its TCP socket carries the
	// "mptcp" upper layer protocol.
	res, err := e.Local.Run("ss", "-Htlni", "sport", "=", ":"+port)
	e.check(err)
	if !strings.Contains(res.Stdout, "tcp-ulp-mptcp") {
		t.Fatalf("the listener on %s is not an MPTCP one; ss shows:\n%s", addr, res.Stdout)
	}

	res = e.tcpreap("--json", "--engine", "diag", "--state", "listen", "--sport", port)
	r := e.decode(res, 1)
	if len(r.Sockets) != 1 || r.Sockets[0].Action != "failed" || r.Sockets[0].Cookie == 0 {
		t.Errorf("tcpreap reported %+v, want the listener failed", r.Sockets)
	}
	for _, want := range []string{"MPTCP", "stop their application", "GODEBUG=multipathtcp=0", "SetMultipathTCP(false)"} {
		if !strings.Contains(res.Stderr, want) {
			t.Errorf("stderr %q does not say %q", res.Stderr, want)
		}
	}
	expectListening(t, e.sockets(), l)
	peerConn, err := e.Dial(addr)
	e.check(err)
	defer peerConn.Close()
	e.check(l.SetDeadline(time.Now().Add(5 * time.Second)))
	c, err := l.Accept()
	if err != nil {
		t.Fatalf("the listener no longer accepts: %v", err)
	}
	c.Close()

	accepted := make(chan error, 1)
	go func() {
		e.check(l.SetDeadline(time.Time{}))
		c, err := l.Accept()
		if err == nil {
			c.Close()
		}
		accepted <- err
	}()
	r = e.json(0, "--state", "listen", "--sport", port)
	if len(r.Sockets) != 1 || r.Sockets[0].Action != "killed" || r.Sockets[0].Engine != "fd" {
		t.Errorf("auto: %+v, want the listener killed by engine fd", r.Sockets)
	}
	select {
	case err := <-accepted:
		if err == nil {
			t.Error("the application's accept took a connection, want an error")
		}
	case <-time.After(5 * time.Second):
		t.Error("the application's accept still waits 5 s after its listener was stopped")
	}
	if slices.ContainsFunc(e.sockets(), func(s testnet.Socket) bool { return s.State == "listen" && s.Local == addr }) {
		t.Errorf("the listener on %s is still there", addr)
	}
}

// enableMPTCP turns MPTCP on in h, a test namespace, if it is off there (net.mptcp.enabled
// is per namespace), and skips the test on a kernel built without MPTCP.
func enableMPTCP(t *testing.T, h *testnet.Host) {
	t.Helper()
	res, err := h.Run("sysctl", "-n", "net.mptcp.enabled")
	if err != nil {
		t.Fatal(err)
	}
	switch strings.TrimSpace(res.Stdout) {
	case "1":
		return
	case "0":
		if res, err := h.Run("sysctl", "-w", "net.mptcp.enabled=1"); err != nil || res.Code != 0 {
			t.Fatalf("enabling MPTCP in %s: %v %s", h.Name, err, res.Stderr)
		}
	default:
		t.Skipf("this kernel has no MPTCP (sysctl net.mptcp.enabled: %s)", strings.TrimSpace(res.Stderr))
	}
}

func slicesIndex(recs []testnet.Record, cookie uint64) int {
	for i, r := range recs {
		if r.Cookie == cookie {
			return i
		}
	}
	return -1
}

// TestIntegrationUDPOwnerAfterDestroy: what the owner of a destroyed
// connected UDP socket sees. udp_abort leaves ECONNABORTED on the socket,
// once, and disconnects it: a read (or any call that reports the socket's
// error) gets ECONNABORTED once; a send without an address gets
// EDESTADDRREQ, before and after that, for the socket has no peer any more;
// and a read after the ECONNABORTED waits for a datagram, as on any bound
// unconnected socket. The docs say what this test observes.
func TestIntegrationUDPOwnerAfterDestroy(t *testing.T) {
	e := setup(t)
	var readFirst, writeFirst *net.UDPConn
	e.check(e.Local.Do(func() (err error) {
		peer := net.UDPAddrFromAddrPort(netip.MustParseAddrPort("192.0.2.2:9999"))
		readFirst, err = net.DialUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("192.0.2.1:5002")), peer)
		if err != nil {
			return err
		}
		writeFirst, err = net.DialUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("192.0.2.1:5003")), peer)
		return err
	}))
	t.Cleanup(func() { readFirst.Close(); writeFirst.Close() })

	r := e.json(0, "-u", "192.0.2.2")
	if len(r.Sockets) != 2 || r.Summary.Killed != 2 {
		t.Fatalf("tcpreap reported %+v, want both sockets killed", r.Sockets)
	}

	if err := testnet.ReadErr(readFirst); !errors.Is(err, syscall.ECONNABORTED) {
		t.Errorf("the first read: %v, want ECONNABORTED", err)
	}
	if _, err := readFirst.Write([]byte("x")); !errors.Is(err, syscall.EDESTADDRREQ) {
		t.Errorf("a write after the read: %v, want EDESTADDRREQ", err)
	}
	if err := testnet.ReadErr(readFirst); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("a second read: %v, want it to wait for a datagram (a timeout)", err)
	}

	if _, err := writeFirst.Write([]byte("x")); !errors.Is(err, syscall.EDESTADDRREQ) {
		t.Errorf("the first write: %v, want EDESTADDRREQ", err)
	}
	if err := testnet.ReadErr(writeFirst); !errors.Is(err, syscall.ECONNABORTED) {
		t.Errorf("a read after the write: %v, want ECONNABORTED", err)
	}
}

// mptcpListener is an MPTCP listener on 192.0.2.1 in host A, with MPTCP enabled there,
// closed when the test ends, and its address.
func (e *env) mptcpListener() (*net.TCPListener, netip.AddrPort) {
	e.t.Helper()
	enableMPTCP(e.t, e.Local)
	l := e.mptcpListenIn(e.Local, true, "192.0.2.1:0")
	return l, l.Addr().(*net.TCPAddr).AddrPort()
}
