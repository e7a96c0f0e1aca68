package flows

import (
	"context"
	"encoding/binary"
	"errors"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mdlayher/netlink"
	"github.com/tcpreap/tcpreap/inet"
	"golang.org/x/sys/unix"
)

// fakeKernel is a wire whose answers come from handle: it is given the
// messages of each sendmsg and returns the datagrams to read.
type fakeKernel struct {
	handle  func(msgs []sent) [][]byte
	queue   [][]byte
	sends   int
	recvErr error // once the queue is empty (ENOBUFS, say); else a timeout
}

// sent is one message a fake kernel was sent.
type sent struct {
	h       header
	payload []byte
}

func (k *fakeKernel) send(b []byte) error {
	k.sends++
	var msgs []sent
	for len(b) > 0 {
		h, payload, rest, err := nextMessage(b)
		if err != nil {
			return err
		}
		msgs, b = append(msgs, sent{h, slices.Clone(payload)}), rest
	}
	k.queue = append(k.queue, k.handle(msgs)...)
	return nil
}

func (k *fakeKernel) receive(b []byte) (int, error) {
	if len(k.queue) == 0 {
		if k.recvErr != nil {
			return 0, k.recvErr
		}
		return 0, os.ErrDeadlineExceeded
	}
	d := k.queue[0]
	k.queue = k.queue[1:]
	return copy(b, d), nil
}

func (k *fakeKernel) receiveMany(slots [][]byte, sizes []int) (int, error) {
	n := 0
	for n < len(slots) && (n == 0 || len(k.queue) > 0) {
		got, err := k.receive(slots[n])
		if err != nil {
			return 0, err
		}
		sizes[n] = got
		n++
	}
	return n, nil
}

func (k *fakeKernel) setDeadline(time.Time) error { return nil }

// answer is a message answering m: of type typ (0: the request's own), with
// flags and payload.
func answer(m sent, typ uint16, flags uint16, payload []byte) []byte {
	if typ == 0 {
		typ = m.h.typ
	}
	return appendMessage(nil, netlink.HeaderType(typ), flags, m.h.seq, payload)
}

// errorAnswer is an NLMSG_ERROR for m with errno (0: an ack), with the
// request's header only, as NETLINK_CAP_ACK makes it.
func errorAnswer(m sent, errno unix.Errno) []byte {
	p := binary.NativeEndian.AppendUint32(nil, uint32(-int32(errno)))
	p = appendMessage(p, netlink.HeaderType(m.h.typ), m.h.flags, m.h.seq, nil)[:4+nlmsgHdrLen]
	return answer(m, nlmsgError, 0, p)
}

// TestConnDump: the dump request is a ctnetlink GET with NLM_F_DUMP and the kernel
// filter; the answer is decoded as it comes, datagram by datagram, and checked again in
// Go (the fake kernel filters nothing); an answer to another request is ignored.
func TestConnDump(t *testing.T) {
	entry := hexBytes(t, dnatFlowMessage)
	var got sent
	k := &fakeKernel{handle: func(msgs []sent) [][]byte {
		got = msgs[0]
		stale := msgs[0]
		stale.h.seq--
		return [][]byte{
			slices.Concat(answer(stale, 0, nlmFMulti, entry), answer(got, 0, nlmFMulti, entry)),
			answer(got, 0, nlmFMulti, entry),
			answer(got, nlmsgDone, nlmFMulti, []byte{0, 0, 0, 0}),
		}
	}}
	c := newConn(k)
	mark := MarkMask{0x10, 0xff}
	flows, err := c.Dump(context.Background(), &Filter{Families: []inet.Family{inet.IPv4}, Mark: &mark})
	if err != nil {
		t.Fatal(err)
	}
	// The same entry twice (as the kernel repeats a hash bucket when the entry it
	// stopped at went away between two reads of the dump) is one entry.
	if len(flows) != 1 || flows[0].ID != 0xa7077cf3 {
		t.Errorf("dump: %v, want the one entry once", flows)
	}
	if got.h.typ != uint16(headerType(ipctnlMsgCTGet)) || got.h.flags&nlmFDump != nlmFDump || got.payload[0] != byte(inet.IPv4) {
		t.Errorf("dump request %+v", got)
	}
	other := MarkMask{0x20, 0xff}
	if flows, _ := c.Dump(context.Background(), &Filter{Mark: &other}); len(flows) != 0 {
		t.Errorf("Go did not check the mark again: %v", flows)
	}
	k.handle = func(msgs []sent) [][]byte { return [][]byte{errorAnswer(msgs[0], unix.EPERM)} }
	if _, err := c.Dump(context.Background(), &Filter{}); !errors.Is(err, unix.EPERM) {
		t.Errorf("a refused dump: %v, want EPERM", err)
	}
}

// planned is n copies of the fixture's flow, each from a port of its own.
func planned(t *testing.T, n int) []Flow {
	var fl Flow
	if err := fl.UnmarshalBinary(hexBytes(t, dnatFlowMessage)); err != nil {
		t.Fatal(err)
	}
	out := make([]Flow, n)
	for i := range out {
		out[i] = fl
		out[i].Orig.Src = netip.AddrPortFrom(fl.Orig.Src.Addr(), uint16(1000+i))
	}
	return out
}

