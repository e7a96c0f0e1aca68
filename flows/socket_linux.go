package flows

import (
	"fmt"
	"syscall"
	"time"
	"unsafe"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// socketWire is the netlink socket itself, read and written through the Go
// runtime's poller, so that its deadline holds.
type socketWire struct {
	c  *netlink.Conn
	rc syscall.RawConn
}

// newSocketWire is c's socket as a wire, with a receive buffer of
// recvBufferSize if it can have it (more than rmem_max needs
// CAP_NET_ADMIN, which a Conn needs anyway); it returns the buffer's size
// as the kernel counts it.
func newSocketWire(c *netlink.Conn) (wire, int, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, 0, err
	}
	size := 0
	_ = rc.Control(func(fd uintptr) {
		if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, recvBufferSize) != nil {
			_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, recvBufferSize)
		}
		size, _ = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF)
	})
	return &socketWire{c: c, rc: rc}, size, nil
}

func (s *socketWire) send(b []byte) error {
	var err error
	if werr := s.rc.Write(func(fd uintptr) bool {
		err = unix.Sendto(int(fd), b, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})
		return err != unix.EAGAIN
	}); werr != nil {
		return werr
	}
	return err
}

func (s *socketWire) receive(b []byte) (int, error) {
	var n, flags int
	var err error
	if rerr := s.rc.Read(func(fd uintptr) bool {
		n, _, flags, _, err = unix.Recvmsg(int(fd), b, nil, 0)
		return err != unix.EAGAIN
	}); rerr != nil {
		return 0, rerr
	}
	if err == nil && flags&unix.MSG_TRUNC != 0 {
		err = fmt.Errorf("a netlink datagram larger than %d bytes", len(b))
	}
	return n, err
}

// receiveMany is recvmmsg(2): one syscall for the many answers of a window,
// each of which the kernel queues as a datagram of its own (measured: a
// syscall per answer made the GETs of 100,000 entries take 2 s of a 2.5 s
// cut).
func (s *socketWire) receiveMany(slots [][]byte, sizes []int) (int, error) {
	hdrs := make([]unix.Mmsghdr, len(slots))
	iovs := make([]unix.Iovec, len(slots))
	for i, b := range slots {
		iovs[i].Base = &b[0]
		iovs[i].SetLen(len(b))
		hdrs[i].Hdr.Iov = &iovs[i]
		hdrs[i].Hdr.SetIovlen(1)
	}
	var n int
	var err error
	if rerr := s.rc.Read(func(fd uintptr) bool {
		r, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&hdrs[0])), uintptr(len(hdrs)), unix.MSG_DONTWAIT, 0, 0)
		n, err = int(r), nil
		if e != 0 {
			n, err = 0, e
		}
		return err != unix.EAGAIN
	}); rerr != nil {
		return 0, rerr
	}
	if err != nil {
		return 0, err
	}
	for i := range n {
		if hdrs[i].Hdr.Flags&unix.MSG_TRUNC != 0 {
			return 0, fmt.Errorf("a netlink datagram larger than %d bytes", len(slots[i]))
		}
		sizes[i] = int(hdrs[i].Len)
	}
	return n, nil
}

func (s *socketWire) setDeadline(t time.Time) error { return s.c.SetDeadline(t) }
