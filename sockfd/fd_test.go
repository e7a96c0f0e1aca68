package sockfd_test

import (
	"errors"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"testing"

	"github.com/tcpreap/tcpreap/host"
	"github.com/tcpreap/tcpreap/inet"
	"github.com/tcpreap/tcpreap/kill"
	"github.com/tcpreap/tcpreap/sockdiag"
	"github.com/tcpreap/tcpreap/sockdiag/sockdiagtest"
	"github.com/tcpreap/tcpreap/sockfd"
	"golang.org/x/sys/unix"
)

func TestOffered(t *testing.T) {
	if why := sockfd.Offered(); why != "" {
		t.Errorf("this kernel has pidfd_getfd, and Offered says %s", why)
	}
}

// TestFDWithoutHolder: the fd engine answers for each socket it cannot
// reach why, and acts on no descriptor whose cookie is not the target's:
// a socket without an inode (TIME-WAIT), one no process holds, one only
// unreadable processes could hold, and one whose holder's descriptor is
// another socket now (it is still there: held by none; gone from the
// kernel: gone). Any of them the kernel no longer shows is gone: a planned
// socket that closed, or was replaced on its tuple, is not a failure.
func TestFDWithoutHolder(t *testing.T) {
	// A UDP socket of this process, unbound: the descriptor the holders
	// point at, whose cookie is no target's.
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	tw := socket(sockdiag.TimeWait, 40000, 1)
	unheld := socket(sockdiag.Established, 40001, 2)
	unheld.Inode = 1002
	unknown := socket(sockdiag.Established, 40002, 3)
	unknown.Inode = 1003
	moved := socket(sockdiag.Established, 40003, 4)
	moved.Inode = 1004
	movedGone := socket(sockdiag.Established, 40004, 5)
	movedGone.Inode = 1005
	twGone := socket(sockdiag.TimeWait, 40005, 6)
	unheldGone := socket(sockdiag.Established, 40006, 7)
	unheldGone.Inode = 1007
	unknownGone := socket(sockdiag.Established, 40007, 8)
	unknownGone.Inode = 1008
	targets := []sockdiag.Socket{tw, unheld, unknown, moved, movedGone, twGone, unheldGone, unknownGone}
	k := &sockdiagtest.Kernel{Sockets: slices.Clone(targets[:4])}
	me := []host.Owner{{PID: os.Getpid(), FD: fd}}
	e := &sockfd.Engine{Conn: k.Conn(), Holders: func() (map[uint32][]host.Owner, error) {
		return map[uint32][]host.Owner{1004: me, 1005: me, 1003: nil}, errors.New("some processes could not be read")
	}}
	errs := e.Destroy(t.Context(), targets, nil)
	for i, want := range []error{sockfd.ErrNoHolder, sockfd.ErrHoldersUnknown, sockfd.ErrHoldersUnknown, sockfd.ErrNoHolder, sockdiag.ErrGone,
		sockdiag.ErrGone, sockdiag.ErrGone, sockdiag.ErrGone} {
		if !errors.Is(errs[i], want) {
			t.Errorf("target %d: %v, want %v", i, errs[i], want)
		}
	}
	if e.Name() != "fd" || !kill.Refused(errs[0]) {
		t.Errorf("engine %q, %v refused: %v; want fd, true", e.Name(), errs[0], kill.Refused(errs[0]))
	}
	// The descriptor was not touched: it can still connect.
	if err := unix.Connect(fd, &unix.SockaddrInet4{Port: 9, Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Errorf("the holder's descriptor, another socket, was acted on: connect: %v", err)
	}
}

// socket is a TCP socket from 192.0.2.1:5432 to 192.0.2.2:port.
func socket(state sockdiag.State, port uint16, cookie sockdiag.Cookie) sockdiag.Socket {
	return sockdiag.Socket{
		Protocol: inet.TCP, Family: inet.IPv4, State: state,
		ID: sockdiag.SockID{
			Local:  netip.AddrPortFrom(netip.MustParseAddr("192.0.2.1"), 5432),
			Remote: netip.AddrPortFrom(netip.MustParseAddr("192.0.2.2"), port),
			Cookie: cookie,
		},
	}
}

// TestFDHolderExited: a holder that exited between the read of the holders
// and the destroy (pidfd_open answers ESRCH) is passed over; with no other
// holder, the kernel's look-up decides: gone, or held by no process now.
func TestFDHolderExited(t *testing.T) {
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	exited := []host.Owner{{PID: cmd.Process.Pid, FD: 3}}
	left := socket(sockdiag.FinWait1, 40000, 1)
	left.Inode = 1001
	closed := socket(sockdiag.Established, 40001, 2)
	closed.Inode = 1002
	k := &sockdiagtest.Kernel{Sockets: []sockdiag.Socket{left}}
	e := &sockfd.Engine{Conn: k.Conn(), Holders: func() (map[uint32][]host.Owner, error) {
		return map[uint32][]host.Owner{1001: exited, 1002: exited}, nil
	}}
	errs := e.Destroy(t.Context(), []sockdiag.Socket{left, closed}, nil)
	if !errors.Is(errs[0], sockfd.ErrNoHolder) || !errors.Is(errs[1], sockdiag.ErrGone) {
		t.Errorf("answers %v; want no holder, then gone", errs)
	}
}
