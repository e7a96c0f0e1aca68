package testnet

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netns"
)

// The addresses of the routed network: a client and a server in different documentation
// ranges (RFC 5737), and a router with a leg in each.
var (
	ClientV4      = netip.MustParseAddr("198.51.100.2")
	RouterOutside = netip.MustParseAddr("198.51.100.1") // the router on the client's side
	RouterInside  = netip.MustParseAddr("192.0.2.1")    // the router on the server's side
	ServerV4      = netip.MustParseAddr("192.0.2.2")
	ServerOtherV4 = netip.MustParseAddr("192.0.2.3") // the server's second address
	// IPv6: two /112 subnets inside the one documentation /64 the tests may use.
	ClientV6        = netip.MustParseAddr("2001:db8::1:2")
	RouterOutsideV6 = netip.MustParseAddr("2001:db8::1:1")
	RouterInsideV6  = netip.MustParseAddr("2001:db8::2:1")
	ServerV6        = netip.MustParseAddr("2001:db8::2:2")
	errNoRuleset    = errors.New("no nftables ruleset given")
	routerSysctls   = map[string]string{"net/ipv4/ip_forward": "1", "net/ipv6/conf/all/forwarding": "1",
		"net/netfilter/nf_conntrack_tcp_loose": "0"}
)

// Routed is three hosts in a line: Client (198.51.100.2, 2001:db8::1:2) — Router
// (198.51.100.1 and 2001:db8::1:1 on veth0, 192.0.2.1 and 2001:db8::2:1 on veth1) — Server
// (192.0.2.2, 192.0.2.3 and 2001:db8::2:2), each a named network namespace. The router
// forwards IPv4 and IPv6 (in its namespace only), runs the nftables
// ruleset it was made with, and has nf_conntrack_tcp_loose=0: a mid-stream TCP packet
// with no conntrack entry is invalid there, not picked up as a new flow. Close undoes all.
type Routed struct {
	Client, Router, Server *Host

	tracked
}

// NewRouted builds a Routed network whose router runs ruleset (nft -f syntax) for a test;
// it fails the test on error and closes the network in t.Cleanup. Without root it skips,
// except under CI=true, where it fails.
func NewRouted(t testing.TB, ruleset string) *Routed {
	t.Helper()
	if err := CheckRoot(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true: %v", err)
		}
		t.Skip(err)
	}
	base := fmt.Sprintf("tcpreap-%d-%d", os.Getpid(), seq.Add(1))
	r := &Routed{Client: &Host{Name: base + "-c", ns: -1}, Router: &Host{Name: base + "-r", ns: -1}, Server: &Host{Name: base + "-s", ns: -1}}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Error(err)
		}
	})
	if err := r.setup(ruleset); err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *Routed) hosts() []*Host { return []*Host{r.Client, r.Router, r.Server} }

