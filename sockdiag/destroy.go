package sockdiag

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tcpreap/tcpreap/inet"
)

// batchSize is how many SOCK_DESTROY requests go in one sendmsg: 256 was
// the fastest of 64, 128, 256 and 512 on 50,000 CLOSE_WAIT sockets on
// Linux 6.18 with two CPUs (the kernel destroys a batch in the sending
// thread, and fewer, larger batches mean fewer round trips). Only the last
// request of a batch asks for an ack: the kernel answers the others only
// when they fail, each in a datagram of its own, and drops the answers that
// overflow the receive buffer, so a batch's answers must fit in it.
const batchSize = 256

// maxDestroyers caps the netlink sockets that destroy at once: the kernel
// work of a destroy runs in the sending thread, so one per CPU helps, and
// more than a few only contend on the socket hash locks.
const maxDestroyers = 4

// ErrNoAnswer is the cause of a destroy whose answer was not read (the
// kernel dropped it, ENOBUFS, or did not answer in time): the socket may or
// may not be destroyed, which only a new look can tell.
var ErrNoAnswer = &Cause{
	short:    "no answer from the kernel",
	sentence: "the kernel's answers to some destroys were lost (dropped, or not given in time); a new look found those sockets still there",
}

// Destroy sends a SOCK_DESTROY with NLM_F_ACK for every target, many to a
// sendmsg, each with the cookie it was dumped with, and returns one error per
// target, in order: nil when the kernel destroyed it, else an *OpError that
// wraps the kernel's errno and what it means (ErrGone, ErrPermission,
// ErrNoDestroy, ErrTimeWait, ErrMPTCPListener), ErrNoAnswer, ErrPending
// for a destroy that waits for a held socket lock (ErrLockHeld) or behind
// one (ErrQueued), or, for a target not sent, ErrNotAttempted and why. A
// listener refused with EINVAL costs one more dump, of the listeners on its
// port, to tell whether it is an MPTCP one; a batch held by a socket's lock
// costs a look-up of its targets (settleStuck).
//
// Nothing is sent for a protocol the kernel cannot destroy (Probe). The
// first destroys go out in batches that double from one until the kernel
// has destroyed a socket: when it answers that nothing can be destroyed here
// (no CAP_NET_ADMIN), the rest are not sent, and a run of sockets that are
// already gone costs a few round trips, not one each. The rest go out on up
// to one netlink socket per CPU at once (at most maxDestroyers), each taking
// the next batch when its last one is answered, and stop at such an answer
// too, or when ctx is done: no batch is sent after that, the answers to
// those already sent are still read, and the rest fail with ErrNotAttempted
// and the context's cause. The extra sockets are opened on first use and
// kept. progress, when not nil, is told after each batch how many targets
// it settled (a progress bar); it is called from several goroutines at once.
func (c *Conn) Destroy(ctx context.Context, targets []Socket, progress func(settled int)) []error {
	// Every target starts as not sent: only the kernel's answer makes one
	// destroyed, so no path that ends early can count a socket it never
	// sent.
	errs := make([]error, len(targets))
	for i := range targets {
		errs[i] = errNotSent
	}
	// Sockets of a protocol the kernel cannot destroy are not sent; after
	// the end of the context, none is, for that reason (not for a probe
	// that the end cut short).
	cannot, some := map[inet.Protocol]error{}, false
	for _, s := range targets {
		if ctx.Err() != nil {
			cannot[s.Protocol], some = context.Cause(ctx), true
		}
		if _, seen := cannot[s.Protocol]; !seen {
			_, cannot[s.Protocol] = c.probe(ctx, s.Protocol)
			some = some || cannot[s.Protocol] != nil
		}
	}
	socks, at := targets, []int(nil) // socks[k] is targets[at[k]]; at nil: the same
	if some {
		socks = nil
		for i, s := range targets {
			if err := cannot[s.Protocol]; err != nil {
				errs[i] = fmt.Errorf("%w: %w", ErrNotAttempted, err)
				continue
			}
			socks, at = append(socks, s), append(at, i)
		}
	}
	out := errs
	if at != nil {
		out = make([]error, len(socks))
		for k := range out {
			out[k] = errs[at[k]]
		}
	}
	d := &destroyRun{conn: c, ctx: ctx, socks: socks, errs: out, progress: progress}
	d.run()
	for k, i := range at {
		errs[i] = out[k]
	}
	c.explainInvalid(ctx, targets, errs)
	c.settleStuck(ctx, targets, errs)
	// While the run goes, an error is a shared value (a success costs no
	// allocation); in the end, each names its target.
	for i, err := range errs {
		var oe *OpError
		if err != nil && !errors.As(err, &oe) {
			errs[i] = opError(&targets[i], err)
		}
	}
	return errs
}

