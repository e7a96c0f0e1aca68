package flows

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"time"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Time limits on the kernel's answers, so that no run hangs: a dump of a
// full table (a million entries) takes seconds; a window of gets or deletes
// is answered in milliseconds. A context's deadline, when earlier, wins.
const (
	dumpTimeout   = 2 * time.Minute
	deleteTimeout = 8 * time.Second
)

// maxFlows bounds how many entries one dump reads: more than any
// nf_conntrack_max a host runs with.
const maxFlows = 4 << 20

// window is how many requests one sendmsg carries, and so how many are in
// flight at once: the kernel answers them in order, each GET with a
// datagram of its own, an skb of NLMSG_DEFAULT_SIZE (ctnetlink_get_conntrack)
// that takes up to answerTruesize of the receive buffer until it is read.
// A window is one sendmsg and a recvmmsg or two, where one request at a
// time took two syscalls each. A Conn whose receive buffer cannot hold a
// window's answers sends fewer at a time.
const window = 128

// recvBufferSize is the receive buffer Dial asks for: room for the answers
// of several windows and for a dump's datagrams while Go decodes.
const recvBufferSize = 4 << 20

// answerTruesize is how much of the receive buffer one GET's answer takes
// at most: its skb's data (a page) and its overhead.
const answerTruesize = 8 << 10

// Config says where a Conn works.
type Config struct {
	// NetNS is a file descriptor of the network namespace to work in; 0 is
	// the namespace of the calling thread.
	NetNS int
}

// A Conn is a NETLINK_NETFILTER socket that speaks ctnetlink. It is not
// safe for concurrent use.
type Conn struct {
	c *netlink.Conn // nil on a fake kernel
	w wire
	// netns is a descriptor of the namespace the Conn works in (a
	// duplicate of Config.NetNS, or the dialing thread's; -1 if it could
	// not be opened), for its twin: a second socket there, which
	// DeleteSeen deletes on while this one dumps.
	netns int
	twin  *Conn
	// entries is how many entries the last dump read, of every protocol.
	entries int
	// perSend is how many requests this Conn sends at once: window, or
	// fewer when its receive buffer is smaller than a window's answers.
	perSend int
	seq     uint32
	in      []byte // the receive buffer, reused
	out     []byte // the batch being encoded, reused
	// slotBuf and sizes are the slots of a window's answers, reused.
	slotBuf [][]byte
	sizes   []int
}

// A wire sends and receives raw netlink datagrams: the socket of a Conn,
// or a fake kernel in tests.
type wire interface {
	send(b []byte) error
	// receive reads one datagram into b; a datagram larger than b is an
	// error.
	receive(b []byte) (int, error)
	// receiveMany reads up to len(slots) datagrams, one into each slot,
	// their sizes into sizes, waiting only for the first.
	receiveMany(slots [][]byte, sizes []int) (int, error)
	setDeadline(t time.Time) error
}

// recvBuffer is the size of one read: a dump's datagram is at most 32 KiB
// (netlink_dump's largest skb) or one page more.
const recvBuffer = 64 << 10

// Dial opens a NETLINK_NETFILTER socket in the namespace cfg names (nil:
// the calling thread's). Its error wraps the errno.
func Dial(cfg *Config) (*Conn, error) {
	if cfg == nil {
		cfg = &Config{}
	}
	c, err := netlink.Dial(netlinkNetfilter, &netlink.Config{NetNS: cfg.NetNS})
	if err != nil {
		return nil, &OpError{Op: "dial", Err: err}
	}
	// Error acks then carry only the request's header, not its payload.
	_ = c.SetOption(netlink.CapAcknowledge, true)
	// Every answer is matched to its request by sequence number.
	_ = c.SetOption(netlink.ExtendedAcknowledge, false)
	w, buffer, err := newSocketWire(c)
	if err != nil {
		c.Close()
		return nil, &OpError{Op: "dial", Err: err}
	}
	conn := &Conn{c: c, w: w, perSend: max(1, min(window, buffer/answerTruesize)), netns: -1}
	if cfg.NetNS != 0 {
		if conn.netns, err = unix.FcntlInt(uintptr(cfg.NetNS), unix.F_DUPFD_CLOEXEC, 0); err != nil {
			c.Close()
			return nil, &OpError{Op: "dial", Err: err}
		}
	} else {
		// The calling thread's namespace, held for the twin, which may be
		// dialed from another thread. Without it (no /proc) there is no
		// twin, and DeleteSeen answers ErrNoTwin.
		runtime.LockOSThread()
		if fd, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0); err == nil {
			conn.netns = fd
		}
		runtime.UnlockOSThread()
	}
	return conn, nil
}

