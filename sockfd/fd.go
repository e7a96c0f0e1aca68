package sockfd

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"

	"github.com/tcpreap/tcpreap/host"
	"github.com/tcpreap/tcpreap/inet"
	"github.com/tcpreap/tcpreap/sockdiag"
)

// Engine is the fd engine (Linux 5.6 and later, ptrace rights over the
// owner). For each target it takes a duplicate of a descriptor that holds
// it from the process (pidfd_open, pidfd_getfd), checks that the duplicate
// is the planned socket by its cookie (SO_COOKIE) and acts on no other,
// and disconnects it with connect(AF_UNSPEC): for TCP tcp_disconnect,
// which resets the peer in the synchronized states as SOCK_DESTROY's abort
// does, for UDP udp_disconnect. A listener is shut down (shutdown, which
// stops it). The duplicate is closed after. Sockets no process holds are
// out of its reach (ErrNoHolder).
//
// Conn looks the targets up after (the verification), in the namespace
// they are in; the descriptors are the processes', whatever their
// namespace. Holders reads which processes hold each socket, by inode:
// once, on the first Destroy; its error says some processes' files could
// not be read. Nil is ReadHolders. NetNS is the cookie of the network
// namespace the targets are in (NamespaceCookie, taken there): a
// descriptor whose socket is in another is never acted on, whatever its
// cookie; 0 checks nothing.
//
// MPTCP names the targets that are subflows of MPTCP connections, each with
// its connection's token (kill.Plan's Subflows): the process holds the
// MPTCP socket, not the subflow, and the kernel gives each subflow its MPTCP
// socket's inode, so the holders of a subflow are those of its connection.
// Such a target is closed at the MPTCP socket whose token (MPTCP_INFO) is
// its connection's, with connect(AF_UNSPEC): mptcp_disconnect sends
// MP_FASTCLOSE, which resets the peer, closes every subflow, and wakes the
// application, whose reads then fail (ENOTCONN). A connection with more
// subflows than the targets name is left alone (ErrSubflowsOutside). A TCP
// listener whose holder holds an MPTCP listener on its address is that
// MPTCP listener's listening subflow, and the MPTCP listener is shut down;
// a TCP connection whose holder holds an MPTCP connection that fell back to
// TCP on its addresses is that connection's one subflow, and the MPTCP
// connection is disconnected. Those two are taken only while the kernel
// shows the target, by its cookie, with the holder's inode.
type Engine struct {
	Conn    *sockdiag.Conn
	Holders func() (map[uint32][]host.Owner, error)
	NetNS   uint64
	MPTCP   map[sockdiag.Cookie]uint32

	once       sync.Once
	holders    map[uint32][]host.Owner
	holdersErr error
	planned    map[uint32]int // how many targets each MPTCP token has
}

// ReadHolders reads which processes hold each socket, by inode: every
// process's descriptors, as they are now (host.SocketOwners). Its error
// says some could not be read.
func ReadHolders() (map[uint32][]host.Owner, error) {
	procs, err := host.AllProcesses()
	if err != nil {
		return nil, err
	}
	return host.SocketOwners(procs)
}

// Offered returns "" when this host offers the engine: its kernel has
// pidfd_open and pidfd_getfd (Linux 5.6), and they are allowed; else why
// not.
func Offered() string { return offered() }

// NamespaceCookie is the cookie of the calling thread's network namespace
// (SO_NETNS_COOKIE, Linux 5.14), for Engine's NetNS; 0 and an error where
// the kernel has none.
func NamespaceCookie() (uint64, error) { return namespaceCookie() }

// Name is "fd".
func (*Engine) Name() string { return "fd" }

// Lookup is Conn's.
func (e *Engine) Lookup(ctx context.Context, targets []sockdiag.Socket) []sockdiag.Seen {
	return e.Conn.Lookup(ctx, targets)
}

// Doubtful: every disconnect the kernel accepted is looked up again; the
// refusals are the truth.
func (*Engine) Doubtful(_ context.Context, _ *sockdiag.Socket, err error) bool { return err == nil }

// Destroy disconnects each target through a descriptor of a process that
// holds it, one after the other, and answers for each: nil when the kernel
// disconnected it (for a subflow MPTCP names, its MPTCP connection);
// ErrNoHolder, ErrHoldersUnknown, ErrPtrace, ErrBlocked, ErrSubflowsOutside
// when this engine cannot; sockdiag.ErrGone for a target that no process
// holds any more and the kernel no longer shows; after ctx ends,
// sockdiag.ErrNotAttempted and its cause.
func (e *Engine) Destroy(ctx context.Context, targets []sockdiag.Socket, progress func(settled int)) []error {
	e.once.Do(func() {
		read := e.Holders
		if read == nil {
			read = ReadHolders
		}
		e.holders, e.holdersErr = read()
		e.planned = map[uint32]int{}
		for _, token := range e.MPTCP {
			e.planned[token]++
		}
	})
	errs := make([]error, len(targets))
	var unheld []int
	for i := range targets {
		if ctx.Err() != nil {
			errs[i] = fmt.Errorf("%w: %w", sockdiag.ErrNotAttempted, context.Cause(ctx))
			continue
		}
		errs[i] = e.destroy(ctx, &targets[i])
		if errors.Is(errs[i], errUnheld) || errors.Is(errs[i], ErrNoHolder) || errors.Is(errs[i], ErrHoldersUnknown) {
			unheld = append(unheld, i)
		}
		if progress != nil {
			progress(1)
		}
	}
	e.settleUnheld(ctx, targets, errs, unheld)
	return errs
}