// ErrNotAttempted wraps the reason a target was not sent: what the kernel
// said of an earlier one (no permission), that it has no SOCK_DESTROY, or
// the end of the context.
var ErrNotAttempted = errors.New("not attempted")

// A batchOutcome says what became of the socket a batch went out on.
type batchOutcome uint8

const (
	batchOK     batchOutcome = iota
	batchBroken              // a receive error: answers may be queued on it
	batchStuck               // the kernel holds the sendmsg: do not touch it
)

// stuckTimeout is how long a batch may take before the watchdog gives it
// up (issue 8: a request unanswered for 10 s): longer than the wait for its
// answers (ackTimeout), which starts only once the kernel has taken the
// batch, so that a batch the kernel took is settled by its answers.
var stuckTimeout = 10 * time.Second

// ErrStuck is the cause of a destroy the kernel did not take in time.
var ErrStuck = &Cause{
	short:    "no answer (the socket's lock is held)",
	sentence: "the kernel did not take some destroys within 10 seconds: a socket's lock is held, most likely by its application, stuck (in a send on a hung NFS or FUSE file?); tcpreap cannot free it, and its process ends only when the kernel lets that thread go",
}

// errNotSent is the error of a target that no batch took: a bug, should it
// ever be seen.
var errNotSent = errors.New("not sent")

// A destroyRun is one Destroy's batches.
type destroyRun struct {
	conn  *Conn
	ctx   context.Context
	socks []Socket
	errs  []error
	// progress is told how many targets each batch settled; nil for none.
	progress func(settled int)
	// stop is the reason no further batch is sent: a fatal answer, or the
	// context's end.
	stop atomic.Pointer[error]
}

func (d *destroyRun) run() {
	next := d.ramp()
	if next == len(d.socks) {
		return
	}
	if cause := d.stopped(); cause != nil {
		d.notAttempted(next, len(d.socks), cause)
		return
	}
	d.parallel(next)
}

// notAttempted fails socks[start:end], which were not sent, with the reason
// the run stopped.
func (d *destroyRun) notAttempted(start, end int, cause error) {
	err := fmt.Errorf("%w: %w", ErrNotAttempted, cause)
	for i := start; i < end; i++ {
		d.errs[i] = err
	}
}

// ramp sends batches of 1, 2, 4, … on the main socket until one destroy
// succeeds, a fatal answer comes, or batches reach full size, and returns
// the index of the first socket not sent.
func (d *destroyRun) ramp() int {
	next := 0
	for size := 1; next < len(d.socks) && d.stopped() == nil; size *= 2 {
		end := min(next+size, len(d.socks))
		switch d.batch(d.conn.c, next, end) {
		case batchBroken:
			d.conn.renew()
		case batchStuck:
			d.conn.abandon()
		}
		destroyed := slices.Contains(d.errs[next:end], nil)
		next = end
		if destroyed || size >= batchSize {
			break
		}
	}
	return next
}

// parallel sends the sockets from index from on, in full batches over up to
// one netlink socket per CPU; a batch taken after the run stopped is not
// sent, and fails with the reason.
func (d *destroyRun) parallel(from int) {
	c := d.conn
	batches := (len(d.socks) - from + batchSize - 1) / batchSize
	want := min(batches, c.workers())
	for c.dial != nil && len(c.extra)+1 < want {
		extra, err := c.dial()
		if err != nil {
			break // fewer sockets, same results
		}
		c.extra = append(c.extra, extra)
	}
	// As many as workers says, whatever else the Conn has open (the dumps
	// of its query may have opened more): before Linux 6.9 that is one.
	used := min(len(c.extra), max(want-1, 0))
	sockets := append([]Wire{c.c}, c.extra[:used]...)
	idle := slices.Clone(c.extra[used:])
	next := make(chan int, batches)
	for b := range batches {
		next <- from + b*batchSize
	}
	close(next)
	var wg sync.WaitGroup
	for w := range sockets {
		wg.Go(func() {
			defer func() {
				// A bug in a batch stops the run; the batch's targets keep
				// "no answer", which verification settles.
				if r := recover(); r != nil {
					cause := fmt.Errorf("internal error: %v", r)
					d.stop.CompareAndSwap(nil, &cause)
				}
			}()
			for start := range next {
				end := min(start+batchSize, len(d.socks))
				if cause := d.stopped(); cause != nil {
					d.notAttempted(start, end, cause)
					continue
				}
				switch d.batch(sockets[w], start, end) {
				case batchOK:
					continue
				case batchBroken:
					// Answers may still be queued on a socket that broke
					// (the kernel dropped one: ENOBUFS): the next batch goes
					// out on a fresh one, and the sockets of this batch not
					// answered are settled by verification.
					sockets[w].Close()
				case batchStuck:
					// Closing it would wait for the sendmsg the kernel
					// holds: it is left as it is.
				}
				fresh, err := c.dialFresh()
				if err != nil {
					sockets[w] = nil
					return // the other sockets take the remaining batches
				}
				sockets[w] = fresh
			}
		})
	}
	wg.Wait()
	c.c, c.extra = sockets[0], nil
	for _, nl := range sockets[1:] {
		if nl != nil {
			c.extra = append(c.extra, nl)
		}
	}
	c.extra = append(c.extra, idle...)
	for start := range next { // left over when no socket could be had
		d.notAttempted(start, min(start+batchSize, len(d.socks)), errors.New("no netlink socket could be opened"))
	}
	if c.c == nil { // the main socket broke and none could replace it
		if len(c.extra) > 0 {
			c.c, c.extra = c.extra[0], c.extra[1:]
		} else if fresh, err := c.dialFresh(); err == nil {
			c.c = fresh
		} else {
			c.c = closedConn{err}
		}
	}
}