func (r *Routed) setup(ruleset string) error {
	if strings.TrimSpace(ruleset) == "" {
		return errNoRuleset
	}
	c, rt, s := r.Client.Name, r.Router.Name, r.Server.Name
	steps := [][]string{
		{"netns", "add", c},
		{"netns", "add", rt},
		{"netns", "add", s},
		{"-n", rt, "link", "add", "veth0", "type", "veth", "peer", "name", "veth0", "netns", c},
		{"-n", rt, "link", "add", "veth1", "type", "veth", "peer", "name", "veth0", "netns", s},
		{"-n", c, "addr", "add", ClientV4.String() + "/24", "dev", "veth0"},
		{"-n", rt, "addr", "add", RouterOutside.String() + "/24", "dev", "veth0"},
		{"-n", rt, "addr", "add", RouterInside.String() + "/24", "dev", "veth1"},
		{"-n", s, "addr", "add", ServerV4.String() + "/24", "dev", "veth0"},
		{"-n", s, "addr", "add", ServerOtherV4.String() + "/24", "dev", "veth0"},
		// nodad: else the addresses stay tentative for a second or more.
		{"-n", c, "addr", "add", ClientV6.String() + "/112", "dev", "veth0", "nodad"},
		{"-n", rt, "addr", "add", RouterOutsideV6.String() + "/112", "dev", "veth0", "nodad"},
		{"-n", rt, "addr", "add", RouterInsideV6.String() + "/112", "dev", "veth1", "nodad"},
		{"-n", s, "addr", "add", ServerV6.String() + "/112", "dev", "veth0", "nodad"},
	}
	for _, h := range []string{c, rt, s} {
		steps = append(steps, []string{"-n", h, "link", "set", "lo", "up"}, []string{"-n", h, "link", "set", "veth0", "up"})
	}
	steps = append(steps, []string{"-n", rt, "link", "set", "veth1", "up"},
		[]string{"-n", c, "route", "add", "default", "via", RouterOutside.String()},
		[]string{"-n", s, "route", "add", "default", "via", RouterInside.String()},
		[]string{"-n", c, "-6", "route", "add", "default", "via", RouterOutsideV6.String()},
		[]string{"-n", s, "-6", "route", "add", "default", "via", RouterInsideV6.String()})
	for _, args := range steps {
		if err := ip(args...); err != nil {
			return err
		}
	}
	for _, h := range r.hosts() {
		index, err := awaitDevUp(h.Name, "veth0")
		if err != nil {
			return err
		}
		h.veth = index
		if h.ns, err = netns.GetFromName(h.Name); err != nil {
			return fmt.Errorf("opening network namespace %s: %w", h.Name, err)
		}
	}
	if _, err := awaitDevUp(rt, "veth1"); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	nft := r.Router.Command(ctx, "nft", "-f", "-")
	nft.Stdin = strings.NewReader(ruleset)
	if out, err := nft.CombinedOutput(); err != nil {
		return fmt.Errorf("nft -f in %s: %v: %s", rt, err, strings.TrimSpace(string(out)))
	}
	// /proc/sys/net is the namespace of the thread that opens it.
	return r.Router.Do(func() error {
		for key, value := range routerSysctls {
			path := filepath.Join("/proc/sys", key)
			if err := os.WriteFile(path, []byte(value), 0o644); err != nil {
				return err
			}
			if got, err := os.ReadFile(path); err != nil || strings.TrimSpace(string(got)) != value {
				return fmt.Errorf("%s in %s is %q, not %s (%v)", path, rt, got, value, err)
			}
		}
		return nil
	})
}

// Close kills every process left in the three namespaces, closes every socket the network
// made, and deletes the namespaces (which removes the veth pairs). It is safe to call more
// than once.
func (r *Routed) Close() error { return r.closeHosts(r.hosts()...) }

// ListenUDP opens a UDP socket in h on addr.
func (r *Routed) ListenUDP(h *Host, addr netip.AddrPort) (*net.UDPConn, error) {
	var c *net.UDPConn
	err := h.Do(func() (err error) {
		c, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(addr))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", h.Name, err)
	}
	r.track(c)
	return c, nil
}

// Connect dials to from the client (MPTCP off) and returns both ends: the client's, and
// the one l accepted, within the package's timeout.
func (r *Routed) Connect(l *net.TCPListener, to netip.AddrPort) (client, server *net.TCPConn, err error) {
	accepted := make(chan *net.TCPConn, 1)
	go func() {
		_ = l.SetDeadline(time.Now().Add(timeout))
		c, err := l.AcceptTCP()
		if err != nil {
			c = nil
		}
		accepted <- c
	}()
	d := net.Dialer{Timeout: timeout}
	d.SetMultipathTCP(false)
	var c net.Conn
	if err := r.Client.Do(func() (err error) {
		c, err = d.Dial("tcp", to.String())
		return err
	}); err != nil {
		return nil, nil, fmt.Errorf("%s: dial %s: %w", r.Client.Name, to, err)
	}
	r.track(c)
	s := <-accepted
	if s == nil {
		return nil, nil, fmt.Errorf("%s: the server accepted no connection to %s", r.Server.Name, to)
	}
	r.track(s)
	return c.(*net.TCPConn), s, nil
}

// DialUDP opens a UDP socket in the client connected to to.
func (r *Routed) DialUDP(to netip.AddrPort) (*net.UDPConn, error) {
	var c *net.UDPConn
	err := r.Client.Do(func() (err error) {
		c, err = net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(to))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", r.Client.Name, err)
	}
	r.track(c)
	return c, nil
}
