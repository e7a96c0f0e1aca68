package sockdiag

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"

	"github.com/tcpreap/tcpreap/inet"
	"golang.org/x/sys/unix"
)

// This file is the one place for what this kernel can do and what its
// answers mean: the release and the abilities that hang on it, a probe of
// the diag modules and of SOCK_DESTROY, and the errno of every dump and
// destroy turned into an error a caller can act on, with its sentence.

// A Cause is why a dump or a destroy failed when the reason holds for every
// socket like it: something this kernel or this process cannot do. Error is
// what one socket's result says; Explain is the sentence to say once, for
// all of them, that tells the person running tcpreap what to do.
type Cause struct {
	short, sentence string
}

func (c *Cause) Error() string { return c.short }

// Explain returns the sentence that says what to do about the cause.
func (c *Cause) Explain() string {
	if c.sentence == "" {
		return c.short
	}
	return c.sentence
}

// Explain returns the sentence of the Cause that err wraps, if it wraps one.
func Explain(err error) (string, bool) {
	var c *Cause
	if errors.As(err, &c) {
		return c.Explain(), true
	}
	return "", false
}

// The causes a destroy's result may wrap.
var (
	// ErrGone: the kernel found no socket with the target's tuple and
	// cookie (ENOENT): it closed, or another socket took its tuple.
	ErrGone = &Cause{short: "no such socket: it closed, or another socket took its address and port"}
	// ErrPermission: SOCK_DESTROY needs CAP_NET_ADMIN in the network
	// namespace of the socket (EPERM, EACCES).
	ErrPermission = &Cause{short: "destroying sockets needs CAP_NET_ADMIN in this network namespace (try sudo)"}
	// ErrNoDestroy: the kernel has no SOCK_DESTROY for the protocol
	// (EOPNOTSUPP: built without CONFIG_INET_DIAG_DESTROY).
	ErrNoDestroy = &Cause{short: "this kernel was built without CONFIG_INET_DIAG_DESTROY: SOCK_DESTROY destroys nothing here; the fd engine reaches the sockets a process holds"}
	// ErrTimeWait: tcp_abort learnt timewait sockets in Linux 6.0; an older
	// kernel answers EOPNOTSUPP for them and destroys the rest.
	ErrTimeWait = &Cause{short: "this kernel cannot destroy TIME-WAIT sockets (Linux 6.0 and later can)"}
	// ErrStillPresent: the kernel said it destroyed the socket, or did not
	// answer, and a new dump still shows it. Kernels before 6.11 answered 0
	// for an orphaned socket (one its application closed) and left it.
	ErrStillPresent = &Cause{
		short:    "still present after destroy",
		sentence: "the kernel accepted some destroys but the sockets are still there (kernels before 6.11 do this for orphaned sockets)",
	}
	// ErrUnreachable: the kernel answered ENOENT but the socket is there. It
	// finds a destroy's target by address and port, and in an SO_REUSEPORT
	// group that lookup can land on a sibling, whose cookie differs. The
	// kill package sends such destroys again while the group shrinks; what
	// is left is a group whose lookup lands on a member that is no target.
	ErrUnreachable = &Cause{
		short:    "still present: the kernel's lookup by address and port finds another socket (an SO_REUSEPORT group, or a UDP twin?)",
		sentence: "some sockets share their address and port with others (SO_REUSEPORT, or SO_REUSEADDR for UDP) that were not destroyed, and the kernel, asked for them by address, finds one of those instead; they are still there: select them all, or stop their application",
	}
	// ErrMPTCPListener: the kernel refused (EINVAL) to destroy a listener
	// that is the listening subflow of an MPTCP socket: MPTCP's
	// tcp_abort_override (net/mptcp/subflow.c; Linux 6.7, and the stable
	// kernels it went back to) will not close one. Since Go 1.24 a Go
	// program's TCP listeners are MPTCP ones wherever the kernel has MPTCP
	// enabled.
	ErrMPTCPListener = &Cause{
		short:    "an MPTCP listener, which the kernel refuses to destroy",
		sentence: "some listeners are MPTCP sockets (Go 1.24 and later listen with MPTCP by default), which the kernel refuses to destroy; stop their application, or have it listen with plain TCP (a Go server: run it with GODEBUG=multipathtcp=0, or call SetMultipathTCP(false) on its net.ListenConfig)",
	}
)

// ErrNoDiag returns the cause of a dump the kernel refused with ENOENT: the
// diag module of the protocol (tcp_diag, udp_diag) is not there.
func ErrNoDiag(p inet.Protocol) *Cause {
	return noDiag[p]
}

