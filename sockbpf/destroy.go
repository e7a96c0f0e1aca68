package sockbpf

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"syscall"

	"github.com/cilium/ebpf/link"
	"github.com/tcpreap/tcpreap/inet"
)

// The verdicts of destroy.bpf.c's answers.
const (
	verdictDestroyed   = 0 // VERDICT_DESTROYED
	verdictFailed      = 1 // VERDICT_FAILED: the kfunc answered an errno
	verdictUnconnected = 2 // VERDICT_UNCONNECTED
	verdictNotFull     = 3 // VERDICT_NOT_FULL
)

// answerSize is the size of destroy.bpf.c's struct answer: the cookie
// (u64), the verdict (u32) and the kfunc's answer (s32), in the host's
// byte order.
const answerSize = 16

// readSize is what one read of an iterator asks for. The kernel's buffer
// behind it holds at least 32 KiB (8 pages), and bpf_seq_read stops
// calling the program once a read's bytes are in: a read under the buffer
// by more than an answer never overflows it, and an overflow would run the
// program on that socket again after dropping its answer.
const readSize = 16 << 10

// maxWalks bounds the walks of one batch of targets. Until the iterators
// learnt to resume by the cookie of the last socket shown (2025), they
// resumed a hash bucket after a read by counting the sockets already shown,
// and a socket destroyed meanwhile made them skip one never shown: a target
// left when a walk destroyed something is looked for again.
const maxWalks = 4

// A Result is one target's answer: Err is nil when the socket was
// destroyed, else it wraps ErrNotFound, ErrUnconnected, ErrNotFullSocket or
// the kfunc's errno.
type Result struct {
	Cookie uint64
	Err    error
}

// A Destroyer holds the loaded programs and their iterator links. It is
// safe for concurrent use; one Destroy runs at a time.
type Destroyer struct {
	mu       sync.Mutex
	objs     destroyObjects
	tcp, udp *link.Iter
	capacity int
}

// Open loads the programs with room for capacity targets at once (Destroy
// takes more in batches of that size) and attaches the iterators. An error
// that says the host cannot run them is an *UnavailableError.
func Open(capacity int) (*Destroyer, error) {
	if capacity < 1 || capacity > 1<<20 {
		return nil, fmt.Errorf("sockbpf: capacity %d is out of range 1..%d", capacity, 1<<20)
	}
	if err := prerequisites(); err != nil {
		return nil, err
	}
	spec, err := loadDestroy()
	if err != nil {
		return nil, err
	}
	spec.Maps["targets"].MaxEntries = uint32(capacity)
	d := &Destroyer{capacity: capacity}
	if err := spec.LoadAndAssign(&d.objs, nil); err != nil {
		return nil, unavailable(err)
	}
	if d.tcp, err = link.AttachIter(link.IterOptions{Program: d.objs.DestroyTcp}); err != nil {
		d.objs.Close()
		return nil, unavailable(err)
	}
	if d.udp, err = link.AttachIter(link.IterOptions{Program: d.objs.DestroyUdp}); err != nil {
		d.tcp.Close()
		d.objs.Close()
		return nil, unavailable(err)
	}
	return d, nil
}

// Close detaches the iterators and unloads the programs.
func (d *Destroyer) Close() error {
	return errors.Join(d.udp.Close(), d.tcp.Close(), d.objs.Close())
}

