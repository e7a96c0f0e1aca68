// Package integration runs the real tcpreap binary against real sockets in network
// namespaces of its own (see testnet) and checks what the kernel and the applications saw.
// It needs root; under CI=true, not being root is a failure rather than a skip.
//
// The tests are grouped by what they exercise: select_test.go (which sockets a run takes),
// states_test.go (each socket state and its kernel corner cases), guards_test.go (what keeps
// a run from destroying: the SSH session, --max, the confirmation, bad input, no
// privilege), ssh_test.go (the SSH session through a real sshd: IPv4, link-local, tmux),
// planfile_test.go (plan and apply), audit_test.go (the syslog line),
// engine_test.go (batches over several netlink sockets, cookie safety), conntrack_test.go
// (router flows: a client, a router and a server, checked with conntrack -L), netns_test.go
// (--netns, --all-netns), deploy_test.go (deploy/: systemd, Kubernetes, Ansible),
// deploy_watch_test.go (deploy/ for tcpreap watch: its service, its DaemonSet),
// image_test.go (make image: the container image) and release_test.go (make install,
// make package, the manual and the completions). The benchmark is
// not a test: it is integration/bench, which `make bench` runs.
// This file holds TestMain, which builds the binary, and the env type and helpers they share.
package integration

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/tcpreap/tcpreap/integration/testnet"
)

// bin is the tcpreap binary TestMain built, in a directory that the nobody user can enter.
var bin string

func TestMain(m *testing.M) {
	if port := os.Getenv(threadNetNSEnv); port != "" {
		os.Exit(holdThreadNetNS(port, os.Getenv(threadNetNSReadyEnv)))
	}
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if err := testnet.CheckRoot(); err != nil {
		if os.Getenv("CI") == "true" {
			fmt.Fprintf(os.Stderr, "integration: CI=true, and %v; run them as root, a skip here would hide a broken pipeline\n", err)
			return 1
		}
		fmt.Fprintf(os.Stderr, "integration: skipping every test: %v\n", err)
		return m.Run() // each test skips in testnet.New
	}
	// A run that died at go test's timeout ran no cleanups: its hosts go.
	if swept, err := testnet.SweepOrphans(); err != nil || len(swept) > 0 {
		fmt.Fprintf(os.Stderr, "integration: deleted the network namespaces a test run that died left: %v (%v)\n", swept, err)
	}
	dir, err := os.MkdirTemp("", "tcpreap-integration-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	// 0755 so that the unprivileged test (setpriv to nobody) can execute the binary.
	if err := os.Chmod(dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "integration:", err)
		return 1
	}
	bin = filepath.Join(dir, "tcpreap")
	build := exec.Command("go", "build", "-o", bin, "github.com/tcpreap/tcpreap/cmd/tcpreap")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "integration: building tcpreap: %v\n", err)
		return 1
	}
	if err := os.Chmod(bin, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "integration:", err)
		return 1
	}
	// Every run that destroys writes an audit line to syslog. The suite's lines go to a
	// socket of its own, not to the machine's log (TestIntegrationAudit checks the line
	// with a socket of its own).
	sink, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: filepath.Join(dir, "syslog"), Net: "unixgram"})
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration:", err)
		return 1
	}
	defer sink.Close()
	go io.Copy(io.Discard, sink)
	os.Setenv("TCPREAP_SYSLOG_SOCKET", sink.LocalAddr().String())
	return m.Run()
}

// env is one test's two hosts, with helpers that fail the test instead of returning errors.
type env struct {
	*testnet.Net
	t *testing.T
}

// setup gives a parallel test its own namespaces.
func setup(t *testing.T) *env {
	t.Parallel()
	return &env{Net: testnet.New(t), t: t}
}

// sub is e for the subtest t: the same hosts, failures reported to t.
func (e *env) sub(t *testing.T) *env { return &env{Net: e.Net, t: t} }

// tcpreap runs the binary with args in host A and logs how it went.
func (e *env) tcpreap(args ...string) testnet.Result {
	e.t.Helper()
	return e.run(e.Local, append([]string{bin}, args...)...)
}