var noDiag = map[inet.Protocol]*Cause{
	inet.TCP: {short: "this kernel cannot list tcp sockets (is CONFIG_INET_TCP_DIAG enabled?)"},
	inet.UDP: {short: "this kernel cannot list udp sockets (is CONFIG_INET_UDP_DIAG enabled?)"},
}

// dumpError is what the kernel's refusal of a dump means.
func dumpError(req Request, err error) error {
	if errors.Is(err, unix.ENOENT) && noDiag[req.Protocol] != nil {
		err = fmt.Errorf("%w: %w", noDiag[req.Protocol], err)
	}
	return &OpError{Op: "dump", Request: req, Err: err}
}

// LostAnswer reports whether err is a dump's that lost an answer (ENOBUFS):
// nothing is wrong with the request, and made again from the start, it may
// go through.
func LostAnswer(err error) bool {
	var oe *OpError
	return errors.As(err, &oe) && oe.Op == "dump" && errors.Is(err, unix.ENOBUFS)
}

// destroyError is what the kernel's answer to the destroy of s means; nil
// for a destroyed socket.
func (c *Conn) destroyError(s *Socket, errno error) error {
	var cause *Cause
	switch {
	case errno == nil:
		return nil
	case errors.Is(errno, unix.ENOENT):
		cause = ErrGone
	case errors.Is(errno, unix.EPERM), errors.Is(errno, unix.EACCES):
		cause = ErrPermission
	case errors.Is(errno, unix.EOPNOTSUPP) && s.IsTimeWait() && !c.release.DestroysTimeWait():
		cause = ErrTimeWait
	case errors.Is(errno, unix.EOPNOTSUPP):
		cause = ErrNoDestroy
	default:
		return opError(s, errno)
	}
	return opError(s, fmt.Errorf("%w: %w", cause, errno))
}

// explainInvalid gives the EINVAL answers to the destroys of TCP listeners
// their meaning, where the kernel confirms it. The only EINVAL a well-formed
// destroy of a TCP socket gets is MPTCP's (see ErrMPTCPListener): tcp_abort
// has none, and the diag layer's (__sock_diag_cmd, inet_diag_handler_cmd,
// inet_diag_find_one_icsk) are for requests tcpreap does not send, short
// ones or of a family other than IPv4 and IPv6. An MPTCP listening subflow
// dumps with the ULP "mptcp", so one dump of the listeners on the port, per
// family and port refused, with INET_DIAG_INFO (which brings the ULP along),
// tells: a target it shows with that ULP fails with ErrMPTCPListener, any
// other keeps the bare errno. It costs nothing when no destroy answered
// EINVAL.
func (c *Conn) explainInvalid(ctx context.Context, targets []Socket, errs []error) {
	type key struct {
		fam  inet.Family
		port uint16
	}
	refused := map[key]map[Cookie]int{}
	var order []key
	for i := range targets {
		s := &targets[i]
		if s.Protocol != inet.TCP || s.State != Listen || !errors.Is(errs[i], unix.EINVAL) {
			continue
		}
		k := key{s.Family, s.ID.Local.Port()}
		if refused[k] == nil {
			refused[k] = map[Cookie]int{}
			order = append(order, k)
		}
		refused[k][s.ID.Cookie] = i
	}
	for _, k := range order {
		req := Request{
			Family: k.fam, Protocol: inet.TCP, States: 1 << Listen,
			Ext: 1 << (inetDiagInfo - 1),
			ID:  SockID{Local: netip.AddrPortFrom(netip.Addr{}, k.port)},
		}
		// A failure leaves the errno unconfirmed.
		_ = c.dump(ctx, req, func(s *Socket, attrs []byte) bool {
			var a msgAttrs
			if i, ok := refused[k][s.ID.Cookie]; ok && a.UnmarshalBinary(attrs) == nil && a.ULP == ulpMPTCP {
				errs[i] = opError(&targets[i], fmt.Errorf("%w: %w", ErrMPTCPListener, unix.EINVAL))
			}
			return true
		})
	}
}

// fatal reports whether a destroy's error shows that no other destroy on
// the same connection can succeed: the permission is the same for every
// socket of a network namespace.
func fatal(err error) bool {
	return errors.Is(err, ErrPermission) || errors.Is(err, ErrNoDestroy)
}

// A Release is a kernel version, major and minor.
type Release struct{ Major, Minor int }

// AtLeast reports whether the release is major.minor or later.
func (r Release) AtLeast(major, minor int) bool {
	return r.Major > major || r.Major == major && r.Minor >= minor
}

func (r Release) String() string { return fmt.Sprintf("%d.%d", r.Major, r.Minor) }