// Destroy destroys the sockets of protocol p (TCP or UDP) whose cookies are
// given, in the network namespace of the calling thread (the caller locks
// its OS thread and enters the namespace, as for a diag dump), and returns
// one Result per cookie, in their order. Each batch of targets costs a walk
// of every socket of the protocol in the namespace (more if a walk leaves
// targets; see maxWalks). The error is for the whole call: a cookie's own
// failure is in its Result.
func (d *Destroyer) Destroy(p inet.Protocol, cookies []uint64) ([]Result, error) {
	var it *link.Iter
	switch p {
	case inet.TCP:
		it = d.tcp
	case inet.UDP:
		it = d.udp
	default:
		return nil, fmt.Errorf("sockbpf: cannot destroy %v sockets", p)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	answers := make(map[uint64]error, len(cookies))
	for batch := range slices.Chunk(unique(cookies), d.capacity) {
		if err := d.destroyBatch(it, batch, answers); err != nil {
			return nil, err
		}
	}
	results := make([]Result, len(cookies))
	for i, c := range cookies {
		results[i] = Result{Cookie: c, Err: answers[c]}
	}
	return results, nil
}

// destroyBatch puts the batch into the targets map, walks the sockets until
// every target is answered (or a walk answers none), and answers the rest
// ErrNotFound, leaving the map empty.
func (d *Destroyer) destroyBatch(it *link.Iter, batch []uint64, answers map[uint64]error) error {
	marks := make([]uint8, len(batch))
	if _, err := d.objs.Targets.BatchUpdate(batch, marks, nil); err != nil {
		return fmt.Errorf("sockbpf: filling the targets map: %w", err)
	}
	left := len(batch)
	for walk := 0; walk < maxWalks && left > 0; walk++ {
		n, err := d.walk(it, answers)
		left -= n
		if err != nil {
			d.clear(batch, answers)
			return err
		}
		if n == 0 {
			break
		}
	}
	d.clear(batch, answers)
	for _, c := range batch {
		if _, ok := answers[c]; !ok {
			answers[c] = ErrNotFound
		}
	}
	return nil
}

// clear deletes what is left of the batch from the targets map: the
// cookies without an answer, since the program deletes each one it
// answers (a delete per target was a tenth of a reap's time). A cookie
// answered by a read that failed is gone from the map too; deleting it
// again would only answer ENOENT.
func (d *Destroyer) clear(batch []uint64, answers map[uint64]error) {
	for _, c := range batch {
		if _, ok := answers[c]; !ok {
			_ = d.objs.Targets.Delete(c)
		}
	}
}

// walk runs the iterator once over the namespace's sockets and records each
// answer; it returns how many it read.
func (d *Destroyer) walk(it *link.Iter, answers map[uint64]error) (int, error) {
	r, err := it.Open()
	if err != nil {
		return 0, fmt.Errorf("sockbpf: starting a socket iterator: %w", err)
	}
	defer r.Close()
	var (
		buf  = make([]byte, readSize)
		have int
		n    int
	)
	for {
		m, err := r.Read(buf[have:readSize])
		have += m
		whole := have - have%answerSize
		for off := 0; off < whole; off += answerSize {
			c, answer := decode(buf[off : off+answerSize])
			answers[c] = answer
			n++
		}
		have = copy(buf, buf[whole:have])
		switch {
		case err == io.EOF || err == nil && m == 0:
			return n, nil
		case errors.Is(err, syscall.EAGAIN):
			// A read that walked a million sockets with nothing to
			// answer: the walk goes on at the next read.
		case err != nil:
			return n, fmt.Errorf("sockbpf: reading a socket iterator: %w", err)
		}
	}
}

// decode reads one answer.
func decode(b []byte) (uint64, error) {
	cookie := binary.NativeEndian.Uint64(b)
	verdict := binary.NativeEndian.Uint32(b[8:])
	errno := int32(binary.NativeEndian.Uint32(b[12:]))
	switch verdict {
	case verdictDestroyed:
		return cookie, nil
	case verdictUnconnected:
		return cookie, ErrUnconnected
	case verdictNotFull:
		return cookie, ErrNotFullSocket
	case verdictFailed:
		return cookie, fmt.Errorf("bpf_sock_destroy: %w", syscall.Errno(-errno))
	}
	return cookie, fmt.Errorf("sockbpf: unknown verdict %d", verdict)
}

// unique returns the cookies without repeats, in their first order.
func unique(cookies []uint64) []uint64 {
	seen := make(map[uint64]bool, len(cookies))
	out := make([]uint64, 0, len(cookies))
	for _, c := range cookies {
		if !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	return out
}