// tcpreapEnv runs the binary with args in host A with the environment variables vars
// ("NAME=value") added, through env(1): Host.Run keeps SSH_CONNECTION out of the
// environment, and a test of the session guard must put it back in on purpose.
func (e *env) tcpreapEnv(vars []string, args ...string) testnet.Result {
	e.t.Helper()
	return e.run(e.Local, slices.Concat([]string{"env"}, vars, []string{bin}, args)...)
}

func (e *env) run(h *testnet.Host, argv ...string) testnet.Result {
	e.t.Helper()
	res, err := h.Run(argv...)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Logf("%s → exit %d\nstdout:\n%sstderr:\n%s", strings.Join(argv, " "), res.Code, res.Stdout, res.Stderr)
	return res
}

// json runs tcpreap --json with args in host A, requires exit code want, and decodes the
// output. --json goes after a leading subcommand (list, ls), where a user would write it.
func (e *env) json(want int, args ...string) testnet.Report {
	e.t.Helper()
	return e.decode(e.tcpreapJSON(args...), want)
}

// jsonAnyExit is json for a run whose exit code the test leaves open.
func (e *env) jsonAnyExit(args ...string) testnet.Report {
	e.t.Helper()
	res := e.tcpreapJSON(args...)
	return e.decode(res, res.Code)
}

func (e *env) tcpreapJSON(args ...string) testnet.Result {
	e.t.Helper()
	at := 0
	if len(args) > 0 && (args[0] == "list" || args[0] == "ls") {
		at = 1
	}
	return e.tcpreap(slices.Insert(slices.Clone(args), at, "--json")...)
}