// destroy disconnects one target through the first of its holders whose
// descriptor still is it.
func (e *Engine) destroy(ctx context.Context, s *sockdiag.Socket) error {
	holders := e.holders[s.Inode]
	switch {
	case s.Inode != 0 && len(holders) == 0 && e.holdersErr != nil:
		return ErrHoldersUnknown
	case s.Inode == 0 || len(holders) == 0:
		return ErrNoHolder
	}
	var denied error
	for _, h := range holders {
		fd, err := take(h)
		if errors.Is(err, errDenied) {
			denied = fmt.Errorf("%w: %w", ErrPtrace, err)
			continue
		}
		if err != nil {
			continue // the process exited, or closed the descriptor
		}
		cookie, err := cookieOf(fd)
		owns := err == nil && sockdiag.Cookie(cookie) == s.ID.Cookie && sameProtocol(fd, s)
		if err == nil && !owns {
			owns, err = e.mptcpOwner(ctx, fd, s)
		}
		if errors.Is(err, ErrSubflowsOutside) {
			closeFD(fd)
			return err
		}
		if !owns {
			closeFD(fd) // another socket took the descriptor: never act on it
			continue
		}
		if e.NetNS != 0 {
			if ns, err := netnsCookieOf(fd); err != nil || ns != e.NetNS {
				closeFD(fd) // a socket of another namespace than the plan's
				continue
			}
		}
		err = disconnect(fd, s.Protocol == inet.TCP && s.State == sockdiag.Listen)
		closeFD(fd)
		if errors.Is(err, errBusy) {
			return fmt.Errorf("%w: %w", ErrBlocked, err)
		}
		return err
	}
	if denied != nil {
		return denied
	}
	return errUnheld
}

// sameProtocol reports whether fd's socket is of s's protocol: a target
// the kernel does not show (a plan file's, edited) may carry the cookie of
// a socket of another protocol (UDP for TCP, an MPTCP socket), which its
// dump did not look at.
func sameProtocol(fd int, s *sockdiag.Socket) bool {
	proto, err := protocolOf(fd)
	return err == nil && proto == int(s.Protocol)
}

// mptcpOwner reports whether fd is the MPTCP socket that s is a subflow
// of: for a target MPTCP names, the MPTCP socket whose token is its
// connection's (and ErrSubflowsOutside when that connection has more
// subflows than the targets name); for a TCP listener, an MPTCP listener on
// its address (an MPTCP listener has no token); for another TCP socket, an
// MPTCP connection that fell back to TCP on its addresses, whose one
// subflow it is. Those two are matched by address: the kernel must show s
// now, by its cookie, with the socket's inode (a target the kernel does not
// have, a plan file's edited, names none).
func (e *Engine) mptcpOwner(ctx context.Context, fd int, s *sockdiag.Socket) (bool, error) {
	m, ok := mptcpOf(fd)
	if !ok {
		return false, nil
	}
	if token, sub := e.MPTCP[s.ID.Cookie]; sub {
		if token == 0 || m.token != token || m.listening {
			return false, nil
		}
		if m.subflows > e.planned[token] {
			return false, ErrSubflowsOutside
		}
		return true, nil
	}
	switch {
	case s.Protocol != inet.TCP:
		return false, nil
	case m.fallback && s.State != sockdiag.Listen && unmapped(m.local) == unmapped(s.ID.Local) && unmapped(m.remote) == unmapped(s.ID.Remote):
	case m.listening && s.State == sockdiag.Listen && unmapped(m.local) == unmapped(s.ID.Local):
	default:
		return false, nil
	}
	seen := e.Conn.Lookup(ctx, []sockdiag.Socket{*s})[0]
	return seen.Present && seen.Now.Inode == s.Inode, seen.Err
}

// unmapped is p with a v4-mapped address as IPv4.
func unmapped(p netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(p.Addr().Unmap(), p.Port())
}

// An mptcpSocket is what an MPTCP socket shows of itself.
type mptcpSocket struct {
	listening bool           // SO_ACCEPTCONN
	local     netip.AddrPort // getsockname
	token     uint32         // mptcp_info's mptcpi_token
	// subflows is how many subflows its connection has (mptcpi_subflows_total,
	// Linux 6.10; before, the joined ones and the first, mptcpi_subflows+1).
	subflows int
	// fallback: a connection that fell back to TCP (TCP_IS_MPTCP 0), with
	// one subflow, which has its addresses; remote is its getpeername.
	fallback bool
	remote   netip.AddrPort
}

// settleUnheld looks up the targets no holder was found for, or whose
// holders no longer held them: one the kernel no longer shows is gone (it
// closed, or another socket took its tuple, since the plan); one it shows
// keeps its answer, and one whose holders let it go is held by no process
// now.
func (e *Engine) settleUnheld(ctx context.Context, targets []sockdiag.Socket, errs []error, unheld []int) {
	if len(unheld) == 0 {
		return
	}
	again := make([]sockdiag.Socket, len(unheld))
	for k, i := range unheld {
		again[k] = targets[i]
	}
	for k, seen := range e.Conn.Lookup(ctx, again) {
		i := unheld[k]
		switch {
		case seen.Err == nil && !seen.Present:
			errs[i] = sockdiag.ErrGone
		case errors.Is(errs[i], errUnheld):
			errs[i] = ErrNoHolder
		}
	}
}
