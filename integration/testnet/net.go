// Package testnet builds the two-host network that tcpreap's integration tests and demo run
// in: named network namespaces joined by a veth pair, documentation addresses only, real
// sockets driven into real TCP states, and a real OpenSSH server with ssh sessions to it.
// Everything here needs root.
package testnet

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vishvananda/netns"
)

// The addresses of the two hosts. They come from the documentation ranges (RFC 5737,
// RFC 3849), so nothing the tests do can reach a real network.
var (
	LocalV4     = netip.MustParseAddr("192.0.2.1")   // host A, where tcpreap runs
	PeerV4      = netip.MustParseAddr("192.0.2.2")   // host B
	OtherPeerV4 = netip.MustParseAddr("192.0.2.3")   // host B's second address: another peer
	LocalV6     = netip.MustParseAddr("2001:db8::1") // host A
	PeerV6      = netip.MustParseAddr("2001:db8::2") // host B

	// The link-local addresses of veth0 in A and in B, with the zone an application in
	// either host writes (both ends are named veth0). The kernel gives every link an
	// address of its own too, but that one stays tentative for a second or more.
	LocalLinkLocal = netip.MustParseAddr("fe80::1%veth0")
	PeerLinkLocal  = netip.MustParseAddr("fe80::2%veth0")
)

// Net is host A ("local", where tcpreap runs) and host B ("peer"), each a named network
// namespace, joined by a veth pair. Close undoes all of it.
type Net struct {
	Local *Host
	Peer  *Host

	tracked
}

// tracked is what a network made and its Close closes: sockets and servers, which keep
// their namespaces alive.
type tracked struct {
	mu      sync.Mutex
	closers []io.Closer
}

// Host is one named network namespace: `ip netns exec Name …` runs a program in it, and Do
// runs Go code in it.
type Host struct {
	Name string
	ns   netns.NsHandle
	veth int // veth0's interface index in this namespace: the zone of its link-local addresses
}

var seq atomic.Int64

// Setup creates a fresh Net with unique namespace names (tcpreap-<pid>-<n>-a and -b).
// It runs a dozen `ip` commands, some tens of milliseconds. On error nothing is left behind.
func Setup() (*Net, error) {
	base := fmt.Sprintf("tcpreap-%d-%d", os.Getpid(), seq.Add(1))
	n := &Net{Local: &Host{Name: base + "-a", ns: -1}, Peer: &Host{Name: base + "-b", ns: -1}}
	if err := n.setup(); err != nil {
		return nil, errors.Join(err, n.Close())
	}
	return n, nil
}

func (n *Net) setup() error {
	a, b := n.Local.Name, n.Peer.Name
	steps := [][]string{
		{"netns", "add", a},
		{"netns", "add", b},
		{"-n", a, "link", "add", "veth0", "type", "veth", "peer", "name", "veth0", "netns", b},
		// No link-local address of the kernel's making beside fe80::1 and fe80::2: a
		// connection to the peer's would otherwise come from either, at random.
		{"-n", a, "link", "set", "veth0", "addrgenmode", "none"},
		{"-n", b, "link", "set", "veth0", "addrgenmode", "none"},
		{"-n", a, "addr", "add", "192.0.2.1/24", "dev", "veth0"},
		// nodad: without it the IPv6 address stays tentative for a second or more and
		// connect/bind fail with EADDRNOTAVAIL.
		{"-n", a, "addr", "add", "2001:db8::1/64", "dev", "veth0", "nodad"},
		{"-n", b, "addr", "add", "192.0.2.2/24", "dev", "veth0"},
		{"-n", b, "addr", "add", "192.0.2.3/24", "dev", "veth0"},
		{"-n", b, "addr", "add", "2001:db8::2/64", "dev", "veth0", "nodad"},
		{"-n", a, "addr", "add", LocalLinkLocal.WithZone("").String() + "/64", "dev", "veth0", "nodad"},
		{"-n", b, "addr", "add", PeerLinkLocal.WithZone("").String() + "/64", "dev", "veth0", "nodad"},
		{"-n", a, "link", "set", "lo", "up"},
		{"-n", b, "link", "set", "lo", "up"},
		{"-n", a, "link", "set", "veth0", "up"},
		{"-n", b, "link", "set", "veth0", "up"},
	}
	for _, args := range steps {
		if err := ip(args...); err != nil {
			return err
		}
	}
	for _, h := range []*Host{n.Local, n.Peer} {
		index, err := awaitLinkUp(h.Name)
		if err != nil {
			return err
		}
		h.veth = index
		ns, err := netns.GetFromName(h.Name)
		if err != nil {
			return fmt.Errorf("opening network namespace %s: %w", h.Name, err)
		}
		h.ns = ns
	}
	return nil
}