// batch sends socks[start:end] on nl and notes a fatal answer or the end of
// the context as the reason to stop. It reports whether nl broke.
//
// A watchdog gives the batch stuckTimeout: the kernel destroys a socket
// under its lock, in the sending thread, so a target whose lock is held (its
// application stuck in a send on a hung NFS or FUSE file) holds the sendmsg
// in the kernel. The batch's targets are then a stuckBatch, which
// settleStuck settles, the socket is given up, and the run goes on; the
// thread stays stuck until the kernel lets it go.
func (d *destroyRun) batch(nl Wire, start, end int) (out batchOutcome) {
	errs := slices.Clone(d.errs[start:end]) // the batch's own, in case it is given up
	done := make(chan bool, 1)
	go func() { done <- d.conn.sendBatch(d.ctx, nl, d.socks[start:end], errs) }()
	watchdog := time.NewTimer(stuckTimeout)
	defer watchdog.Stop()
	if d.progress != nil {
		defer d.progress(end - start)
	}
	select {
	case broken := <-done:
		copy(d.errs[start:end], errs)
		if broken {
			out = batchBroken
		}
	case <-watchdog.C:
		err := &stuckBatch{start}
		for i := start; i < end; i++ {
			d.errs[i] = err
		}
		out = batchStuck
		if d.conn.serialized() {
			// Every further request would wait behind this one.
			cause := error(ErrStuck)
			d.stop.CompareAndSwap(nil, &cause)
		}
	}
	if d.ctx.Err() != nil {
		cause := context.Cause(d.ctx)
		d.stop.CompareAndSwap(nil, &cause)
	}
	for _, err := range d.errs[start:end] {
		if fatal(err) {
			cause := error(ErrPermission)
			if errors.Is(err, ErrNoDestroy) {
				cause = ErrNoDestroy
			}
			d.stop.CompareAndSwap(nil, &cause)
			break
		}
	}
	return out
}

// stopped returns why no further batch goes out, or nil.
func (d *destroyRun) stopped() error {
	if p := d.stop.Load(); p != nil {
		return *p
	}
	return nil
}

// workers is how many netlink sockets destroy at once: as many as asked
// for; else one per CPU, at most maxDestroyers, or one where the kernel
// serializes sock_diag (more sockets would only wait on each other).
func (c *Conn) workers() int {
	switch {
	case c.workersWanted > 0:
		return c.workersWanted
	case c.serialized():
		return 1
	}
	return min(runtime.NumCPU(), maxDestroyers)
}

// serialized reports whether the kernel runs every sock_diag request under
// one mutex (sock_diag_mutex, removed in Linux 6.9): there a destroy stuck on
// a socket's lock holds every other request, dumps and look-ups too.
func (c *Conn) serialized() bool { return !c.release.AtLeast(6, 9) }

// dialFresh opens another socket of the Conn's, or says why it cannot.
func (c *Conn) dialFresh() (Wire, error) {
	if c.dial == nil {
		return nil, errors.New("this connection cannot open another socket")
	}
	return c.dial()
}

func opError(s *Socket, err error) error {
	return &OpError{Op: "destroy", Request: Request{Family: s.Family, Protocol: s.Protocol, ID: s.ID}, Err: err}
}

// errNoCookie is the error of a target without a cookie, which is never
// sent (see noCookie).
var errNoCookie = errors.New("refusing to destroy without a cookie")

// batches are the buffers batches are encoded in, reused.
var batches = sync.Pool{New: func() any { return &batch{b: make([]byte, 0, batchSize*(nlmsgHdrLen+requestLen))} }}

