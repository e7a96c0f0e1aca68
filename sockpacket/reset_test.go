package sockpacket

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// A fakeEnd is a TCP end as the kernel keeps it, to the point a reset
// needs: it answers a SYN with a challenge ACK unless swallowed, takes a
// RST with exactly its rcv_nxt, and may go on receiving data.
type fakeEnd struct {
	End
	snd, rcv uint32
	silent   bool
	swallow  int    // challenge ACKs a rate limit swallows first
	grow     uint32 // rcv_nxt grows by this after each challenge ACK (data in flight)
	refuse   bool   // no connection: answers with a RST
	deaf     bool   // answers the first SYN, then nothing
	reset    bool
}

type fakeNet struct {
	ends  []*fakeEnd
	queue []Segment
	sent  []Segment
}

func (n *fakeNet) send(s Segment) error {
	n.sent = append(n.sent, s)
	for _, e := range n.ends {
		if s.Src != e.Peer || s.Dst != e.Addr || e.silent {
			continue
		}
		switch {
		case e.reset && s.Len > 0:
			// A closed tuple answers a segment with a reset.
			n.queue = append(n.queue, Segment{Src: e.Addr, Dst: e.Peer, Seq: s.Ack, Flags: RST})
		case e.reset:
		case s.Len > 0:
			// Out of its window: an ACK at once, whatever the rate limit.
			n.queue = append(n.queue, Segment{Src: e.Addr, Dst: e.Peer, Seq: e.snd, Ack: e.rcv, Flags: ACK})
		case e.refuse && s.Flags&SYN != 0:
			n.queue = append(n.queue, Segment{Src: e.Addr, Dst: e.Peer, Seq: s.Ack, Flags: RST})
		case s.Flags&SYN != 0 && e.swallow > 0:
			e.swallow--
		case s.Flags&SYN != 0:
			n.queue = append(n.queue, Segment{Src: e.Addr, Dst: e.Peer, Seq: e.snd, Ack: e.rcv, Flags: ACK})
			e.rcv += e.grow
			e.silent = e.deaf
		case s.Flags&RST != 0 && s.Seq == e.rcv:
			e.reset = true
		case s.Flags&RST != 0:
			// In the window, not exact: a challenge ACK, when the rate limit
			// lets it.
			if e.swallow == 0 {
				n.queue = append(n.queue, Segment{Src: e.Addr, Dst: e.Peer, Seq: e.snd, Ack: e.rcv, Flags: ACK})
			}
		}
	}
	return nil
}

func (n *fakeNet) close() {}

func (n *fakeNet) dropped() bool { return false }

func (n *fakeNet) next(deadline time.Time) (Segment, bool, error) {
	if len(n.queue) == 0 {
		time.Sleep(time.Until(deadline))
		return Segment{}, false, nil
	}
	s := n.queue[0]
	n.queue = n.queue[1:]
	return s, true, nil
}

func quick(t *testing.T) {
	old := [4]time.Duration{probeEvery, verifyAfter, verifyEvery, aliveAfter}
	probeEvery, verifyAfter, verifyEvery, aliveAfter = 20*time.Millisecond, 0, 10*time.Millisecond, 0
	t.Cleanup(func() { probeEvery, verifyAfter, verifyEvery, aliveAfter = old[0], old[1], old[2], old[3] })
}

