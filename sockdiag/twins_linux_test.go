package sockdiag

import (
	"errors"
	"testing"

	"github.com/tcpreap/tcpreap/inet"
	"github.com/tcpreap/tcpreap/internal/ownnetns"
	"golang.org/x/sys/unix"
)

// TestUDPTwinsAnswerGone: two connected UDP sockets on one four-tuple
// (SO_REUSEADDR), on the real kernel. A destroy by the cookie of one may
// find the other by the tuple and answer ENOENT while the one asked for
// lives on: Doubtful must call for a second look, which finds it there.
func TestUDPTwinsAnswerGone(t *testing.T) {
	if !ownnetns.Inside() {
		t.Skip("needs root, for a network namespace of its own")
	}
	c, err := Dial(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// A fresh pair of twins for each: destroy the first, or the second, alone.
	gone := 0
	for which := range 2 {
		twins := udpTwins(t, c)
		err := c.Destroy(t.Context(), twins[which:which+1], nil)[0]
		seen := c.Lookup(t.Context(), twins[which:which+1])[0]
		t.Logf("twin %d of 2: destroy %v, connected after: %v", which, err, seen.Connected())
		switch {
		case err == nil && seen.Connected():
			t.Errorf("a UDP twin answered destroyed and is still there")
		case errors.Is(err, ErrGone) && seen.Connected():
			gone++
			if !c.Doubtful(t.Context(), &twins[which], err) {
				t.Errorf("a UDP twin answered gone while alive, and the answer was trusted")
			}
		}
	}
	t.Logf("%d of 2 twins answered gone while alive", gone)
}

// udpTwins makes two UDP sockets connected on one four-tuple (SO_REUSEADDR)
// on 127.0.0.1, and returns them as the kernel dumps them.
func udpTwins(t *testing.T, c *Conn) []Socket {
	t.Helper()
	peer := udpSocket(t, 0)
	pa, _ := unix.Getsockname(peer)
	peerPort := pa.(*unix.SockaddrInet4).Port
	first := udpSocket(t, 0)
	fa, _ := unix.Getsockname(first)
	port := fa.(*unix.SockaddrInet4).Port
	second := udpSocket(t, port)
	for _, fd := range []int{first, second} {
		if err := unix.Connect(fd, &unix.SockaddrInet4{Port: peerPort, Addr: [4]byte{127, 0, 0, 1}}); err != nil {
			t.Fatal(err)
		}
	}
	f := &Filter{Protocols: []inet.Protocol{inet.UDP}, LocalPorts: []inet.PortRange{{Lo: uint16(port), Hi: uint16(port)}}}
	var twins []Socket
	for s, err := range c.Query(t.Context(), f) {
		if err != nil {
			t.Fatal(err)
		}
		twins = append(twins, s)
	}
	if len(twins) != 2 {
		t.Fatalf("%d sockets on 127.0.0.1:%d, want the two twins", len(twins), port)
	}
	return twins
}

// udpSocket is a UDP socket with SO_REUSEADDR bound to 127.0.0.1:port (0:
// any), closed with the test.
func udpSocket(t *testing.T, port int) int {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		t.Fatal(err)
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	return fd
}
