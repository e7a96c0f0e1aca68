package reap

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/tcpreap/tcpreap/host"
	"github.com/tcpreap/tcpreap/inet"
	"github.com/tcpreap/tcpreap/kill"
	"github.com/tcpreap/tcpreap/sockbpf"
	"github.com/tcpreap/tcpreap/sockdiag"
)

// bpfCapacity is how many targets the bpf engine's map holds at once: a
// plan of more is destroyed in batches, each a walk of the namespace's
// sockets of a protocol.
const bpfCapacity = 1 << 16

// A bpfEngine destroys targets with the socket iterators of sockbpf, in the
// namespace of conn (ns), and looks them up again with conn, as the diag
// engine does. The programs are loaded once for every part (loader), and
// again after a walk that did not end in time (see Destroy).
type bpfEngine struct {
	conn   *sockdiag.Conn
	ns     *host.Namespace
	loader *bpfLoader
}

var _ kill.Engine = (*bpfEngine)(nil)

// What the bpf engine answers for a target it leaves alone.
var (
	errBPFNotFull error = sockdiag.NewRefusal(
		"a TIME-WAIT or SYN-RECV socket, which bpf_sock_destroy cannot take",
		"some sockets are TIME-WAIT or SYN-RECV ones, which are not full sockets and which bpf_sock_destroy cannot take; SOCK_DESTROY (the diag engine) destroys them where the kernel has it",
	)
	errBPFUnconnected error = sockdiag.NewRefusal(
		"an unconnected UDP socket, which the bpf engine never destroys",
		"some sockets are unconnected UDP sockets, which serve every peer and which the bpf engine never destroys",
	)
)

// bpfUnavailable is the refusal of every target when the programs cannot
// be loaded here: err says why (sockbpf.UnavailableError).
func bpfUnavailable(err error) error {
	return sockdiag.NewRefusal(err.Error(), err.Error())
}

func (*bpfEngine) Name() string { return "bpf" }

func (e *bpfEngine) Lookup(ctx context.Context, targets []sockdiag.Socket) []sockdiag.Seen {
	return e.conn.Lookup(ctx, targets)
}

// Doubtful: a destroy the program answered, a target it did not find in
// its walk, and every target of a walk that failed partway (it may have
// destroyed some) are looked up again; the refusals are the truth.
func (*bpfEngine) Doubtful(_ context.Context, _ *sockdiag.Socket, err error) bool {
	var walk walkError
	return err == nil || errors.Is(err, sockdiag.ErrGone) || errors.As(err, &walk)
}

// A walkError is the error of a whole walk, given to each of its targets:
// the walk may have destroyed some of them before it failed.
type walkError struct{ error }

func (e walkError) Unwrap() error { return e.error }

// Destroy destroys the targets of each protocol with one walk of the
// namespace's sockets (more for more than bpfCapacity targets), on a thread
// of the namespace, and answers for each: nil when bpf_sock_destroy
// destroyed it, sockdiag.ErrGone for one the walk did not meet, a refusal
// for a socket the engine leaves alone or when it cannot run here; after
// ctx ends, sockdiag.ErrNotAttempted and its cause.
func (e *bpfEngine) Destroy(ctx context.Context, targets []sockdiag.Socket, progress func(int)) []error {
	errs := make([]error, len(targets))
	if ctx.Err() != nil {
		for i := range errs {
			errs[i] = fmt.Errorf("%w: %w", sockdiag.ErrNotAttempted, context.Cause(ctx))
		}
		return errs
	}
	d, err := e.loader.open()
	if err != nil {
		for i := range errs {
			errs[i] = bpfUnavailable(err)
		}
		return errs
	}
	// The walk takes each full socket's lock: one its application holds
	// stops it, in the kernel, until released. It gets bpfStuckTimeout;
	// then its targets are pending (the walk may still destroy them), and
	// the walk, which cannot be called back, goes on alone with its
	// programs, which are closed when it ends: the next namespace's walk
	// runs on programs loaded anew, and does not wait behind it.
	got := make([]error, len(targets))
	done := make(chan error, 1)
	go func() { done <- e.walk(ctx, d, targets, got, progress) }()
	watchdog := time.NewTimer(bpfStuckTimeout)
	defer watchdog.Stop()
	select {
	case err := <-done:
		for i := range errs {
			if errs[i] = got[i]; err != nil {
				errs[i] = err
			}
		}
	case <-watchdog.C:
		e.loader.abandon(d, done)
		for i := range errs {
			errs[i] = errBPFStuck
		}
	}
	return errs
}

