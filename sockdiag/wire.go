package sockdiag

import (
	"encoding/binary"
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// A Wire is a NETLINK_SOCK_DIAG socket seen as whole datagrams: the kernel's
// (Dial opens one) or a test fake's (sockdiagtest). A Conn encodes its
// requests into one buffer per sendmsg and decodes the answers where they
// were read, so that a dump or a batch of destroys costs no allocation per
// socket.
type Wire interface {
	// Send sends b, one or more whole netlink messages, in one sendmsg.
	Send(b []byte) error
	// Receive reads the next datagram into b and returns its length. It
	// waits no longer than the read deadline, and a datagram that may not
	// have fit in b is an error.
	Receive(b []byte) (int, error)
	SetReadDeadline(t time.Time) error
	Close() error
}

// receiveBufferLen is the buffer a datagram is read into: the kernel never
// sends a dump datagram over 32 KiB (netlink_dump caps it), nor an ack of
// more than a request.
const receiveBufferLen = 64 << 10

// kernelWire is a Wire on a netlink socket of the kernel's: mdlayher/netlink
// opens and configures it (in a network namespace, with its options), and
// the datagrams go through its raw descriptor, on the runtime's poller.
type kernelWire struct {
	nl *netlink.Conn
	rc syscall.RawConn
}

var _ Wire = (*kernelWire)(nil)

func newKernelWire(nl *netlink.Conn) (*kernelWire, error) {
	rc, err := nl.SyscallConn()
	if err != nil {
		nl.Close()
		return nil, err
	}
	return &kernelWire{nl: nl, rc: rc}, nil
}

func (w *kernelWire) Send(b []byte) error {
	var err error
	werr := w.rc.Write(func(fd uintptr) bool {
		for {
			_, err = unix.SendmsgN(int(fd), b, nil, nil, 0)
			if err != unix.EINTR {
				return err != unix.EAGAIN
			}
		}
	})
	if err == nil {
		err = werr
	}
	if err != nil {
		return fmt.Errorf("sendmsg: %w", err)
	}
	return nil
}

func (w *kernelWire) Receive(b []byte) (int, error) {
	var n, flags int
	var err error
	rerr := w.rc.Read(func(fd uintptr) bool {
		for {
			n, _, flags, _, err = unix.Recvmsg(int(fd), b, nil, 0)
			if err != unix.EINTR {
				return err != unix.EAGAIN
			}
		}
	})
	if err == nil {
		err = rerr
	}
	switch {
	case err != nil:
		return 0, fmt.Errorf("recvmsg: %w", err)
	case flags&unix.MSG_TRUNC != 0:
		return 0, fmt.Errorf("recvmsg: a datagram longer than the %d-byte buffer", len(b))
	}
	return n, nil
}

func (w *kernelWire) SetReadDeadline(t time.Time) error { return w.nl.SetReadDeadline(t) }
func (w *kernelWire) Close() error                      { return w.nl.Close() }

// The netlink message header (struct nlmsghdr) and the types and flags
// tcpreap uses.
const (
	nlmsgHdrLen = 16

	nlmsgError = 0x2 // NLMSG_ERROR
	nlmsgDone  = 0x3 // NLMSG_DONE

	nlmFRequest = 0x1   // NLM_F_REQUEST
	nlmFAck     = 0x4   // NLM_F_ACK
	nlmFDump    = 0x300 // NLM_F_DUMP: NLM_F_ROOT|NLM_F_MATCH
)

// A header is struct nlmsghdr.
type header struct {
	Len   uint32
	Type  uint16
	Flags uint16
	Seq   uint32
	PID   uint32
}

func (h header) put(b []byte) {
	binary.NativeEndian.PutUint32(b[0:4], h.Len)
	binary.NativeEndian.PutUint16(b[4:6], h.Type)
	binary.NativeEndian.PutUint16(b[6:8], h.Flags)
	binary.NativeEndian.PutUint32(b[8:12], h.Seq)
	binary.NativeEndian.PutUint32(b[12:16], h.PID)
}

// nextMessage splits the first netlink message off a datagram: its header,
// its payload and the rest of the datagram.
func nextMessage(b []byte) (h header, payload, rest []byte, err error) {
	if len(b) < nlmsgHdrLen {
		return h, nil, nil, fmt.Errorf("a netlink message of %d bytes, shorter than its header", len(b))
	}
	h = header{
		Len:   binary.NativeEndian.Uint32(b[0:4]),
		Type:  binary.NativeEndian.Uint16(b[4:6]),
		Flags: binary.NativeEndian.Uint16(b[6:8]),
		Seq:   binary.NativeEndian.Uint32(b[8:12]),
		PID:   binary.NativeEndian.Uint32(b[12:16]),
	}
	if h.Len < nlmsgHdrLen || int(h.Len) > len(b) {
		return h, nil, nil, fmt.Errorf("a netlink message that claims %d bytes in %d", h.Len, len(b))
	}
	payload = b[nlmsgHdrLen:h.Len]
	next := min(nlmsgAlign(int(h.Len)), len(b))
	return h, payload, b[next:], nil
}

func nlmsgAlign(n int) int { return (n + 3) &^ 3 }

// answerErrno reads the errno of an NLMSG_ERROR or NLMSG_DONE payload: a
// negative int, 0 for an ack or a dump that went well.
func answerErrno(payload []byte) (unix.Errno, error) {
	if len(payload) < 4 {
		return 0, errors.New("a netlink error or done message without its error number")
	}
	return unix.Errno(-int32(binary.NativeEndian.Uint32(payload[0:4]))), nil
}

// A batch is requests encoded back to back, as one sendmsg carries them,
// numbered from seq on.
type batch struct {
	b    []byte
	n    int
	seq  uint32
	last int // where the last request starts in b
	// which is the caller's index of each request, for callers that leave
	// some out.
	which []int
}

// reset empties the batch for requests numbered from seq on, keeping its
// buffer.
func (bt *batch) reset(seq uint32) {
	bt.b, bt.n, bt.seq, bt.which = bt.b[:0], 0, seq, bt.which[:0]
}

// add appends one request of the given type and flags (NLM_F_REQUEST is
// added). A request that cannot be encoded is not added.
func (bt *batch) add(typ, flags uint16, r *Request) error {
	start := len(bt.b)
	bt.b = append(bt.b, make([]byte, nlmsgHdrLen)...)
	var err error
	if bt.b, err = r.appendBinary(bt.b); err != nil {
		bt.b = bt.b[:start]
		return err
	}
	header{Len: uint32(len(bt.b) - start), Type: typ, Flags: flags | nlmFRequest, Seq: bt.seq + uint32(bt.n)}.put(bt.b[start:])
	bt.n, bt.last = bt.n+1, start
	return nil
}

// setLastFlags adds flags to the batch's last request.
func (bt *batch) setLastFlags(flags uint16) {
	if bt.n > 0 {
		f := bt.b[bt.last+6 : bt.last+8]
		binary.NativeEndian.PutUint16(f, binary.NativeEndian.Uint16(f)|flags)
	}
}