// newConn makes a Conn on a wire, such as a test's fake kernel.
func newConn(w wire) *Conn { return &Conn{w: w, perSend: window, netns: -1} }

// Close closes the socket, and its twin.
func (c *Conn) Close() error {
	if c.c == nil {
		return nil
	}
	if c.twin != nil {
		c.twin.Close()
	}
	if c.netns >= 0 {
		unix.Close(c.netns)
	}
	return c.c.Close()
}

// An OpError is the one error type a Conn returns: the operation ("dial",
// "dump", "get", "delete"), the flow a get or delete was about, and the
// cause, which unwraps to the kernel's errno where there is one
// (errors.Is(err, unix.ENOENT)).
type OpError struct {
	Op   string
	Flow *Flow
	Err  error
}

func (e *OpError) Error() string {
	if e.Flow != nil {
		return fmt.Sprintf("%s %s: %v", e.Op, e.Flow, e.Err)
	}
	return fmt.Sprintf("conntrack %s: %v", e.Op, e.Err)
}

func (e *OpError) Unwrap() error { return e.Err }

// ErrNoAnswer is a request the kernel did not answer: its answer was lost
// (the receive buffer overflowed) or the time ran out.
var ErrNoAnswer = errors.New("no answer from the kernel")

// Explain says what an error of a Conn means to a person and what to do, or
// returns false for an error it has no words for.
func Explain(err error) (string, bool) {
	switch {
	case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
		return "listing and deleting conntrack entries needs CAP_NET_ADMIN in this network namespace (try sudo)", true
	case errors.Is(err, unix.EPROTONOSUPPORT), errors.Is(err, unix.EOPNOTSUPP):
		return "this kernel has no conntrack netlink interface: load it (modprobe nf_conntrack_netlink), or the kernel was built without CONFIG_NF_CT_NETLINK", true
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded):
		return "the kernel did not answer in time", true
	}
	return "", false
}

// deadline sets the socket's deadline to limit from now, or ctx's if
// earlier, and ends it early when ctx ends; the caller calls the stop it
// returns.
func (c *Conn) deadline(ctx context.Context, limit time.Duration) (stop func() bool) {
	d := time.Now().Add(limit)
	if cd, ok := ctx.Deadline(); ok && cd.Before(d) {
		d = cd
	}
	_ = c.w.setDeadline(d)
	return context.AfterFunc(ctx, func() { _ = c.w.setDeadline(time.Now()) })
}

// netlink's header and the message types every family shares.
const (
	nlmsgHdrLen = 16
	nlmsgError  = 2 // NLMSG_ERROR
	nlmsgDone   = 3 // NLMSG_DONE
	nlmFRequest = 0x1
	nlmFMulti   = 0x2
	nlmFAck     = 0x4
	nlmFDump    = 0x300
)

// header is struct nlmsghdr.
type header struct {
	len   uint32
	typ   uint16
	flags uint16
	seq   uint32
}