// bpfStuckTimeout bounds the bpf engine's walks of a namespace.
var bpfStuckTimeout = 10 * time.Second

// errBPFStuck is the answer of every target of a walk that did not end in
// time: it waits on a socket whose lock is held, and may still destroy the
// targets it has not reached when the lock is released (sockdiag.ErrPending).
var errBPFStuck error = bpfPending{sockdiag.NewCause(
	"the walk of the sockets waits on a socket whose lock its application holds: it may still destroy this one",
	"a socket's lock is held, most likely by its application, stuck in the kernel (in a send on a hung NFS or FUSE file?): "+
		"the bpf engine's walk of the sockets waits for it, and the sockets it has not reached may still be destroyed when it is released; tcpreap cannot free it",
)}

// A bpfPending is the error of a target a stuck walk may still destroy.
type bpfPending struct{ cause *sockdiag.Cause }

func (e bpfPending) Error() string   { return e.cause.Error() }
func (e bpfPending) Unwrap() []error { return []error{e.cause, sockdiag.ErrPending} }

// walk destroys the targets of each protocol with one walk of the
// namespace's sockets, on a thread of it, and puts each target's answer in
// errs; its error is the namespace's, that could not be entered.
func (e *bpfEngine) walk(ctx context.Context, d *sockbpf.Destroyer, targets []sockdiag.Socket, errs []error, progress func(int)) error {
	of := map[inet.Protocol][]int{}
	for i, t := range targets {
		of[t.Protocol] = append(of[t.Protocol], i)
	}
	return e.ns.Do(func() error {
		for _, p := range []inet.Protocol{inet.TCP, inet.UDP} {
			at := of[p]
			if len(at) == 0 {
				continue
			}
			if ctx.Err() != nil {
				for _, i := range at {
					errs[i] = fmt.Errorf("%w: %w", sockdiag.ErrNotAttempted, context.Cause(ctx))
				}
				continue
			}
			cookies := make([]uint64, len(at))
			for k, i := range at {
				cookies[k] = uint64(targets[i].ID.Cookie)
			}
			results, err := d.Destroy(p, cookies)
			for k, i := range at {
				switch {
				case err != nil:
					errs[i] = walkError{err}
				case results[k].Err == nil:
				case errors.Is(results[k].Err, sockbpf.ErrNotFound):
					errs[i] = sockdiag.ErrGone
				case errors.Is(results[k].Err, sockbpf.ErrNotFullSocket):
					errs[i] = errBPFNotFull
				case errors.Is(results[k].Err, sockbpf.ErrUnconnected):
					errs[i] = errBPFUnconnected
				default:
					// The kfunc's errno (EINVAL for an MPTCP listener): a
					// refusal, so that under auto the first engine's answer,
					// which says more, stands.
					why := "bpf_sock_destroy refused it: " + results[k].Err.Error()
					errs[i] = sockdiag.NewRefusal(why, why)
				}
			}
			if progress != nil {
				progress(len(at))
			}
		}
		return nil
	})
}

// bpfLoader loads the bpf engine's programs once, when first asked, and
// closes them after the run; programs a stuck walk holds are given up to
// it (abandon), and the next ask loads them again.
type bpfLoader struct {
	mu     sync.Mutex
	loaded bool
	d      *sockbpf.Destroyer
	err    error
}

func (l *bpfLoader) open() (*sockbpf.Destroyer, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.loaded {
		l.d, l.err = sockbpf.Open(bpfCapacity)
		l.loaded = true
	}
	return l.d, l.err
}

// abandon gives d up to the walk that holds it, which sends on done when
// it ends: d is closed then, and the next open loads the programs again.
func (l *bpfLoader) abandon(d *sockbpf.Destroyer, done <-chan error) {
	l.mu.Lock()
	if l.d == d {
		l.d, l.loaded = nil, false
	}
	l.mu.Unlock()
	go func() {
		<-done
		d.Close()
	}()
}

func (l *bpfLoader) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.d != nil {
		l.d.Close()
	}
}