// sendBatch sends one batch on one socket and reads its acks. A request that
// cannot be built fails alone. It reports whether the socket must not be
// used again: after a receive error, acks may still be queued on it.
func (c *Conn) sendBatch(ctx context.Context, nl Wire, socks []Socket, errs []error) (broken bool) {
	bt := batches.Get().(*batch)
	defer batches.Put(bt)
	bt.reset(c.nextSeq(len(socks)))
	for i := range socks {
		s := &socks[i]
		if s.ID.Cookie == noCookie {
			errs[i] = errNoCookie
			continue
		}
		if err := bt.add(sockDestroy, 0, &Request{Family: s.Family, Protocol: s.Protocol, ID: s.ID}); err != nil {
			errs[i] = err
			continue
		}
		bt.which = append(bt.which, i)
	}
	if bt.n == 0 {
		return false
	}
	if ctx.Err() != nil {
		err := fmt.Errorf("%w: %w", ErrNotAttempted, context.Cause(ctx))
		for _, i := range bt.which {
			errs[i] = err
		}
		return false
	}
	for _, i := range bt.which {
		errs[i] = ErrNoAnswer // until the kernel answers
	}
	// Only the last request asks for an ack: the kernel answers the others
	// only when they fail, in order, before that ack; one that has no
	// answer by then was destroyed. A lost answer is no exception: the
	// kernel tells the reader that it dropped one (ENOBUFS), and then the
	// requests not answered are "no answer".
	bt.setLastFlags(nlmFAck)
	bufp := receiveBuffers.Get().(*[]byte)
	defer receiveBuffers.Put(bufp)
	err := exchange(nl, bt, *bufp, true, func(k int, typ uint16, _ []byte, errno error) {
		i := bt.which[k]
		if errno == nil && typ != nlmsgError {
			errno = fmt.Errorf("unexpected netlink message type %d in answer to a destroy", typ)
		}
		errs[i] = c.destroyError(&socks[i], errno)
	})
	var se sendError
	switch {
	case errors.As(err, &se):
		for _, i := range bt.which {
			errs[i] = se.error
		}
	case err != nil:
		lost := fmt.Errorf("%w: %v", ErrNoAnswer, err)
		for _, i := range bt.which {
			if errs[i] == ErrNoAnswer {
				errs[i] = lost
			}
		}
		return true
	}
	return false
}

// A sendError is an exchange that failed before anything was sent.
type sendError struct{ error }

func (e sendError) Unwrap() error { return e.error }

// exchange sends the batch in one sendmsg on nl and reads the answers into
// buf: answer(k, typ, payload, errno) for the batch's request k, with the
// answer's type and payload and the kernel's errno (nil for a message that
// is no error, and for an ack of success). Every request is answered,
// unless untilLast: then the last request's answer ends the exchange, and
// each request not answered by then is answered as an ack of success (the
// kernel answers the requests without NLM_F_ACK only when they fail, and in
// order). Once sent, the answers are read to the end within ackTimeout,
// whatever a caller's context says: a run that is stopped still learns what
// it did. It returns an error when the answers could not all be read (a
// sendError when nothing was sent); after a receive error, answers may
// still be queued on nl.
func exchange(nl Wire, bt *batch, buf []byte, untilLast bool, answer func(k int, typ uint16, payload []byte, errno error)) error {
	if err := nl.Send(bt.b); err != nil {
		return sendError{err}
	}
	answered := make([]bool, bt.n)
	left := bt.n
	stop := watch(context.Background(), nl, ackTimeout)
	defer stop()
	for left > 0 {
		n, err := nl.Receive(buf)
		if err != nil {
			return err
		}
		for b := buf[:n]; len(b) > 0; {
			h, payload, rest, err := nextMessage(b)
			if err != nil {
				return err
			}
			b = rest
			k := int(h.Seq - bt.seq)
			if h.Seq-bt.seq >= uint32(bt.n) || answered[k] {
				continue // the late answer to an earlier request
			}
			var errno error
			if h.Type == nlmsgError {
				e, err := answerErrno(payload)
				if err != nil {
					return err
				}
				errno = errnoError(e)
			}
			answered[k] = true
			left--
			answer(k, h.Type, payload, errno)
			if untilLast && k == bt.n-1 {
				for k := range bt.n {
					if !answered[k] {
						answered[k] = true
						answer(k, nlmsgError, nil, nil)
					}
				}
				return nil
			}
		}
	}
	return nil
}

// Name is the name of the engine a Conn is, SOCK_DESTROY's, as results
// record it: "diag".
func (*Conn) Name() string { return "diag" }
