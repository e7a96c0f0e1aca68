package sockpacket_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/tcpreap/tcpreap/internal/ownnetns"
	"github.com/tcpreap/tcpreap/sockpacket"
)

func TestMain(m *testing.M) { ownnetns.Main(m) }

// pair connects a client to a server on addr (loopback), both plain TCP.
func pair(t *testing.T, addr string) (client, server *net.TCPConn) {
	t.Helper()
	var lc net.ListenConfig
	lc.SetMultipathTCP(false)
	l, err := lc.Listen(context.Background(), "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	d := net.Dialer{Timeout: time.Second}
	d.SetMultipathTCP(false)
	c, err := d.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); s.Close() })
	return c.(*net.TCPConn), s.(*net.TCPConn)
}

func addrOf(a net.Addr) netip.AddrPort { return a.(*net.TCPAddr).AddrPort() }

// reset runs Reset on a thread of the test's namespace.
func reset(t *testing.T, ends []sockpacket.End, o sockpacket.Options) []error {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	errs, err := sockpacket.Reset(context.Background(), ends, o)
	if err != nil {
		t.Fatal(err)
	}
	return errs
}

// readReset requires that a read on c fails with ECONNRESET at once.
func readReset(t *testing.T, what string, c *net.TCPConn) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(time.Second))
	_, err := c.Read(make([]byte, 1))
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("%s: read %v, want ECONNRESET", what, err)
	}
}

func TestIntegrationResetLocal(t *testing.T) {
	if !ownnetns.Inside() {
		t.Skip("needs root: the sockets are reset in a network namespace of the test's own")
	}
	for _, addr := range []string{"127.0.0.1:0", "[::1]:0"} {
		for _, link := range []bool{false, true} {
			c, s := pair(t, addr)
			if _, err := c.Write([]byte("hello")); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Read(make([]byte, 5)); err != nil {
				t.Fatal(err)
			}
			var ends []sockpacket.End
			if link {
				// Both ends provoked, each reset from its own answer.
				ends = []sockpacket.End{{Addr: addrOf(s.LocalAddr()), Peer: addrOf(c.LocalAddr())}, {Addr: addrOf(c.LocalAddr()), Peer: addrOf(s.LocalAddr())}}
			} else {
				ends = []sockpacket.End{{Addr: addrOf(s.LocalAddr()), Peer: addrOf(c.LocalAddr()), AlsoPeer: true}}
			}
			for i, err := range reset(t, ends, sockpacket.Options{Link: link}) {
				if err != nil {
					t.Errorf("%s link %v: end %s: %v", addr, link, ends[i].Addr, err)
				}
			}
			readReset(t, "server", s)
			readReset(t, "client", c)
		}
	}
}

func TestIntegrationResetNoConnection(t *testing.T) {
	if !ownnetns.Inside() {
		t.Skip("needs root: the sockets are reset in a network namespace of the test's own")
	}
	// A port nobody listens on answers the SYN with a RST.
	ends := []sockpacket.End{{Addr: netip.MustParseAddrPort("127.0.0.1:9"), Peer: netip.MustParseAddrPort("127.0.0.1:40000")}}
	if errs := reset(t, ends, sockpacket.Options{}); !errors.Is(errs[0], sockpacket.ErrNoConnection) {
		t.Errorf("got %v, want ErrNoConnection", errs[0])
	}
}
