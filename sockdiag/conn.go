package sockdiag

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"sync"
	"time"

	"github.com/mdlayher/netlink"
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
	// release is the kernel's, which gives some errnos their meaning.
	release Release

	// netns is the namespace descriptor the Conn was dialed in; 0: the
	// calling thread's; -1: not known (NewConn).
	netns int
	// workersWanted is Config.Workers.
	workersWanted int

	// OnDestroyed, when set, is told after each batch of destroys how many
	// targets it settled, for a progress bar. It is called from several
	// goroutines at once.
	OnDestroyed func(n int)

	probeMu sync.Mutex
	probed  map[Protocol]probeResult
	orphanProbe
}

// Config says where a Conn works.
type Config struct {
	// NetNS is a file descriptor of the network namespace to work in; 0 is
	// the namespace of the calling thread.
	NetNS int
	// Workers is how many netlink sockets destroy at once; 0 chooses (see
	// Conn.workers).
	Workers int
}

// Time limits on the kernel's answers, so that no run hangs: ackTimeout
// bounds the wait for the answers to one batch of destroys, dumpTimeout a
// whole dump (a million sockets take seconds). A context's deadline, when
// earlier, wins.
const (
	ackTimeout  = 10 * time.Second
	dumpTimeout = 2 * time.Minute
)

// Dial opens a NETLINK_SOCK_DIAG socket. cfg may be nil.
func Dial(cfg *Config) (*Conn, error) {
	if cfg == nil {
		cfg = &Config{}
	}
	dial := func() (conn, error) {
		// A pooled read buffer spares a MSG_PEEK before every read (one per
		// destroy ack); the kernel never sends a dump datagram over 32 KiB.
		c, err := netlink.Dial(netlinkSockDiag, &netlink.Config{NetNS: cfg.NetNS, MessageBufferSize: 64 << 10})
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
	return &Conn{c: c, dial: dial, release: RunningRelease(), netns: cfg.NetNS, workersWanted: cfg.Workers}, nil
}

// NewConn wraps a netlink connection, a real one or an nltest fake. dial,
// if not nil, opens more connections for parallel destroys. release is the
// kernel's behind c (the zero Release: the running kernel's), which gives
// some of its answers their meaning.
func NewConn(c *netlink.Conn, dial func() (*netlink.Conn, error), release Release) *Conn {
	if release == (Release{}) {
		release = RunningRelease()
	}
	nc := &Conn{c: c, release: release, netns: -1} // its namespace is not known
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
// iteration early still drains the rest of the dump from the socket. ctx
// ends the dump early, with its error.
func (c *Conn) Dump(ctx context.Context, req Request) iter.Seq2[Socket, error] {
	return func(yield func(Socket, error) bool) {
		c.dump(ctx, req, func(s Socket, _ []byte, err error) bool { return yield(s, err) })
	}
}

// dump is Dump that also hands yield the attributes that follow each
// socket's inet_diag_msg, valid until yield returns.
func (c *Conn) dump(ctx context.Context, req Request, yield func(s Socket, attrs []byte, err error) bool) {
	if ctx.Err() != nil {
		yield(Socket{}, nil, &OpError{Op: "dump", Request: req, Err: context.Cause(ctx)})
		return
	}
	data, err := req.MarshalBinary()
	if err != nil {
		yield(Socket{}, nil, err)
		return
	}
	_, err = c.c.Send(netlink.Message{
		Header: netlink.Header{Type: sockDiagByFamily, Flags: netlink.Request | netlink.Dump},
		Data:   data,
	})
	if err != nil {
		yield(Socket{}, nil, dumpError(req, err))
		return
	}
	stop := watch(ctx, c.c, dumpTimeout)
	defer stop()
	fail := func(err error) {
		if ctx.Err() != nil {
			err = context.Cause(ctx)
		}
		c.renew() // the rest of the dump may still be queued on the socket
		yield(Socket{}, nil, dumpError(req, err))
	}
	for m, err := range c.c.ReceiveIter() {
		if err != nil {
			fail(err)
			return
		}
		if m.Header.Type != sockDiagByFamily {
			fail(fmt.Errorf("unexpected netlink message type %d in a dump", m.Header.Type))
			return
		}
		s := Socket{Protocol: req.Protocol}
		if err := s.UnmarshalBinary(m.Data); err != nil {
			fail(err)
			return
		}
		if !yield(s, m.Data[socketMsgLen:], nil) {
			return
		}
	}
}

// closedConn stands for a socket that could not be opened: every use fails
// with the reason.
type closedConn struct{ err error }

func (c closedConn) Send(netlink.Message) (netlink.Message, error) { return netlink.Message{}, c.err }
func (c closedConn) SendMessages([]netlink.Message) ([]netlink.Message, error) {
	return nil, c.err
}
func (c closedConn) ReceiveIter() iter.Seq2[netlink.Message, error] {
	return func(yield func(netlink.Message, error) bool) { yield(netlink.Message{}, c.err) }
}
func (c closedConn) SetReadDeadline(time.Time) error { return nil }
func (c closedConn) Close() error                    { return nil }

// renew replaces the main socket with a fresh one, when the Conn can dial,
// so that nothing left queued on the old one is read as a later answer.
// abandon replaces the main socket with a fresh one, leaving the old one
// alone: a thread is stuck in it (see ErrStuck), and closing it would wait
// for that thread.
func (c *Conn) abandon() {
	if c.dial == nil {
		c.c = closedConn{errors.New("the netlink socket was given up")}
		return
	}
	fresh, err := c.dial()
	if err != nil {
		fresh = closedConn{err}
	}
	c.c = fresh
}

func (c *Conn) renew() {
	if c.dial == nil {
		return
	}
	if fresh, err := c.dial(); err == nil {
		c.c.Close()
		c.c = fresh
	}
}

// watch bounds the reads on nl: by limit from now or ctx's deadline,
// whichever comes first, and at once when ctx is done, so that a read
// blocked in the kernel returns. The returned func lifts the bound.
func watch(ctx context.Context, nl conn, limit time.Duration) (stop func()) {
	deadline := time.Now().Add(limit)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = nl.SetReadDeadline(deadline)
	cancel := context.AfterFunc(ctx, func() { _ = nl.SetReadDeadline(time.Unix(1, 0)) })
	return func() {
		cancel()
		_ = nl.SetReadDeadline(time.Time{})
	}
}