// appendMessage appends a netlink message of typ, flags and seq with
// payload to b (the port id is 0: the kernel fills it in).
func appendMessage(b []byte, typ netlink.HeaderType, flags uint16, seq uint32, payload []byte) []byte {
	n := nlmsgHdrLen + len(payload)
	b = binary.NativeEndian.AppendUint32(b, uint32(n))
	b = binary.NativeEndian.AppendUint16(b, uint16(typ))
	b = binary.NativeEndian.AppendUint16(b, flags)
	b = binary.NativeEndian.AppendUint32(b, seq)
	b = binary.NativeEndian.AppendUint32(b, 0)
	b = append(b, payload...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// nextMessage splits the first netlink message off a datagram.
func nextMessage(b []byte) (h header, payload, rest []byte, err error) {
	if len(b) < nlmsgHdrLen {
		return h, nil, nil, fmt.Errorf("a netlink message of %d bytes, shorter than its header", len(b))
	}
	h = header{
		len:   binary.NativeEndian.Uint32(b[0:4]),
		typ:   binary.NativeEndian.Uint16(b[4:6]),
		flags: binary.NativeEndian.Uint16(b[6:8]),
		seq:   binary.NativeEndian.Uint32(b[8:12]),
	}
	if h.len < nlmsgHdrLen || int(h.len) > len(b) {
		return h, nil, nil, fmt.Errorf("a netlink message claims %d bytes of %d", h.len, len(b))
	}
	end := min(int(h.len+3)&^3, len(b))
	return h, b[nlmsgHdrLen:h.len], b[end:], nil
}

// answerErrno is the errno of an NLMSG_ERROR's payload: 0 for an ack.
func answerErrno(payload []byte) (error, error) {
	if len(payload) < 4 {
		return nil, errors.New("a netlink error message without its code")
	}
	if code := int32(binary.NativeEndian.Uint32(payload)); code != 0 {
		return unix.Errno(-code), nil
	}
	return nil, nil
}

func (c *Conn) nextSeq(n int) uint32 {
	if c.seq == 0 {
		c.seq = uint32(time.Now().UnixNano())
	}
	s := c.seq + 1
	c.seq += uint32(n)
	return s
}

func (c *Conn) buffer() []byte {
	if c.in == nil {
		c.in = make([]byte, recvBuffer)
	}
	return c.in
}

// Dump returns the TCP and UDP entries f selects: the dump carries what the
// kernel can filter (see the package doc), and every entry is checked again
// with f.Match. The entries are in the order a person reads (protocol,
// then client, then server), each once: the kernel sends some twice when
// the entry a dump stopped at goes away between two reads, and sorting
// finds them beside each other (a map of a hundred thousand keys cost more
// than the sort).
func (c *Conn) Dump(ctx context.Context, f *Filter) ([]Flow, error) {
	var out []Flow
	if err := c.Walk(ctx, f, func(fl *Flow) { out = append(out, *fl) }); err != nil {
		return nil, err
	}
	return sortFlows(out), nil
}

// sortFlows sorts fls in Dump's order and drops the entries sent twice.
func sortFlows(fls []Flow) []Flow {
	slices.SortFunc(fls, func(a, b Flow) int {
		return cmp.Or(cmp.Compare(a.Protocol, b.Protocol), a.Orig.Src.Compare(b.Orig.Src), a.Orig.Dst.Compare(b.Orig.Dst),
			cmp.Compare(a.Zone, b.Zone), cmp.Compare(a.ID, b.ID))
	})
	return slices.CompactFunc(fls, func(a, b Flow) bool { return a.ID == b.ID && a.Orig == b.Orig && a.Zone == b.Zone })
}

// Walk dumps the table and calls fn with each TCP and UDP entry f selects,
// as it decodes the datagrams the kernel sends: what it keeps is fn's.
// An entry may come twice (see Dump). At most maxFlows entries are read,
// within dumpTimeout.
func (c *Conn) Walk(ctx context.Context, f *Filter, fn func(*Flow)) error {
	return c.walk(ctx, f, fn, nil)
}

// Entries is how many entries the last dump read, of every protocol and
// of the families it asked for: the size of that table.
func (c *Conn) Entries() int { return c.entries }

// walk is Walk, and calls read, if not nil, after the entries of each
// datagram.
func (c *Conn) walk(ctx context.Context, f *Filter, fn func(*Flow), read func()) error {
	fail := func(err error) error {
		if ctx.Err() != nil {
			err = context.Cause(ctx)
		}
		return &OpError{Op: "dump", Err: err}
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	data, err := dumpRequest(f.dumpFamily(), f.kernel())
	if err != nil {
		return fail(err)
	}
	stop := c.deadline(ctx, dumpTimeout)
	defer stop()
	seq := c.nextSeq(1)
	c.out = appendMessage(c.out[:0], headerType(ipctnlMsgCTGet), nlmFRequest|nlmFDump, seq, data)
	if err := c.w.send(c.out); err != nil {
		return fail(err)
	}
	buf := c.buffer()
	c.entries = 0
	var fl Flow
	for {
		if read != nil {
			read()
		}
		n, err := c.w.receive(buf)
		if err != nil {
			return fail(err)
		}
		for b := buf[:n]; len(b) > 0; {
			h, payload, rest, err := nextMessage(b)
			if err != nil {
				return fail(err)
			}
			b = rest
			if h.seq != seq {
				continue // a late answer to an earlier request
			}
			switch h.typ {
			case nlmsgDone:
				return nil
			case nlmsgError:
				errno, err := answerErrno(payload)
				if err == nil {
					err = errno
				}
				if err != nil {
					return fail(err)
				}
				return nil
			}
			if c.entries++; c.entries > maxFlows {
				return fail(fmt.Errorf("more than %d entries", maxFlows))
			}
			if err := fl.UnmarshalBinary(payload); err != nil {
				if errors.Is(err, errNotFlow) {
					continue
				}
				return fail(err)
			}
			if f.Match(&fl) {
				fn(&fl)
			}
		}
	}
}

// ErrNoTwin is DeleteSeen's answer on a Conn that cannot open a second
// socket in its namespace (a test's fake kernel, a host without /proc).
var ErrNoTwin = errors.New("no second socket")

// DeleteSeen dumps the table as Walk does, and deletes the entries pick
// selects as the dump shows them: each by its original tuple, zone and
// id, as Delete does, on a second socket in the same namespace while this
// one reads on, so that the kernel fills the dump on one CPU and deletes
// on another. The entries of a datagram go as soon as it is read, in
// windows of up to window requests (a datagram holds about a hundred):
// between the kernel's showing an entry and its delete there are the
// decoding of its datagram and the window before it, about what a window
// of GETs takes. done is called with each delete's answer, from another
// goroutine than pick (never at once for one entry). The error is the
// dump's, or ErrNoTwin; the deletes sent before it are answered.
//
// Deleting while a dump goes on skips nothing: ctnetlink's dump resumes
// at the entry it could not fit in the last datagram, held by a reference,
// and when that one was deleted meanwhile it dumps its bucket again from
// the start (ctnetlink_dump_table); an entry may then come twice, and pick
// sees both.
func (c *Conn) DeleteSeen(ctx context.Context, f *Filter, pick func(*Flow) bool, done func(fl *Flow, err error)) error {
	if c.c == nil || c.netns < 0 {
		return ErrNoTwin
	}
	if c.twin == nil {
		twin, err := Dial(&Config{NetNS: c.netns})
		if err != nil {
			return err
		}
		c.twin = twin
	}
	// One window waits while the twin deletes another, and a third is
	// filled: a window's buffer is reused once its answers are in.
	queue, free := make(chan []Flow, 1), make(chan []Flow, 3)
	deleted := make(chan struct{})
	go func() {
		defer close(deleted)
		for fls := range queue {
			for i, err := range c.twin.Delete(ctx, fls) {
				done(&fls[i], err)
			}
			free <- fls[:0]
		}
	}()
	var cur []Flow
	send := func() {
		if len(cur) > 0 {
			queue <- cur
			select {
			case cur = <-free:
			default:
				cur = make([]Flow, 0, c.twin.perSend)
			}
		}
	}
	err := c.walk(ctx, f, func(fl *Flow) {
		if pick(fl) {
			if cur = append(cur, *fl); len(cur) >= c.twin.perSend {
				send()
			}
		}
	}, send)
	send()
	close(queue)
	<-deleted
	return err
}

// Get returns, for each of fls, the entry in the table now with its
// original tuple in its zone, whatever its id; errs[i] unwraps to
// unix.ENOENT when there is none. The requests go window by window, each
// window in one sendmsg; each window is answered within deleteTimeout.
func (c *Conn) Get(ctx context.Context, fls []Flow) (now []Flow, errs []error) {
	now, errs = make([]Flow, len(fls)), make([]error, len(fls))
	c.batches(ctx, "get", ipctnlMsgCTGet, fls, appendGet, errs, func(i int, payload []byte) error {
		return now[i].UnmarshalBinary(payload)
	})
	return now, errs
}

// Delete deletes each of fls by its original tuple, zone and id, window by
// window as Get asks; errs[i] is its answer. An entry that is gone, or
// was replaced by one with another id, answers an error that unwraps to
// unix.ENOENT, and nothing is deleted. Only a window's last request asks
// for an ack: the kernel answers the others only when they fail, in
// order, before that ack.
func (c *Conn) Delete(ctx context.Context, fls []Flow) []error {
	errs := make([]error, len(fls))
	c.batches(ctx, "delete", ipctnlMsgCTDelete, fls, appendDelete, errs, nil)
	return errs
}

// batches sends a request of msg for each of fls, window by window, and
// sets errs[i] to its answer, an *OpError or nil. With data nil (a
// delete), only a window's last request asks for an ack, and a request not
// answered before it succeeded; else every request is answered, with a
// message that data decodes or an error. A cancelled ctx stops it between
// windows: the requests not sent are "not attempted".
func (c *Conn) batches(ctx context.Context, op string, msg int, fls []Flow, encode func([]byte, *Flow) []byte, errs []error, data func(i int, payload []byte) error) {
	opErr := func(i int, err error) error { return &OpError{Op: op, Flow: &fls[i], Err: err} }
	for start := 0; start < len(fls); start += c.perSend {
		end := min(start+c.perSend, len(fls))
		if ctx.Err() != nil {
			for i := start; i < len(fls); i++ {
				errs[i] = opErr(i, fmt.Errorf("not attempted: %w", context.Cause(ctx)))
			}
			return
		}
		seq := c.nextSeq(end - start)
		c.out = c.out[:0]
		sent := make([]int, 0, end-start) // the request of each sequence number from seq on
		for i := start; i < end; i++ {
			flags := uint16(nlmFRequest)
			if data == nil && i == end-1 {
				flags |= nlmFAck
			}
			at := len(c.out)
			c.out = appendMessage(c.out, headerType(msg), flags, seq+uint32(len(sent)), nil)
			c.out = encode(c.out, &fls[i])
			binary.NativeEndian.PutUint32(c.out[at:], uint32(len(c.out)-at))
			sent = append(sent, i)
		}
		for _, i := range sent {
			errs[i] = errPending
		}
		err := c.window(ctx, seq, sent, data == nil, func(k int, payload []byte, errno error) {
			i := sent[k]
			switch {
			case errno != nil:
				errs[i] = opErr(i, errno)
			case payload != nil && data != nil:
				if err := data(i, payload); err != nil {
					errs[i] = opErr(i, err)
				} else {
					errs[i] = nil
				}
			case data == nil:
				errs[i] = nil
			}
		})
		for _, i := range sent {
			if errs[i] == errPending {
				errs[i] = opErr(i, ErrNoAnswer)
				if err != nil {
					errs[i] = opErr(i, fmt.Errorf("%w: %w", ErrNoAnswer, err))
				}
			}
		}
		if err != nil {
			// The rest is not sent: the socket timed out or lost answers.
			// (Answers of this window that come late are told from the
			// next call's by their sequence numbers.)
			for i := end; i < len(fls); i++ {
				errs[i] = opErr(i, fmt.Errorf("not attempted: %w", err))
			}
			return
		}
	}
}

// errPending is a request's answer while its window is read: one shared
// value, not an error made for each request.
var errPending = errors.New("pending")

// window sends the encoded batch c.out, whose requests have the sequence
// numbers seq on, and reads their answers: answer(k, payload, errno) for
// request k, with a data message's payload, or the kernel's errno (nil for
// an ack). With untilLast, the last request's answer ends the window, and
// each request not answered by then is answered as an ack of success.
// Once sent, the answers are read within deleteTimeout, whatever ctx says:
// a run that is stopped still learns what it did.
func (c *Conn) window(ctx context.Context, seq uint32, sent []int, untilLast bool, answer func(k int, payload []byte, errno error)) error {
	stop := c.deadline(context.WithoutCancel(ctx), deleteTimeout)
	defer stop()
	if err := c.w.send(c.out); err != nil {
		return err
	}
	n := len(sent)
	answered := make([]bool, n)
	left := n
	slots, sizes := c.slots()
	for left > 0 {
		got, err := c.w.receiveMany(slots, sizes)
		if err != nil {
			return err
		}
		for d := range got {
			for b := slots[d][:sizes[d]]; len(b) > 0; {
				h, payload, rest, err := nextMessage(b)
				if err != nil {
					return err
				}
				b = rest
				k := int(h.seq - seq)
				if h.seq-seq >= uint32(n) || answered[k] {
					continue // the late answer to an earlier request
				}
				answered[k] = true
				left--
				if h.typ == nlmsgError {
					errno, err := answerErrno(payload)
					if err != nil {
						return err
					}
					answer(k, nil, errno)
				} else {
					answer(k, payload, nil)
				}
				if untilLast && k == n-1 {
					for k := range n {
						if !answered[k] {
							answered[k] = true
							answer(k, nil, nil)
						}
					}
					return nil
				}
			}
		}
	}
	return nil
}

// answerSlot is the room for one answer of a window: a GET's answer is one
// message in an skb of at most NLMSG_DEFAULT_SIZE (a page, less overhead).
const answerSlot = 8 << 10

// slots are the window's receive slots, carved from one buffer, reused.
func (c *Conn) slots() ([][]byte, []int) {
	if c.slotBuf == nil {
		buf := make([]byte, window*answerSlot)
		for i := range window {
			c.slotBuf = append(c.slotBuf, buf[i*answerSlot:(i+1)*answerSlot:(i+1)*answerSlot])
		}
		c.sizes = make([]int, window)
	}
	return c.slotBuf, c.sizes
}
