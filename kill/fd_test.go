package kill_test

import (
	"errors"
	"os"
	"slices"
	"testing"

	"github.com/tcpreap/tcpreap/kill"
	"github.com/tcpreap/tcpreap/sockdiag"
	"github.com/tcpreap/tcpreap/sockdiag/sockdiagtest"
	"golang.org/x/sys/unix"
)

func TestParseEngine(t *testing.T) {
	for _, w := range []string{"auto", "diag", "fd"} {
		if got, err := kill.ParseEngine(w); err != nil || got != w {
			t.Errorf("ParseEngine(%q) = %q, %v", w, got, err)
		}
	}
	for _, w := range []string{"", "nosuch", "FD", "bpf "} {
		if _, err := kill.ParseEngine(w); err == nil {
			t.Errorf("ParseEngine(%q) took it", w)
		}
	}
	if err := kill.Offered("fd"); err != nil {
		t.Errorf("this kernel has pidfd_getfd, and Offered says %v", err)
	}
}

// TestFDWithoutHolder: the fd engine answers for each socket it cannot
// reach why, and acts on no descriptor whose cookie is not the target's:
// a socket without an inode (TIME-WAIT), one no process holds, one only
// unreadable processes could hold, and one whose holder's descriptor is
// another socket now (it is still there: held by none; gone from the
// kernel: gone).
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
	targets := []sockdiag.Socket{tw, unheld, unknown, moved, movedGone}
	k := &sockdiagtest.Kernel{Sockets: slices.Clone(targets[:4])}
	me := []kill.Holder{{PID: os.Getpid(), FD: fd}}
	e := &kill.FD{Conn: k.Conn(), Holders: func() (map[uint32][]kill.Holder, error) {
		return map[uint32][]kill.Holder{1004: me, 1005: me, 1003: nil}, errors.New("some processes could not be read")
	}}
	errs := e.Destroy(t.Context(), targets, nil)
	for i, want := range []error{kill.ErrNoHolder, kill.ErrHoldersUnknown, kill.ErrHoldersUnknown, kill.ErrNoHolder, sockdiag.ErrGone} {
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
