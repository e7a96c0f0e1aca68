package sockdiag

import (
	"errors"
	"fmt"
	"iter"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// conn is the part of *netlink.Conn that a Conn uses; nltest fakes it.
type conn interface {
	Send(m netlink.Message) (netlink.Message, error)
	SendMessages(m []netlink.Message) ([]netlink.Message, error)
	ReceiveIter() iter.Seq2[netlink.Message, error]
	SetReadDeadline(t time.Time) error
	Close() error
}

var _ conn = (*netlink.Conn)(nil)

// A Conn is a NETLINK_SOCK_DIAG socket, and the extra sockets it opens to
// destroy in parallel. It is not safe for concurrent use: a dump and a
// destroy at once would read each other's answers.
type Conn struct {
	c conn
	// dial opens another socket in the same network namespace; nil when
	// the Conn cannot have more (a fake).
	dial  func() (conn, error)
	extra []conn
}

// Config says where a Conn works.
type Config struct {
	// NetNS is a file descriptor of the network namespace to work in; 0 is
	// the namespace of the calling thread.
	NetNS int
}

// batchSize is how many SOCK_DESTROY requests go in one sendmsg. The
// kernel answers each with its own ack datagram and drops acks that overflow
// the receive buffer, so a batch's acks must fit in it.
const batchSize = 128

// ackTimeout bounds the wait for the kernel's answer to one batch, and
// dumpTimeout a whole dump (a million sockets take seconds).
const (
	ackTimeout  = 10 * time.Second
	dumpTimeout = 2 * time.Minute
)

// maxDestroyers caps the netlink sockets that destroy at once: the kernel
// work of a destroy runs in the sending thread, so one per CPU helps, and
// more than a few only contend on the socket hash locks.
const maxDestroyers = 4

// Dial opens a NETLINK_SOCK_DIAG socket. cfg may be nil.
func Dial(cfg *Config) (*Conn, error) {
	if cfg == nil {
		cfg = &Config{}
	}
	dial := func() (conn, error) {
		// A pooled read buffer spares a MSG_PEEK before every read (one per
		// destroy ack); the kernel never sends a dump datagram over 32 KiB.
		c, err := netlink.Dial(unix.NETLINK_SOCK_DIAG, &netlink.Config{NetNS: cfg.NetNS, MessageBufferSize: 64 << 10})
		if err != nil {
			return nil, fmt.Errorf("cannot open a NETLINK_SOCK_DIAG socket: %w", err)
		}
		// Error acks then carry only the request's header, not its payload.
		_ = c.SetOption(netlink.CapAcknowledge, true)
		// Room for the acks of a whole batch and for large dump datagrams;
		// the kernel caps this at net.core.rmem_max, enough for a batch.
		_ = c.SetReadBuffer(batchSize * 2048)
		return c, nil
	}
	c, err := dial()
	if err != nil {
		return nil, err
	}
	return &Conn{c: c, dial: dial}, nil
}

// NewConn wraps a netlink connection, a real one or an nltest fake. dial,
// if not nil, opens more connections for parallel destroys.
func NewConn(c *netlink.Conn, dial func() (*netlink.Conn, error)) *Conn {
	nc := &Conn{c: c}
	if dial != nil {
		nc.dial = func() (conn, error) { return dial() }
	}
	return nc
}

// Close closes the netlink sockets.
func (c *Conn) Close() error {
	errs := []error{c.c.Close()}
	for _, e := range c.extra {
		errs = append(errs, e.Close())
	}
	return errors.Join(errs...)
}

// Dump streams the sockets that one SOCK_DIAG_BY_FAMILY request returns, as
// the kernel sends them; memory stays bounded by one datagram. Stopping the
// iteration early still drains the rest of the dump from the socket.
func (c *Conn) Dump(req Request) iter.Seq2[Socket, error] {
	return func(yield func(Socket, error) bool) {
		data, err := req.MarshalBinary()
		if err != nil {
			yield(Socket{}, err)
			return
		}
		_, err = c.c.Send(netlink.Message{
			Header: netlink.Header{Type: unix.SOCK_DIAG_BY_FAMILY, Flags: netlink.Request | netlink.Dump},
			Data:   data,
		})
		if err != nil {
			yield(Socket{}, &OpError{Op: "dump", Request: req, Err: err})
			return
		}
		_ = c.c.SetReadDeadline(time.Now().Add(dumpTimeout))
		defer c.c.SetReadDeadline(time.Time{})
		for m, err := range c.c.ReceiveIter() {
			if err != nil {
				yield(Socket{}, &OpError{Op: "dump", Request: req, Err: err})
				return
			}
			if m.Header.Type != unix.SOCK_DIAG_BY_FAMILY {
				yield(Socket{}, &OpError{Op: "dump", Request: req, Err: fmt.Errorf("unexpected netlink message type %d in a dump", m.Header.Type)})
				return
			}
			s := Socket{Protocol: req.Protocol}
			if err := s.UnmarshalBinary(m.Data); err != nil {
				yield(Socket{}, &OpError{Op: "dump", Request: req, Err: err})
				return
			}
			if !yield(s, nil) {
				return
			}
		}
	}
}

// Destroy sends a SOCK_DESTROY with NLM_F_ACK for every socket, many to a
// sendmsg, each with the cookie it was dumped with, and returns one error per
// socket, in order: nil when the kernel destroyed it, else an *OpError whose
// Err is the kernel's errno (ENOENT: the socket is gone or was replaced).
//
// More than one batch goes out on up to one netlink socket per CPU at once
// (at most maxDestroyers), each socket taking the next batch when its last
// one is answered; the extra sockets are opened on first use and kept.
func (c *Conn) Destroy(socks []Socket) []error {
	errs := make([]error, len(socks))
	batches := (len(socks) + batchSize - 1) / batchSize
	socket := []conn{c.c}
	for want := min(batches, runtime.NumCPU(), maxDestroyers); c.dial != nil && len(c.extra)+1 < want; {
		extra, err := c.dial()
		if err != nil {
			break // fewer sockets, same results
		}
		c.extra = append(c.extra, extra)
	}
	socket = append(socket, c.extra[:min(len(c.extra), max(batches-1, 0))]...)
	next := make(chan int, batches)
	for b := range batches {
		next <- b * batchSize
	}
	close(next)
	var wg sync.WaitGroup
	broken := make([]bool, len(socket))
	for w, nl := range socket {
		wg.Go(func() {
			for start := range next {
				end := min(start+batchSize, len(socks))
				if sendBatch(nl, socks[start:end], errs[start:end]) {
					broken[w] = true
					return // the other sockets take the remaining batches
				}
			}
		})
	}
	wg.Wait()
	c.replace(socket, broken)
	for start := range next { // left over when every socket broke
		for i := start; i < min(start+batchSize, len(socks)); i++ {
			errs[i] = &OpError{Op: "destroy", Request: Request{Family: socks[i].Family, Protocol: socks[i].Protocol, ID: socks[i].ID}, Err: ErrNoAnswer}
		}
	}
	return errs
}

// replace closes the sockets that broke and dials a new main one, so that a
// later dump does not read acks left queued on them.
func (c *Conn) replace(used []conn, broken []bool) {
	for w, nl := range used {
		if !broken[w] || c.dial == nil {
			continue
		}
		nl.Close()
		if w == 0 {
			if fresh, err := c.dial(); err == nil {
				c.c = fresh
			}
			continue
		}
		c.extra = slices.DeleteFunc(c.extra, func(e conn) bool { return e == nl })
	}
}

// ErrNoAnswer is the error of a destroy the kernel's answer to which was
// not read (a receive error or timeout): the socket may or may not be
// destroyed, which only a new dump can tell.
var ErrNoAnswer = errors.New("no answer from the kernel")

// sendBatch sends one batch on one socket and reads its acks. A request that
// cannot be built fails alone. It reports whether the socket must not be
// used again: after a receive error, acks may still be queued on it.
func sendBatch(nl conn, socks []Socket, errs []error) (broken bool) {
	msgs := make([]netlink.Message, 0, len(socks))
	which := make([]int, 0, len(socks)) // msgs[k] is for socks[which[k]]
	reqs := make([]Request, len(socks))
	for i, s := range socks {
		reqs[i] = Request{Family: s.Family, Protocol: s.Protocol, ID: s.ID}
		if s.ID.Cookie == noCookie {
			errs[i] = &OpError{Op: "destroy", Request: reqs[i], Err: errors.New("refusing to destroy without a cookie")}
			continue
		}
		data, err := reqs[i].MarshalBinary()
		if err != nil {
			errs[i] = &OpError{Op: "destroy", Request: reqs[i], Err: err}
			continue
		}
		msgs = append(msgs, netlink.Message{
			Header: netlink.Header{Type: unix.SOCK_DESTROY, Flags: netlink.Request | netlink.Acknowledge},
			Data:   data,
		})
		which = append(which, i)
	}
	if len(msgs) == 0 {
		return false
	}
	sent, err := nl.SendMessages(msgs)
	if err != nil {
		for _, i := range which {
			errs[i] = &OpError{Op: "destroy", Request: reqs[i], Err: err}
		}
		return false
	}
	index := make(map[uint32]int, len(sent))
	for k, m := range sent {
		index[m.Header.Sequence] = which[k]
	}
	answered := make(map[int]bool, len(sent))
	_ = nl.SetReadDeadline(time.Now().Add(ackTimeout))
	defer nl.SetReadDeadline(time.Time{})
	for len(answered) < len(sent) {
		var recvErr error
		got := 0
		for m, err := range nl.ReceiveIter() {
			got++
			seq, errno := m.Header.Sequence, error(nil)
			if err != nil {
				var oe *netlink.OpError
				if !errors.As(err, &oe) || oe.Sequence == 0 {
					recvErr = err
					break
				}
				seq, errno = oe.Sequence, oe.Err
			}
			i, ok := index[seq]
			if !ok || answered[i] {
				continue
			}
			if err == nil && m.Header.Type != netlink.Error {
				errno = fmt.Errorf("unexpected netlink message type %d in answer to a destroy", m.Header.Type)
			}
			answered[i] = true
			if errno != nil {
				errs[i] = &OpError{Op: "destroy", Request: reqs[i], Err: errno}
			}
		}
		if got == 0 && recvErr == nil {
			recvErr = errors.New("the netlink socket returned nothing")
		}
		if recvErr != nil {
			for _, i := range which {
				if !answered[i] {
					errs[i] = &OpError{Op: "destroy", Request: reqs[i], Err: fmt.Errorf("%w: %v", ErrNoAnswer, recvErr)}
				}
			}
			return true
		}
	}
	return false
}
