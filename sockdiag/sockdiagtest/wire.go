package sockdiagtest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/mdlayher/netlink"
	"github.com/tcpreap/tcpreap/sockdiag"
	"golang.org/x/sys/unix"
)

// A Wire is a fake NETLINK_SOCK_DIAG socket: the requests of each sendmsg go
// to a function that answers them with datagrams, and reads take those
// datagrams in order.
type Wire struct {
	serve func(reqs []netlink.Message) [][]netlink.Message

	mu    sync.Mutex
	queue [][]netlink.Message
}

var _ sockdiag.Wire = (*Wire)(nil)

// NewWire makes a fake socket whose sendmsg calls serve with the requests it
// carries and queues the datagrams serve returns. serve may block, as a
// kernel that holds a sendmsg does.
func NewWire(serve func(reqs []netlink.Message) [][]netlink.Message) *Wire {
	return &Wire{serve: serve}
}

// Send decodes the netlink messages of b and serves them. A nil datagram
// among serve's answers makes its read fail with ENOBUFS, as when the kernel
// dropped answers that overflowed the receive buffer.
func (w *Wire) Send(b []byte) error {
	var reqs []netlink.Message
	for len(b) > 0 {
		if len(b) < 16 {
			return errors.New("a netlink message shorter than its header")
		}
		n := min(align(int(binary.NativeEndian.Uint32(b[0:4]))), len(b))
		var m netlink.Message
		if err := m.UnmarshalBinary(b[:n]); err != nil {
			return err
		}
		reqs = append(reqs, m)
		b = b[n:]
	}
	answers := w.serve(reqs)
	w.mu.Lock()
	w.queue = append(w.queue, answers...)
	w.mu.Unlock()
	return nil
}

// Receive encodes the next queued datagram into b. With none queued it
// fails at once, as a real socket does when its read deadline passes.
func (w *Wire) Receive(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.queue) == 0 {
		return 0, fmt.Errorf("recvmsg: %w", os.ErrDeadlineExceeded)
	}
	d := w.queue[0]
	w.queue = w.queue[1:]
	if d == nil {
		return 0, fmt.Errorf("recvmsg: %w", unix.ENOBUFS)
	}
	n := 0
	for _, m := range d {
		l := 16 + len(m.Data)
		if n+align(l) > len(b) {
			return 0, fmt.Errorf("recvmsg: a datagram longer than the %d-byte buffer", len(b))
		}
		binary.NativeEndian.PutUint32(b[n:], uint32(l))
		binary.NativeEndian.PutUint16(b[n+4:], uint16(m.Header.Type))
		binary.NativeEndian.PutUint16(b[n+6:], uint16(m.Header.Flags))
		binary.NativeEndian.PutUint32(b[n+8:], m.Header.Sequence)
		binary.NativeEndian.PutUint32(b[n+12:], m.Header.PID)
		copy(b[n+16:], m.Data)
		clear(b[n+l : n+align(l)])
		n += align(l)
	}
	return n, nil
}

// SetReadDeadline does nothing: a fake never waits.
func (w *Wire) SetReadDeadline(time.Time) error { return nil }

// Close does nothing.
func (w *Wire) Close() error { return nil }

func align(n int) int { return (n + 3) &^ 3 }
