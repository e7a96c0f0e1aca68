package sockdiag

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mdlayher/netlink"
	"github.com/tcpreap/tcpreap/inet"
	"golang.org/x/sys/unix"
)

// A Conn is a NETLINK_SOCK_DIAG socket, and the extra sockets it opens to
// destroy in parallel. It is not safe for concurrent use: a dump and a
// destroy at once would read each other's answers.
type Conn struct {
	c Wire
	// dial opens another socket in the same network namespace; nil when
	// the Conn cannot have more.
	dial  func() (Wire, error)
	extra []Wire
	// seq numbers the requests, so that an answer is known by its
	// sequence number, and a late one to an earlier request is not taken
	// for another's.
	seq atomic.Uint32
	// release is the kernel's, which gives some errnos their meaning.
	release Release
	// noCgroupCond is set once the kernel refused a filter program with
	// INET_DIAG_BC_CGROUP_COND, which its release would have.
	noCgroupCond bool

	// netns is the namespace descriptor the Conn was dialed in; 0: the
	// calling thread's; -1: not known (NewConn).
	netns int
	// workersWanted is Config.Workers.
	workersWanted int

	probeMu sync.Mutex
	probed  map[inet.Protocol]probeResult
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
	ackTimeout  = 8 * time.Second
	dumpTimeout = 2 * time.Minute
)

// Dial opens a NETLINK_SOCK_DIAG socket. cfg may be nil.
func Dial(cfg *Config) (*Conn, error) {
	if cfg == nil {
		cfg = &Config{}
	}
	dial := func() (Wire, error) {
		c, err := netlink.Dial(netlinkSockDiag, &netlink.Config{NetNS: cfg.NetNS})
		if err != nil {
			return nil, fmt.Errorf("cannot open a NETLINK_SOCK_DIAG socket: %w", err)
		}
		// Error acks then carry only the request's header, not its payload.
		_ = c.SetOption(netlink.CapAcknowledge, true)
		// Room for the acks of a whole batch and for large dump datagrams;
		// the kernel caps this at net.core.rmem_max, enough for a batch.
		_ = c.SetReadBuffer(batchSize * 1024)
		w, err := newKernelWire(c)
		if err != nil {
			return nil, fmt.Errorf("cannot use a NETLINK_SOCK_DIAG socket: %w", err)
		}
		return w, nil
	}
	c, err := dial()
	if err != nil {
		return nil, err
	}
	return &Conn{c: c, dial: dial, release: RunningRelease(), netns: cfg.NetNS, workersWanted: cfg.Workers}, nil
}

// NewConn makes a Conn of a Wire, such as a test fake's. dial, if not nil,
// opens more Wires to the same kernel, for parallel dumps and destroys.
// release is the kernel's behind w (the zero Release: the running kernel's),
// which gives some of its answers their meaning.
func NewConn(w Wire, dial func() (Wire, error), release Release) *Conn {
	if release == (Release{}) {
		release = RunningRelease()
	}
	return &Conn{c: w, dial: dial, release: release, netns: -1} // its namespace is not known
}

// nextSeq reserves n sequence numbers and returns the first.
func (c *Conn) nextSeq(n int) uint32 {
	return c.seq.Add(uint32(n)) - uint32(n) + 1
}

// receiveBuffers hold the datagrams being read: one per dump or batch at a
// time, reused.
var receiveBuffers = sync.Pool{New: func() any { b := make([]byte, receiveBufferLen); return &b }}

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
		wanted := true
		err := c.dump(ctx, req, func(s *Socket, _ []byte) bool {
			wanted = yield(*s, nil)
			return wanted
		})
		if err != nil && wanted {
			yield(Socket{}, err)
		}
	}
}

// dump is Dump on the main socket that hands yield each socket and the
// attributes that follow its inet_diag_msg, valid until yield returns, and
// returns why it failed. A main socket whose dump failed is replaced.
//
// The kernel builds a dump's datagrams as they are read, so it has no cause
// to drop one; should a read fail all the same (ENOBUFS), a dump that has
// not handed anything to yield yet is taken again, up to dumpAttempts times.
func (c *Conn) dump(ctx context.Context, req Request, yield func(s *Socket, attrs []byte) bool) error {
	for attempt := 1; ; attempt++ {
		yielded := false
		err := c.dumpOn(ctx, c.c, req, func(s *Socket, attrs []byte) bool {
			yielded = true
			return yield(s, attrs)
		})
		if err == nil {
			return nil
		}
		c.renew() // the rest of the dump may still be queued on the socket
		if yielded || attempt == dumpAttempts || !LostAnswer(err) {
			return err
		}
	}
}

// dumpAttempts is how many times a dump that lost an answer is taken.
const dumpAttempts = 3

// dumpOn runs one dump on nl and returns why it failed; nl is not to be
// used again after a failure, when answers may still be queued on it. Once
// yield returns false, the rest of the dump is read and dropped.
func (c *Conn) dumpOn(ctx context.Context, nl Wire, req Request, yield func(s *Socket, attrs []byte) bool) error {
	if ctx.Err() != nil {
		return &OpError{Op: "dump", Request: req, Err: context.Cause(ctx)}
	}
	var bt batch
	bt.reset(c.nextSeq(1))
	if err := bt.add(sockDiagByFamily, nlmFDump, &req); err != nil {
		return err
	}
	if err := nl.Send(bt.b); err != nil {
		return dumpError(req, err)
	}
	stop := watch(ctx, nl, dumpTimeout)
	defer stop()
	bufp := receiveBuffers.Get().(*[]byte)
	defer receiveBuffers.Put(bufp)
	failed := func(err error) error {
		if ctx.Err() != nil {
			err = context.Cause(ctx)
		}
		return dumpError(req, err)
	}
	wanted := true // the caller still wants sockets; else the rest is drained
	var s Socket   // one for the whole dump: yield may not keep it
	for {
		n, err := nl.Receive(*bufp)
		if err != nil {
			return failed(err)
		}
		for b := (*bufp)[:n]; len(b) > 0; {
			h, payload, rest, err := nextMessage(b)
			if err != nil {
				return failed(err)
			}
			b = rest
			if h.Seq != bt.seq {
				continue // the late answer to an earlier request
			}
			switch h.Type {
			case nlmsgDone:
				if errno, err := answerErrno(payload); err != nil || errno != 0 {
					return failed(errors.Join(err, errnoError(errno)))
				}
				return nil
			case nlmsgError:
				errno, err := answerErrno(payload)
				if err == nil && errno == 0 {
					err = errors.New("an ack instead of a dump")
				}
				return failed(errors.Join(err, errnoError(errno)))
			case sockDiagByFamily:
			default:
				return failed(fmt.Errorf("unexpected netlink message type %d in a dump", h.Type))
			}
			if !wanted {
				continue
			}
			s = Socket{Protocol: req.Protocol}
			if err := s.UnmarshalBinary(payload); err != nil {
				return failed(err)
			}
			wanted = yield(&s, payload[socketMsgLen:])
		}
	}
}

// errnoError is errno as an error: nil for 0.
func errnoError(errno unix.Errno) error {
	if errno == 0 {
		return nil
	}
	return errno
}

// closedConn stands for a socket that could not be opened: every use fails
// with the reason.
type closedConn struct{ err error }

func (c closedConn) Send([]byte) error               { return c.err }
func (c closedConn) Receive([]byte) (int, error)     { return 0, c.err }
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
func watch(ctx context.Context, nl Wire, limit time.Duration) (stop func()) {
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
