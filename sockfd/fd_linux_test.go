package sockfd_test

import (
	"errors"
	"os"
	"testing"

	"github.com/tcpreap/tcpreap/host"
	"github.com/tcpreap/tcpreap/inet"
	"github.com/tcpreap/tcpreap/sockdiag"
	"github.com/tcpreap/tcpreap/sockdiag/sockdiagtest"
	"github.com/tcpreap/tcpreap/sockfd"
	"golang.org/x/sys/unix"
)

// TestFDOtherNamespace: a descriptor whose socket is the target's by its
// cookie but lives in another network namespace than the engine's (a plan
// whose part names a socket of another namespace) is never acted on: the
// socket stays connected, and the target is held by no process here.
func TestFDOtherNamespace(t *testing.T) {
	fd, cookie := connectedUDP(t)
	here, err := sockfd.NamespaceCookie()
	if err != nil {
		t.Fatal(err)
	}
	target := socket(sockdiag.Established, 40000, sockdiag.Cookie(cookie))
	target.Protocol, target.Inode = inet.UDP, 1001
	k := &sockdiagtest.Kernel{Sockets: []sockdiag.Socket{target}}
	e := &sockfd.Engine{Conn: k.Conn(), NetNS: here + 1, Holders: func() (map[uint32][]host.Owner, error) {
		return map[uint32][]host.Owner{1001: {{PID: os.Getpid(), FD: fd}}}, nil
	}}
	if errs := e.Destroy(t.Context(), []sockdiag.Socket{target}, nil); !errors.Is(errs[0], sockfd.ErrNoHolder) {
		t.Errorf("a socket of another namespace: %v, want no holder", errs[0])
	}
	if _, err := unix.Getpeername(fd); err != nil {
		t.Errorf("the socket of another namespace was disconnected: %v", err)
	}
	// In the engine's own namespace, the same descriptor is acted on.
	e = &sockfd.Engine{Conn: k.Conn(), NetNS: here, Holders: e.Holders}
	if errs := e.Destroy(t.Context(), []sockdiag.Socket{target}, nil); errs[0] != nil {
		t.Errorf("a socket of the engine's namespace: %v, want disconnected", errs[0])
	}
	if _, err := unix.Getpeername(fd); err == nil {
		t.Error("the socket of the engine's namespace is still connected")
	}
}

// TestFDOtherProtocol: a descriptor whose socket has the target's cookie
// but another protocol than the target names (a plan file's target,
// edited) is never acted on: the socket stays connected. Named as it is,
// it is disconnected.
func TestFDOtherProtocol(t *testing.T) {
	fd, cookie := connectedUDP(t)
	holders := func() (map[uint32][]host.Owner, error) {
		return map[uint32][]host.Owner{1001: {{PID: os.Getpid(), FD: fd}}}, nil
	}
	target := socket(sockdiag.Established, 40000, sockdiag.Cookie(cookie))
	target.Protocol, target.Inode = inet.UDP, 1001
	asTCP := target
	asTCP.Protocol = inet.TCP
	e := &sockfd.Engine{Conn: (&sockdiagtest.Kernel{}).Conn(), Holders: holders}
	if errs := e.Destroy(t.Context(), []sockdiag.Socket{asTCP}, nil); !errors.Is(errs[0], sockdiag.ErrGone) {
		t.Errorf("a TCP target the kernel does not show: %v, want gone", errs[0])
	}
	if _, err := unix.Getpeername(fd); err != nil {
		t.Fatalf("the UDP socket was disconnected as a TCP target: %v", err)
	}
	k := &sockdiagtest.Kernel{Sockets: []sockdiag.Socket{target}}
	e = &sockfd.Engine{Conn: k.Conn(), Holders: holders}
	if errs := e.Destroy(t.Context(), []sockdiag.Socket{target}, nil); errs[0] != nil {
		t.Errorf("the target named as it is: %v, want disconnected", errs[0])
	}
	if _, err := unix.Getpeername(fd); err == nil {
		t.Error("the target named as it is is still connected")
	}
}

// connectedUDP is a UDP socket connected to 127.0.0.1:9, closed when the
// test ends, and its cookie.
func connectedUDP(t *testing.T) (int, uint64) {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Connect(fd, &unix.SockaddrInet4{Port: 9, Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	cookie, err := unix.GetsockoptUint64(fd, unix.SOL_SOCKET, unix.SO_COOKIE)
	if err != nil {
		t.Fatal(err)
	}
	return fd, cookie
}