// New is Setup for a test: it fails the test on error and closes the Net in t.Cleanup.
// Without root it skips the test, except under CI=true, where a skipped integration test
// would hide a broken pipeline, so it fails instead.
func New(t testing.TB) *Net {
	t.Helper()
	if err := CheckRoot(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true: %v", err)
		}
		t.Skip(err)
	}
	n, err := Setup()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Error(err)
		}
	})
	return n
}

// CheckRoot reports why this process cannot build a Net, or nil if it can.
func CheckRoot() error {
	if os.Geteuid() != 0 {
		return errors.New("integration tests need root: they create network namespaces and destroy sockets")
	}
	return nil
}

// Close kills every process left in the two namespaces (an sshd, the sessions it forked, a
// tmux server that left its parent), closes every socket and server the Net made, and
// deletes both namespaces (which removes the veth pair). It is safe to call more than once.
func (n *Net) Close() error { return n.closeHosts(n.Local, n.Peer) }

// closeHosts kills every process left in the hosts' namespaces, closes everything tracked,
// and deletes the namespaces. It is safe to call more than once.
func (t *tracked) closeHosts(hosts ...*Host) error {
	var errs []error
	for _, h := range hosts {
		if h.ns >= 0 {
			errs = append(errs, h.killProcesses())
		}
	}
	t.mu.Lock()
	closers := t.closers
	t.closers = nil
	t.mu.Unlock()
	for _, c := range closers {
		c.Close() // most are closed or destroyed already; the error says nothing new
	}
	for _, h := range hosts {
		if h.ns >= 0 {
			h.ns.Close()
			h.ns = -1
		}
		if _, err := os.Stat("/run/netns/" + h.Name); err == nil {
			errs = append(errs, ip("netns", "del", h.Name))
		}
	}
	return errors.Join(errs...)
}

// track remembers c so that Close closes it; a socket keeps its namespace alive.
func (t *tracked) track(c io.Closer) {
	t.mu.Lock()
	t.closers = append(t.closers, c)
	t.mu.Unlock()
}

// Do runs fn with the calling thread in h's network namespace. A socket belongs to the
// namespace of the thread that called socket(), so fn must create its sockets on its own
// goroutine, not in goroutines it starts; once created they may be used from anywhere.
// fn runs on a fresh goroutine locked to its thread; if the thread cannot be moved back,
// that goroutine exits still locked and Go discards the thread rather than reuse it.
func (h *Host) Do(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("reading the current network namespace: %w", err)
			return
		}
		defer orig.Close()
		if err := netns.Set(h.ns); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("entering network namespace %s: %w", h.Name, err)
			return
		}
		ferr := fn()
		if err := netns.Set(orig); err != nil {
			errc <- errors.Join(ferr, fmt.Errorf("leaving network namespace %s: %w", h.Name, err))
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// awaitLinkUp waits until veth0 in namespace name carries packets, and returns its
// interface index. The kernel attaches the device's real qdisc from its link-watch work,
// which may run up to a second after `ip link set up` returns; until then the noop qdisc
// drops every packet, and a test's first SYN or ARP request costs it a one-second
// retransmission.
func awaitLinkUp(name string) (int, error) { return awaitDevUp(name, "veth0") }

// awaitDevUp is awaitLinkUp for the device dev.
func awaitDevUp(name, dev string) (int, error) {
	deadline := time.Now().Add(timeout)
	for {
		// Only stdout: ip may warn on stderr ("Peer netns reference is invalid") while
		// the other namespace is being set up.
		var stderr strings.Builder
		cmd := exec.Command("ip", "-n", name, "-o", "link", "show", "dev", dev)
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return 0, fmt.Errorf("ip -n %s link show %s: %v: %s", name, dev, err, strings.TrimSpace(stderr.String()))
		}
		if strings.Contains(string(out), "state UP") && !strings.Contains(string(out), "qdisc noop") {
			// "3: veth0@if2: <BROADCAST,…"
			index, _, _ := strings.Cut(string(out), ":")
			i, err := strconv.Atoi(index)
			if err != nil {
				return 0, fmt.Errorf("ip -n %s link show %s: no interface index in %q", name, dev, out)
			}
			return i, nil
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("%s in %s is not up: %s", dev, name, strings.TrimSpace(string(out)))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func ip(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
