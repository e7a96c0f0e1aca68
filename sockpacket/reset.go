package sockpacket

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// An End is one end of a TCP connection to reset: Addr, the address and
// port it has; Peer, the other end's as it sees it (behind a NAT, the
// address it talks to, not the other end's own).
type End struct {
	Addr, Peer netip.AddrPort
	// AlsoPeer sends the peer a RST too, from Addr, with the sequence
	// number the end says it has sent up to (its snd_nxt), for a peer that
	// is not itself an End: a local socket's.
	AlsoPeer bool
}

// Options tune Reset.
type Options struct {
	// Wait is how long an end has to answer its provocation: 1 s when 0.
	Wait time.Duration
	// Link sends on the interface the route to each end leaves by, past
	// this host's netfilter hooks (a router's ends); else through raw IP
	// sockets, as the host sends its own packets (a local socket's ends).
	Link bool
}

// DefaultWait is how long an end has to answer when Options.Wait is 0.
const DefaultWait = time.Second

// The timing of a reset: an unanswered end is provoked again every
// probeEvery, past the kernel's per-socket limit of one challenge ACK in
// tcp_invalid_ratelimit (500 ms by default). Once it has answered and been
// sent its RST, the reset is confirmed: verifyAfter later, and every
// verifyEvery until it answers, the end is sent a segment with a byte of
// data far out of its window, which a live socket answers at once with an
// ACK (a segment with data is not rate-limited) and a closed tuple with a
// RST. A live one is sent a RST again, with the number its ACK says, up to
// maxResets times.
// An ACK with the number of the last RST that comes within aliveAfter of
// it may have left the end before the RST reached it, and is not answered
// with another.
var (
	probeEvery  = 300 * time.Millisecond
	verifyAfter = 10 * time.Millisecond
	verifyEvery = 100 * time.Millisecond
	aliveAfter  = 50 * time.Millisecond
)

const maxResets = 32

// ErrNoPrivilege: packet and raw sockets need CAP_NET_RAW in the network
// namespace they are made in (EPERM).
var ErrNoPrivilege = errors.New("sending and reading forged packets needs CAP_NET_RAW in this network namespace (try sudo)")

// The answers Reset gives an end it did not reset.
var (
	// ErrNoConnection: the end answered its provocation with a reset, or
	// as a listener answers a SYN: it has no such connection (the RST it
	// was sent undoes a handshake the SYN began).
	ErrNoConnection = errors.New("it has no such connection (it answered with a reset)")
	// ErrStillAnswering: the end went on acknowledging new data after
	// every RST it was sent.
	ErrStillAnswering = errors.New("it was sent RSTs with the sequence numbers it announced, and went on answering")
	// ErrUnconfirmed: the end answered and was sent its RST, and then
	// answered nothing within the wait, neither as a live socket nor as a
	// closed tuple: the RST may or may not have reached it.
	ErrUnconfirmed = errors.New("it was sent its RST, and did not confirm it")
)

// A NoAnswerError is the answer for an end that did not answer any of
// its provocations in time: its peer (the other end's address as it sees
// it) is gone or unreachable from it, its answers were lost, or the
// kernel's challenge ACK limits (tcp_challenge_ack_limit, the per-socket
// tcp_invalid_ratelimit) swallowed every one.
type NoAnswerError struct {
	Wait   time.Duration
	Probes int
	// Dropped: the capture that read its answers dropped packets (its
	// buffer full, the host too loaded to read them in time); its answer
	// may have been among them.
	Dropped bool
}

func (e *NoAnswerError) Error() string {
	if e.Dropped {
		return fmt.Sprintf("it did not answer in %s, or its answer was among the packets the capture dropped", e.Wait)
	}
	return fmt.Sprintf("it did not answer in %s", e.Wait)
}

// A sender sends forged segments.
type sender interface {
	send(Segment) error
	close()
}

// A capture reads the segments of its tuples, and says whether it has
// dropped any since it was opened.
type capture interface {
	next(deadline time.Time) (Segment, bool, error)
	dropped() bool
	close()
}