func TestResetBatch(t *testing.T) {
	quick(t)
	ap := netip.MustParseAddrPort
	client := &fakeEnd{End: End{Addr: ap("198.51.100.2:40000"), Peer: ap("198.51.100.1:8080")}, snd: 100, rcv: 900}
	server := &fakeEnd{End: End{Addr: ap("192.0.2.2:80"), Peer: ap("192.0.2.1:40000")}, snd: 900, rcv: 100, swallow: 2}
	busy := &fakeEnd{End: End{Addr: ap("[2001:db8::2:2]:80"), Peer: ap("[2001:db8::1:2]:5000")}, snd: 5, rcv: 7, grow: 1000}
	gone := &fakeEnd{End: End{Addr: ap("192.0.2.3:81"), Peer: ap("192.0.2.1:40001")}, silent: true}
	closed := &fakeEnd{End: End{Addr: ap("192.0.2.3:82"), Peer: ap("192.0.2.1:40002")}, refuse: true}
	deaf := &fakeEnd{End: End{Addr: ap("192.0.2.3:83"), Peer: ap("192.0.2.1:40003")}, deaf: true}
	n := &fakeNet{ends: []*fakeEnd{client, server, busy, gone, closed, deaf}}
	batch := []End{client.End, server.End, busy.End, gone.End, closed.End, deaf.End}
	errs := make([]error, len(batch))
	resetBatch(context.Background(), batch, errs, Options{Wait: 200 * time.Millisecond}, &lockedSender{s: n}, n)
	for i, e := range []*fakeEnd{client, server, busy} {
		if errs[i] != nil || !e.reset {
			t.Errorf("%s: %v, reset %v", e.Addr, errs[i], e.reset)
		}
	}
	var no *NoAnswerError
	if !errors.As(errs[3], &no) || no.Probes < 2 || gone.reset {
		t.Errorf("silent end: %v (%+v)", errs[3], no)
	}
	if !errors.Is(errs[4], ErrNoConnection) {
		t.Errorf("end without the connection: %v", errs[4])
	}
	if !errors.Is(errs[5], ErrUnconfirmed) {
		t.Errorf("end silent after its answer: %v", errs[5])
	}
	// Nothing was sent but to the planned ends, from their peers.
	for _, s := range n.sent {
		ok := false
		for _, e := range batch {
			ok = ok || s.Src == e.Peer && s.Dst == e.Addr
		}
		if !ok {
			t.Errorf("sent %s, to no planned end", s)
		}
	}
}

func TestResetAlsoPeer(t *testing.T) {
	quick(t)
	ap := netip.MustParseAddrPort
	local := &fakeEnd{End: End{Addr: ap("127.0.0.1:5000"), Peer: ap("127.0.0.1:6000"), AlsoPeer: true}, snd: 10, rcv: 20}
	peer := &fakeEnd{End: End{Addr: ap("127.0.0.1:6000"), Peer: ap("127.0.0.1:5000")}, snd: 20, rcv: 10}
	n := &fakeNet{ends: []*fakeEnd{local, peer}}
	// The capture reads the RST to the peer too (it is from the end's
	// address): it is not taken for the end's answer.
	n.queue = nil
	errs := make([]error, 1)
	resetBatch(context.Background(), []End{local.End}, errs, Options{Wait: 100 * time.Millisecond}, &lockedSender{s: &echoNet{n}}, &echoNet{n})
	if errs[0] != nil || !local.reset || !peer.reset {
		t.Errorf("%v: local reset %v, peer reset %v", errs[0], local.reset, peer.reset)
	}
}

// echoNet is a fakeNet whose capture also reads what is sent from the
// ends' addresses, as a capture on loopback does.
type echoNet struct{ *fakeNet }

func (n *echoNet) send(s Segment) error {
	if err := n.fakeNet.send(s); err != nil {
		return err
	}
	for _, e := range n.ends {
		if s.Src == e.Addr && s.Dst == e.Peer {
			n.queue = append(n.queue, s)
		}
	}
	return nil
}

func TestResetCancelled(t *testing.T) {
	quick(t)
	ctx, cancel := context.WithCancelCause(context.Background())
	cause := errors.New("interrupted")
	cancel(cause)
	ap := netip.MustParseAddrPort
	e := &fakeEnd{End: End{Addr: ap("192.0.2.2:80"), Peer: ap("192.0.2.1:1")}}
	n := &fakeNet{ends: []*fakeEnd{e}}
	errs := make([]error, 1)
	resetBatch(ctx, []End{e.End}, errs, Options{}, &lockedSender{s: n}, n)
	if !errors.Is(errs[0], cause) || len(n.sent) != 0 {
		t.Errorf("%v, sent %v", errs[0], n.sent)
	}
}

// splitNet is a fakeNet read by several captures, each of which reads
// every segment sent and every answer, as the captures of a router's
// batches read what the others send.
type splitNet struct {
	mu   sync.Mutex
	n    *fakeNet
	caps []*splitCapture
}

type splitCapture struct {
	net   *splitNet
	queue []Segment
}

func (n *splitNet) send(s Segment) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	err := n.n.send(s)
	for _, c := range n.caps {
		c.queue = append(append(c.queue, s), n.n.queue...)
	}
	n.n.queue = nil
	return err
}

func (n *splitNet) close() {}

func (c *splitCapture) next(deadline time.Time) (Segment, bool, error) {
	for {
		c.net.mu.Lock()
		if len(c.queue) > 0 {
			s := c.queue[0]
			c.queue = c.queue[1:]
			c.net.mu.Unlock()
			return s, true, nil
		}
		c.net.mu.Unlock()
		if !time.Now().Before(deadline) {
			return Segment{}, false, nil
		}
		time.Sleep(time.Millisecond)
	}
}