func (e *env) decode(res testnet.Result, want int) testnet.Report {
	e.t.Helper()
	if res.Code != want {
		e.t.Fatalf("exit code %d, want %d (stderr: %s)", res.Code, want, res.Stderr)
	}
	r, err := testnet.ParseReport(res.Stdout)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

// plan runs tcpreap plan with args in host A, requires exit 0, and returns the file.
func (e *env) plan(args ...string) string {
	e.t.Helper()
	res := e.tcpreap(append([]string{"plan"}, args...)...)
	if res.Code != 0 {
		e.t.Fatalf("plan: exit %d, want 0 (stderr: %s)", res.Code, res.Stderr)
	}
	return res.Stdout
}

// writePlan writes a plan file's text to a file of its own in a fresh temporary directory
// and returns its path, for tcpreap apply.
func (e *env) writePlan(plan string) string {
	e.t.Helper()
	file := filepath.Join(e.t.TempDir(), "plan")
	e.check(os.WriteFile(file, []byte(plan), 0o600))
	return file
}

// sockets is the kernel's view of host A.
func (e *env) sockets() testnet.Sockets {
	e.t.Helper()
	ss, err := e.Local.Sockets()
	e.check(err)
	return ss
}

func (e *env) check(err error) {
	e.t.Helper()
	if err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) listen(h *testnet.Host, addr netip.AddrPort) *net.TCPListener {
	e.t.Helper()
	l, err := e.Listen(h, addr)
	e.check(err)
	return l
}

// listenV4 is a listener in A on 192.0.2.1, on a port the kernel picks: the service whose
// connections most tests make and cut.
func (e *env) listenV4() *net.TCPListener {
	e.t.Helper()
	return e.listen(e.Local, netip.AddrPortFrom(testnet.LocalV4, 0))
}

// inbound is an ESTABLISHED connection from B's address from to A's listener l.
func (e *env) inbound(l *net.TCPListener, from netip.AddrPort) testnet.Pair {
	e.t.Helper()
	p, err := e.Inbound(l, from)
	e.check(err)
	return p
}

// outbound is an ESTABLISHED connection from A to B's listener l.
func (e *env) outbound(l *net.TCPListener) testnet.Pair {
	e.t.Helper()
	p, err := e.Outbound(l)
	e.check(err)
	return p
}

// closeWait is an inbound connection that B has closed and A has not: CLOSE_WAIT in A.
func (e *env) closeWait(l *net.TCPListener, from netip.AddrPort) testnet.Pair {
	e.t.Helper()
	p := e.inbound(l, from)
	e.check(e.CloseWait(p))
	return p
}

// finWait2 is an inbound connection whose sending side A has shut down: FIN_WAIT2 in A.
func (e *env) finWait2(l *net.TCPListener, from netip.AddrPort) testnet.Pair {
	e.t.Helper()
	p := e.inbound(l, from)
	e.check(e.FinWait2(p))
	return p
}

// timeWait is an inbound connection that A closed first: TIME_WAIT in A.
func (e *env) timeWait(l *net.TCPListener, from netip.AddrPort) testnet.Pair {
	e.t.Helper()
	p := e.inbound(l, from)
	e.check(e.TimeWait(p))
	return p
}

// peerSet is the set most guard, refusal, audit and plan tests put in front of tcpreap:
// ESTABLISHED connections from the peer (192.0.2.2) to a listener in A and one more in
// CLOSE_WAIT, every one a target of a run that selects the peer.
type peerSet struct {
	established []testnet.Pair
	closeWait   testnet.Pair
}

// peerSet makes n ESTABLISHED connections from the peer to l, then one in CLOSE_WAIT.
func (e *env) peerSet(l *net.TCPListener, n int) peerSet {
	e.t.Helper()
	var s peerSet
	for range n {
		s.established = append(s.established, e.inbound(l, peer))
	}
	s.closeWait = e.closeWait(l, peer)
	return s
}

// conns is the set as the kernel should show it, named by state.
func (s peerSet) conns() []conn {
	var cs []conn
	for _, p := range s.established {
		cs = append(cs, tcp("established", p))
	}
	return append(cs, tcp("close_wait", s.closeWait))
}

// peerMix is host A with a listener on 192.0.2.1 and, with the peer (192.0.2.2), a
// connection in each direction and one in CLOSE_WAIT: what a run that selects the peer takes
// by default. A connection from the other peer (192.0.2.3) stands by.
type peerMix struct {
	listener           *net.TCPListener
	in, out, closeWait testnet.Pair // with the peer
	bystander          testnet.Pair // with the other peer
}

func (e *env) peerMix() peerMix {
	e.t.Helper()
	var m peerMix
	m.listener = e.listenV4()
	peerListener := e.listen(e.Peer, netip.AddrPortFrom(testnet.PeerV4, 0))
	m.in = e.inbound(m.listener, peer)
	m.out = e.outbound(peerListener)
	m.closeWait = e.closeWait(m.listener, peer)
	m.bystander = e.inbound(m.listener, otherPeer)
	return m
}

// targets are the mix's connections with the peer.
func (m peerMix) targets() []conn {
	return []conn{tcp("inbound", m.in), tcp("outbound", m.out), tcp("close_wait", m.closeWait)}
}

// conn is a socket in host A as a test knows it: by its tuple and the cookie read with
// SO_COOKIE when it was made.
type conn struct {
	name          string
	local, remote netip.AddrPort
	cookie        uint64
}

func tcp(name string, p testnet.Pair) conn {
	return conn{name, p.LocalAddr(), p.RemoteAddr(), p.Cookie}
}

func udp(name string, p testnet.UDPPair) conn {
	return conn{name, p.LocalAddr(), p.RemoteAddr(), p.Cookie}
}

// expectGone fails for each c that the kernel still shows on its tuple, with any cookie.
func expectGone(t *testing.T, ss testnet.Sockets, cs ...conn) {
	t.Helper()
	for _, c := range cs {
		if s, ok := ss.Find(c.local, c.remote); ok {
			t.Errorf("%s: still in the kernel: %v", c.name, s)
		}
	}
}

// expectPresent fails for each c that the kernel no longer shows, with its cookie, in state.
func expectPresent(t *testing.T, ss testnet.Sockets, state string, cs ...conn) {
	t.Helper()
	for _, c := range cs {
		s, ok := ss.Find(c.local, c.remote)
		if !ok || s.Cookie != c.cookie || s.State != state {
			t.Errorf("%s: kernel shows %v (present: %v), want it in %s with cookie %d", c.name, s, ok, state, c.cookie)
		}
	}
}

// expectRecords fails unless the report's sockets are exactly cs (by cookie and tuple),
// each with action.
func expectRecords(t *testing.T, r testnet.Report, action string, cs ...conn) {
	t.Helper()
	expectActions(t, r, map[string][]conn{action: cs})
}

// expectActions fails unless the report's sockets are exactly the conns in want (by cookie
// and tuple), each with the action it is listed under.
func expectActions(t *testing.T, r testnet.Report, want map[string][]conn) {
	t.Helper()
	var all []conn
	for _, action := range slices.Sorted(maps.Keys(want)) {
		all = append(all, want[action]...)
	}
	if len(r.Sockets) != len(all) {
		t.Errorf("tcpreap reported %d sockets, want %d (%v)", len(r.Sockets), len(all), names(all))
	}
	for _, action := range slices.Sorted(maps.Keys(want)) {
		for _, c := range want[action] {
			i := slices.IndexFunc(r.Sockets, func(rec testnet.Record) bool { return rec.Cookie == c.cookie })
			if i < 0 {
				t.Errorf("%s (cookie %d) not in tcpreap's output", c.name, c.cookie)
				continue
			}
			rec := r.Sockets[i]
			if rec.Local() != c.local || rec.Remote() != c.remote || rec.Action != action {
				t.Errorf("%s: tcpreap reported %s -> %s action %q, want %s -> %s action %q", c.name, rec.Local(), rec.Remote(), rec.Action, c.local, c.remote, action)
			}
		}
	}
}

// expectUnchanged fails unless the kernel shows the same sockets (tuples, states and
// cookies) as before.
func expectUnchanged(t *testing.T, before, after testnet.Sockets) {
	t.Helper()
	key := func(a, b testnet.Socket) int { return strings.Compare(a.String(), b.String()) }
	b, a := slices.SortedFunc(slices.Values(before), key), slices.SortedFunc(slices.Values(after), key)
	if !slices.Equal(a, b) {
		t.Errorf("the kernel's sockets changed:\nbefore:%s\nafter:%s", testnet.Sockets(b), testnet.Sockets(a))
	}
}

// expectNothingDestroyed fails unless the run res exited with code and the kernel shows host
// A's sockets as they were before it: a run refused, or failed, before it destroyed anything.
func (e *env) expectNothingDestroyed(res testnet.Result, code int, before testnet.Sockets) {
	e.t.Helper()
	if res.Code != code {
		e.t.Errorf("exit %d, want %d", res.Code, code)
	}
	expectUnchanged(e.t, before, e.sockets())
}

// expectListening fails unless the kernel shows l in LISTEN.
func expectListening(t *testing.T, ss testnet.Sockets, l *net.TCPListener) {
	t.Helper()
	addr := l.Addr().(*net.TCPAddr).AddrPort()
	if !slices.ContainsFunc(ss, func(s testnet.Socket) bool { return s.State == "listen" && s.Local == addr }) {
		t.Errorf("the listener on %s is gone:%s", addr, ss)
	}
}

func names(cs []conn) []string {
	var ns []string
	for _, c := range cs {
		ns = append(ns, c.name)
	}
	return ns
}

// expectAborted checks what the owner of a destroyed socket sees: its next read fails
// with ECONNABORTED, the error SOCK_DESTROY leaves on the socket.
func expectAborted(t *testing.T, name string, owner net.Conn) {
	t.Helper()
	if err := testnet.ReadErr(owner); !errors.Is(err, syscall.ECONNABORTED) {
		t.Errorf("%s: A's read: %v, want ECONNABORTED", name, err)
	}
}

// expectWriteAborted is expectAborted for a socket in CLOSE_WAIT, whose reads end with the
// peer's FIN (EOF) before any error: its owner sees ECONNABORTED when it writes.
func expectWriteAborted(t *testing.T, name string, owner net.Conn) {
	t.Helper()
	if _, err := owner.Write([]byte("x")); !errors.Is(err, syscall.ECONNABORTED) {
		t.Errorf("%s: A's write: %v, want ECONNABORTED", name, err)
	}
}

// expectReset checks what the other end of a destroyed ESTABLISHED connection sees: the
// RST that the destroy sent, as ECONNRESET.
func expectReset(t *testing.T, name string, peer net.Conn) {
	t.Helper()
	if err := testnet.ReadErr(peer); !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("%s: B's read: %v, want ECONNRESET", name, err)
	}
}

var (
	peer      = netip.AddrPortFrom(testnet.PeerV4, 0)
	otherPeer = netip.AddrPortFrom(testnet.OtherPeerV4, 0)
)