// Reset resets each end: it provokes it with a SYN from its peer's
// address, which a synchronized TCP socket answers with a challenge ACK
// (RFC 5961 4.2) that carries its snd_nxt and rcv_nxt; reads the answer on
// a packet socket that reads the ends' answers alone; and sends the end a
// RST from its peer's address, with the sequence number it expects. It
// then confirms it (see verifyEvery). It returns an answer per end: nil
// (reset, and confirmed), ErrNoConnection, ErrStillAnswering,
// ErrUnconfirmed, a *NoAnswerError, the error of a send (no route, no
// link-layer address), or, after ctx ends, ctx's cause for an end not yet
// answered. Its error is one of opening its sockets (ErrNoPrivilege
// without CAP_NET_RAW); then nothing was sent.
//
// It runs in the network namespace of the calling thread, which the
// caller locks there, and takes Wait plus a fraction of a second: the ends
// go in batches of as many as one capture filter holds (about 140 IPv4
// ends, 50 IPv6 ones), all at once, each on a capture of its own. An end
// has Wait to answer from its first provocation, however long the sends
// before it took, and a Wait more while the answers queued on its
// capture are read: at most three times Wait, on a host too loaded to
// keep up.
func Reset(ctx context.Context, ends []End, o Options) ([]error, error) {
	var s sender
	var err error
	if o.Link {
		s, err = openLink()
	} else {
		s, err = openRaw()
	}
	if err != nil {
		return nil, err
	}
	defer s.close()
	errs := make([]error, len(ends))
	// Every batch's capture is made here, on the caller's thread in the
	// namespace; then the batches run at once, each on its own capture.
	type batch struct {
		at int
		c  capture
	}
	var batches []batch
	defer func() {
		for _, b := range batches {
			b.c.close()
		}
	}()
	for start := 0; start < len(ends); {
		tuples := make([]Tuple, min(len(ends)-start, maxInstructions/cost4))
		for i, e := range ends[start : start+len(tuples)] {
			tuples[i] = Tuple{Src: e.Addr, Dst: e.Peer}
		}
		tuples = tuples[:fits(tuples)]
		c, err := openCapture(tuples)
		for errors.Is(err, unix.ENOMEM) && len(tuples) > 1 {
			// More than the socket's option memory takes.
			tuples = tuples[:len(tuples)/2]
			c, err = openCapture(tuples)
		}
		if err != nil {
			return nil, err
		}
		batches = append(batches, batch{start, c})
		start += len(tuples)
	}
	shared := &lockedSender{s: s}
	var wg sync.WaitGroup
	for k, b := range batches {
		end := len(ends)
		if k+1 < len(batches) {
			end = batches[k+1].at
		}
		wg.Go(func() { resetBatch(ctx, ends[b.at:end], errs[b.at:end], o, shared, b.c) })
	}
	wg.Wait()
	return errs, nil
}

// A lockedSender is a sender several batches share. It keeps the
// segments sent, which every batch's capture reads too where they leave by
// an interface it watches: without NAT, one end's tuple is the other's,
// reversed, and a segment sent to one is from the other's address, whose
// batch may be another.
type lockedSender struct {
	mu   sync.Mutex
	s    sender
	sent map[Segment]bool
}

func (l *lockedSender) send(seg Segment) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.sent == nil {
		l.sent = map[Segment]bool{}
	}
	l.sent[key(seg.Src, seg.Dst).segment(seg)] = true
	return l.s.send(seg)
}

// ours tells whether seg, as a capture reads it, was sent by a batch.
func (l *lockedSender) ours(seg Segment) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sent[seg]
}

func (l *lockedSender) close() {}

// An end is an End being reset.
type end struct {
	End
	probes    int
	nextProbe time.Time
	answerBy  time.Time // its wait, from its first provocation
	answered  bool
	snd, rst  uint32 // the end's snd_nxt as it last said it; the last RST's sequence number
	rstAt     time.Time
	resets    int       // RSTs sent with a new sequence number
	verifyAt  time.Time // when to send the next verifying segment
	confirmBy time.Time // when an unconfirmed reset gives up
	done      bool
}

func key(a, b netip.AddrPort) Tuple {
	return Tuple{netip.AddrPortFrom(a.Addr().Unmap(), a.Port()), netip.AddrPortFrom(b.Addr().Unmap(), b.Port())}
}