// TestConnDelete: deletes go window requests to a sendmsg; only each window's last
// asks for an ack, and a request the kernel does not answer before it was deleted; the
// kernel's ENOENT comes back as an OpError that unwraps to it, for its flow.
func TestConnDelete(t *testing.T) {
	fls := planned(t, 2*window+3)
	var windows [][]sent
	k := &fakeKernel{handle: func(msgs []sent) [][]byte {
		windows = append(windows, msgs)
		var out [][]byte
		for _, m := range msgs {
			port := binary.BigEndian.Uint16(attrAt(t, m.payload, ctaTupleOrig, ctaTupleProto, ctaProtoSrcPort))
			switch {
			case port%10 == 3:
				out = append(out, errorAnswer(m, unix.ENOENT))
			case m.h.flags&nlmFAck != 0:
				out = append(out, errorAnswer(m, 0))
			}
		}
		return out
	}}
	c := newConn(k)
	errs := c.Delete(context.Background(), fls)
	if len(windows) != 3 || len(windows[0]) != window || len(windows[2]) != 3 {
		t.Fatalf("%d windows, want 3 of %d, %d and 3", len(windows), window, window)
	}
	for _, w := range windows {
		for i, m := range w {
			if ack := m.h.flags&nlmFAck != 0; ack != (i == len(w)-1) || m.h.typ != uint16(headerType(ipctnlMsgCTDelete)) {
				t.Errorf("request %d of %d: type %#x flags %#x; want a delete, the last alone with an ack", i, len(w), m.h.typ, m.h.flags)
			}
		}
	}
	want, _ := deleteRequest(fls[5])
	if !slices.Equal(windows[0][5].payload, want) {
		t.Errorf("delete request %x, want %x", windows[0][5].payload, want)
	}
	for i, err := range errs {
		var op *OpError
		switch {
		case fls[i].Orig.Src.Port()%10 == 3:
			if !errors.Is(err, unix.ENOENT) || !errors.As(err, &op) || op.Op != "delete" || op.Flow.Orig != fls[i].Orig {
				t.Errorf("delete %d: %v, want an OpError of its flow with ENOENT", i, err)
			}
		case err != nil:
			t.Errorf("delete %d: %v", i, err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if errs := c.Delete(ctx, fls[:1]); !errors.Is(errs[0], context.Canceled) {
		t.Errorf("a cancelled delete: %v", errs[0])
	}
}

// TestConnGet: gets go window to a sendmsg, without NLM_F_ACK and without the id; each
// is answered with the entry or an error, matched to its flow by sequence number
// whatever the order of the datagrams.
func TestConnGet(t *testing.T) {
	fls := planned(t, window+2)
	entry := hexBytes(t, dnatFlowMessage)
	k := &fakeKernel{handle: func(msgs []sent) [][]byte {
		var out [][]byte
		for i, m := range msgs {
			if m.h.flags&nlmFAck != 0 || attrAt(t, m.payload, ctaID) != nil {
				t.Errorf("get %d: flags %#x, with an id: %v", i, m.h.flags, attrAt(t, m.payload, ctaID) != nil)
			}
			if i%2 == 1 {
				out = append(out, errorAnswer(m, unix.ENOENT))
			} else {
				out = append(out, answer(m, uint16(headerType(0)), 0, entry))
			}
		}
		slices.Reverse(out)
		return out
	}}
	now, errs := newConn(k).Get(context.Background(), fls)
	for i := range fls {
		if i%2 == 1 != errors.Is(errs[i], unix.ENOENT) || i%2 == 0 && (errs[i] != nil || now[i].ID != 0xa7077cf3) {
			t.Errorf("get %d: %+v, %v", i, now[i].ID, errs[i])
		}
	}
	if k.sends != 2 {
		t.Errorf("%d sendmsg, want 2", k.sends)
	}
}

// TestConnLostAnswers: when the answers of a window are lost (the receive buffer
// overflowed: ENOBUFS), its requests not answered have no answer, and the windows after
// it are not sent on that socket.
func TestConnLostAnswers(t *testing.T) {
	fls := planned(t, 2*window)
	k := &fakeKernel{recvErr: unix.ENOBUFS, handle: func(msgs []sent) [][]byte {
		return [][]byte{errorAnswer(msgs[0], unix.ENOENT)}
	}}
	errs := newConn(k).Delete(context.Background(), fls)
	if !errors.Is(errs[0], unix.ENOENT) || !errors.Is(errs[1], ErrNoAnswer) || !errors.Is(errs[1], unix.ENOBUFS) {
		t.Errorf("%v; %v", errs[0], errs[1])
	}
	if k.sends != 1 || errs[window] == nil || !strings.Contains(errs[window].Error(), "not attempted") {
		t.Errorf("%d sends; the next window: %v", k.sends, errs[window])
	}
}

// attrAt is the payload of the attribute at path in a ctnetlink message (after its
// nfgenmsg), or nil.
func attrAt(t *testing.T, msg []byte, path ...uint16) []byte {
	t.Helper()
	b := msg[nfgenmsgLen:]
	for depth, want := range path {
		found := false
		for len(b) >= 4 {
			l := int(binary.NativeEndian.Uint16(b))
			typ := binary.NativeEndian.Uint16(b[2:]) & nlaTypeMask
			if l < 4 || l > len(b) {
				t.Fatalf("attribute of %d bytes in %d", l, len(b))
			}
			if typ == want {
				b, found = b[4:l], true
				break
			}
			b = b[min((l+3)&^3, len(b)):]
		}
		if !found {
			if depth == len(path)-1 {
				return nil
			}
			t.Fatalf("no attribute %v in %x", path[:depth+1], msg)
		}
	}
	return b
}

func TestExplain(t *testing.T) {
	for errno, want := range map[unix.Errno]string{
		unix.EPERM: "CAP_NET_ADMIN", unix.EPROTONOSUPPORT: "nf_conntrack_netlink", unix.EOPNOTSUPP: "nf_conntrack_netlink",
	} {
		if why, ok := Explain(&OpError{Op: "dump", Err: errno}); !ok || !contains(why, want) {
			t.Errorf("%v: %q", errno, why)
		}
	}
	if _, ok := Explain(errors.New("other")); ok {
		t.Error("an unknown error explained")
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