func (c *splitCapture) close() {}

func (c *splitCapture) dropped() bool { return false }

// TestResetBatchesApart: the two ends of a connection without NAT, each
// the other's tuple reversed, in two batches (a batch ends at an odd
// number of ends): what one batch sends its end is from the other's
// address, and the other batch does not take it for its end's answer. A
// silent end is not reset, nor said to have no connection.
func TestResetBatchesApart(t *testing.T) {
	quick(t)
	ap := netip.MustParseAddrPort
	client := &fakeEnd{End: End{Addr: ap("198.51.100.2:40000"), Peer: ap("192.0.2.2:80")}, snd: 100, rcv: 900}
	server := &fakeEnd{End: End{Addr: ap("192.0.2.2:80"), Peer: ap("198.51.100.2:40000")}, silent: true}
	n := &splitNet{n: &fakeNet{ends: []*fakeEnd{client, server}}}
	n.caps = []*splitCapture{{net: n}, {net: n}}
	s := &lockedSender{s: n}
	errs := make([]error, 2)
	var wg sync.WaitGroup
	wg.Go(func() {
		resetBatch(context.Background(), []End{client.End}, errs[:1], Options{Wait: 100 * time.Millisecond}, s, n.caps[0])
	})
	wg.Go(func() {
		resetBatch(context.Background(), []End{server.End}, errs[1:], Options{Wait: 100 * time.Millisecond}, s, n.caps[1])
	})
	wg.Wait()
	var no *NoAnswerError
	if errs[0] != nil || !client.reset || !errors.As(errs[1], &no) || server.reset {
		t.Errorf("client %v (reset %v), silent server %v (reset %v)", errs[0], client.reset, errs[1], server.reset)
	}
}

// droppingNet is a fakeNet whose capture dropped packets, as a packet
// socket whose buffer overflowed does.
type droppingNet struct{ *fakeNet }

func (n *droppingNet) dropped() bool { return true }

// TestResetNoAnswerDropped: an end that did not answer, where the capture
// dropped packets, is said to be perhaps among them; where it dropped
// none, not.
func TestResetNoAnswerDropped(t *testing.T) {
	quick(t)
	ap := netip.MustParseAddrPort
	for _, dropping := range []bool{false, true} {
		e := &fakeEnd{End: End{Addr: ap("192.0.2.2:80"), Peer: ap("192.0.2.1:1")}, silent: true}
		n := &fakeNet{ends: []*fakeEnd{e}}
		var c capture = n
		if dropping {
			c = &droppingNet{n}
		}
		errs := make([]error, 1)
		resetBatch(context.Background(), []End{e.End}, errs, Options{Wait: 50 * time.Millisecond}, &lockedSender{s: n}, c)
		var no *NoAnswerError
		if !errors.As(errs[0], &no) || no.Dropped != dropping {
			t.Errorf("capture dropping %v: %v (%+v)", dropping, errs[0], no)
		}
	}
}

// slowNet is a fakeNet whose sends take time, as they do on a loaded host
// where the batches take turns to send.
type slowNet struct{ *fakeNet }

func (n *slowNet) send(s Segment) error {
	time.Sleep(2 * time.Millisecond)
	return n.fakeNet.send(s)
}

// TestResetSlowSends: an end has the whole wait to answer from its first
// provocation, however long the ends before it took to send: ends that
// answer at once are reset, though sending every provocation took longer
// than the wait.
func TestResetSlowSends(t *testing.T) {
	quick(t)
	var ends []*fakeEnd
	var batch []End
	for i := range 40 {
		e := &fakeEnd{End: End{Addr: netip.AddrPortFrom(netip.MustParseAddr("192.0.2.2"), uint16(1000+i)), Peer: netip.MustParseAddrPort("192.0.2.1:80")}, snd: 5, rcv: 7}
		ends, batch = append(ends, e), append(batch, e.End)
	}
	n := &fakeNet{ends: ends}
	errs := make([]error, len(batch))
	resetBatch(context.Background(), batch, errs, Options{Wait: 50 * time.Millisecond}, &lockedSender{s: &slowNet{n}}, n)
	for i, e := range ends {
		if errs[i] != nil || !e.reset {
			t.Errorf("%s: %v, reset %v", e.Addr, errs[i], e.reset)
		}
	}
}