// resetBatch resets the ends of one capture, putting each one's answer in
// errs.
func resetBatch(ctx context.Context, batch []End, errs []error, o Options, s *lockedSender, c capture) {
	wait := o.Wait
	if wait <= 0 {
		wait = DefaultWait
	}
	ends := make([]end, len(batch))
	by := make(map[Tuple]int, len(batch))
	for i, e := range batch {
		ends[i] = end{End: e}
		by[key(e.Addr, e.Peer)] = i
	}
	send := s.send
	finish := func(i int, err error) {
		ends[i].done, errs[i] = true, err
	}
	busy := false // the last read returned a segment: more may be queued
	var passed time.Time
	for {
		now := time.Now()
		wake := now
		// While the capture has answers queued, they are read first: the
		// ends are sent more and given up on once it has none, or every
		// wait whatever comes, and then an end has a wait more.
		if !busy || now.Sub(passed) >= wait {
			wake = now.Add(wait)
			grace := time.Duration(0)
			if busy {
				grace = wait
			}
			pending := false
			for i := range ends {
				e := &ends[i]
				switch {
				case e.done:
					continue
				case ctx.Err() != nil && !e.answered:
					finish(i, context.Cause(ctx))
					continue
				case e.answered && !now.Before(e.confirmBy.Add(grace)):
					finish(i, ErrUnconfirmed)
					continue
				case e.answered:
					if !now.Before(e.verifyAt) {
						// Far behind what it expects, with an acceptable ACK: out
						// of its window whatever it received since.
						if err := send(Segment{Src: e.Peer, Dst: e.Addr, Seq: e.rst - 1<<30, Ack: e.snd - 1<<30, Flags: ACK, Len: 1}); err != nil {
							finish(i, err)
							continue
						}
						e.verifyAt = now.Add(verifyEvery)
					}
					wake = minTime(wake, minTime(e.verifyAt, e.confirmBy))
				case e.probes > 0 && !now.Before(e.answerBy.Add(grace)):
					finish(i, &NoAnswerError{Wait: wait, Probes: e.probes, Dropped: c.dropped()})
					continue
				default:
					if !now.Before(e.nextProbe) {
						// A SYN, whatever its sequence number, is answered
						// with a challenge ACK and never taken as data.
						if err := send(Segment{Src: e.Peer, Dst: e.Addr, Seq: rand.Uint32(), Flags: SYN}); err != nil {
							finish(i, err)
							continue
						}
						if e.probes++; e.probes == 1 {
							// Sending the ends before it may have taken a while.
							e.answerBy = time.Now().Add(wait)
						}
						e.nextProbe = now.Add(probeEvery)
					}
					wake = minTime(wake, minTime(e.nextProbe, e.answerBy))
				}
				pending = true
			}
			if !pending {
				return
			}
			passed = time.Now()
		}
		seg, ok, err := c.next(wake)
		busy = ok
		if err != nil {
			for i := range ends {
				if !ends[i].done {
					finish(i, fmt.Errorf("reading the answers: %w", err))
				}
			}
			return
		}
		if !ok {
			continue
		}
		i, mine := by[key(seg.Src, seg.Dst)]
		if !mine || ends[i].done || s.ours(seg) {
			continue
		}
		e := &ends[i]
		now = time.Now()
		switch {
		case seg.Flags&RST != 0 && e.answered:
			// Its tuple answers as a closed one: the reset is confirmed.
			finish(i, nil)
		case seg.Flags&RST != 0:
			finish(i, ErrNoConnection)
		case seg.Flags&ACK == 0:
		case seg.Flags&SYN != 0:
			// A listener's answer to a SYN: no connection on the tuple (any
			// more, when its RST came first), and the handshake the SYN
			// began is undone.
			_ = send(Segment{Src: e.Peer, Dst: e.Addr, Seq: seg.Ack, Flags: RST})
			if e.answered {
				finish(i, nil)
			} else {
				finish(i, ErrNoConnection)
			}
		case e.answered && seg.Ack == e.rst && now.Sub(e.rstAt) < aliveAfter:
			// Sent before the RST reached it.
		case e.resets == maxResets && seg.Ack != e.rst:
			finish(i, ErrStillAnswering)
		default:
			// It lives: a RST with the sequence number it expects now.
			if err := send(Segment{Src: e.Peer, Dst: e.Addr, Seq: seg.Ack, Flags: RST}); err != nil {
				finish(i, err)
				continue
			}
			if !e.answered || seg.Ack != e.rst {
				e.resets++
			}
			if !e.answered {
				e.answered, e.confirmBy = true, now.Add(wait)
			}
			e.snd, e.rst, e.rstAt = seg.Seq, seg.Ack, now
			e.verifyAt = now.Add(verifyAfter)
			if e.AlsoPeer {
				_ = send(Segment{Src: e.Addr, Dst: e.Peer, Seq: seg.Seq, Flags: RST})
			}
		}
	}
}

// segment is s with the tuple's unmapped addresses, as the capture reads
// it.
func (t Tuple) segment(s Segment) Segment {
	s.Src, s.Dst = t.Src, t.Dst
	return s
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