// DestroysTimeWait reports whether the release destroys timewait sockets:
// tcp_abort handles them since Linux 6.0, and answers EOPNOTSUPP before.
func (r Release) DestroysTimeWait() bool { return r.AtLeast(6, 0) }

// ParseRelease reads the version at the start of a kernel release string
// as uname prints it ("6.1.0-28-amd64").
func ParseRelease(s string) (Release, error) {
	var r Release
	if _, err := fmt.Sscanf(strings.TrimSpace(s), "%d.%d", &r.Major, &r.Minor); err != nil {
		return Release{}, fmt.Errorf("kernel release %q does not start with MAJOR.MINOR", s)
	}
	return r, nil
}

// RunningRelease returns the release of the running kernel, read once with
// uname; the zero Release when it cannot be read, which no ability reaches.
func RunningRelease() Release { return runningRelease() }

var runningRelease = sync.OnceValue(func() Release {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return Release{}
	}
	r, _ := ParseRelease(unix.ByteSliceToString(u.Release[:]))
	return r
})

// Support is what the kernel behind a Conn can do, as Probe found it.
type Support struct {
	Release Release
	// List and Destroy hold, for each protocol, nil when the kernel dumps
	// (destroys) its sockets, else the Cause.
	List, Destroy map[inet.Protocol]error
}

// probeCookie is the cookie of the probe's destroy: no socket has it (the
// kernel counts cookies up from 1), and it is not INET_DIAG_NOCOOKIE.
const probeCookie Cookie = noCookie - 1

// Probe asks the kernel what it can do, for TCP and UDP: a dump of no state
// (which finds nothing, at the cost of a walk of the UDP table) shows
// whether the diag module is there, and a SOCK_DESTROY for a tuple no socket can have (port 0
// at both ends, with a cookie no socket has) whether the kernel has
// SOCK_DESTROY (ENOENT) or not (EOPNOTSUPP); it reaches no socket. Each
// protocol is probed once per Conn; a later call returns what the first
// found. Permission is not probed: the kernel checks it only for a socket it
// found, and the first real destroy tells.
func (c *Conn) Probe(ctx context.Context) *Support {
	s := &Support{Release: c.release, List: map[inet.Protocol]error{}, Destroy: map[inet.Protocol]error{}}
	for _, p := range []inet.Protocol{inet.TCP, inet.UDP} {
		s.List[p], s.Destroy[p] = c.probe(ctx, p)
	}
	return s
}

// probe returns what the kernel answers for protocol p, asking it once.
func (c *Conn) probe(ctx context.Context, p inet.Protocol) (list, destroy error) {
	c.probeMu.Lock()
	defer c.probeMu.Unlock()
	if r, ok := c.probed[p]; ok {
		return r.list, r.destroy
	}
	req := Request{Family: inet.IPv4, Protocol: p}
	for _, err := range c.Dump(ctx, req) {
		if err != nil {
			list = err
			break
		}
	}
	switch {
	case list != nil:
		destroy = list
	default:
		s := Socket{Protocol: p, Family: inet.IPv4, ID: SockID{
			Local:  netip.AddrPortFrom(netip.IPv4Unspecified(), 0),
			Remote: netip.AddrPortFrom(netip.IPv4Unspecified(), 0),
			Cookie: probeCookie,
		}}
		errs := make([]error, 1)
		if c.sendBatch(ctx, c.c, []Socket{s}, errs) {
			c.renew()
		}
		if errors.Is(errs[0], ErrNoDestroy) || withoutDestroy {
			destroy = ErrNoDestroy
		}
	}
	if ctx.Err() != nil {
		return list, destroy // not remembered: the next call asks again
	}
	if c.probed == nil {
		c.probed = map[inet.Protocol]probeResult{}
	}
	c.probed[p] = probeResult{list, destroy}
	return list, destroy
}

type probeResult struct{ list, destroy error }

// NewCause is a Cause of another engine's: short is what one socket's
// result says, sentence (or, when "", short) what to do, said once.
func NewCause(short, sentence string) *Cause { return &Cause{short: short, sentence: sentence} }

// A Refusal is the Cause of a target another engine cannot reach, whatever
// it tries, and which the next engine may (kill.Refused): it has a method
// Refused that returns true.
type Refusal struct{ *Cause }

func (r Refusal) Unwrap() error { return r.Cause }

// Refused marks the answer as an engine's refusal.
func (Refusal) Refused() bool { return true }

// NewRefusal is a Refusal of a NewCause.
func NewRefusal(short, sentence string) error { return Refusal{NewCause(short, sentence)} }
