package kill

import (
	"fmt"
	"net/netip"

	"github.com/tcpreap/tcpreap/sockdiag"
)

// Guards are the rules that keep matching sockets back from a plan.
type Guards struct {
	// ListenNamed is set when the selection named the LISTEN state itself
	// (or every state): only then are LISTEN sockets, which serve every
	// future connection, targets. A group that merely contains it is not
	// enough.
	ListenNamed bool
	// Session is the SSH connection tcpreap runs under; nil when there is
	// none, or when the person running tcpreap chose to include it.
	Session *Session
}

// A Session is an SSH connection: the client's address and port, then the
// server's, IPv4 addresses unmapped.
type Session struct {
	Client, Server netip.AddrPort
}

// carries reports whether s is the server's socket of the session (in the
// namespace sshd runs in: the same tuple elsewhere is another connection,
// which SOCK_DIAG cannot tell apart, so it is protected too).
func (ss *Session) carries(s *sockdiag.Socket) bool {
	return unmap(s.ID.Local) == ss.Server && unmap(s.ID.Remote) == ss.Client
}

func unmap(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// A Reason says why a socket that matched was kept back.
type Reason uint8

// The reasons; NoReason is a target's.
const (
	NoReason Reason = iota
	// ReasonListen: a LISTEN socket, and the selection did not name LISTEN.
	ReasonListen
	// ReasonSession: the connection of the SSH session tcpreap runs in.
	ReasonSession
	// ReasonUnconnectedUDP: SOCK_DESTROY on an unconnected UDP socket
	// (udp_abort) hands its owner one ECONNABORTED and leaves it bound:
	// nothing to destroy.
	ReasonUnconnectedUDP
	// ReasonTimeWait: the kernel cannot destroy timewait sockets (before
	// Linux 6.0); the executor finds this out, not a guard.
	ReasonTimeWait
)

var reasons = [...]struct{ code, sentence string }{
	NoReason:             {"", ""},
	ReasonListen:         {"listen", "LISTEN sockets are kept unless listen is selected"},
	ReasonSession:        {"session", "protects the ssh session tcpreap runs in"},
	ReasonUnconnectedUDP: {"unconnected_udp", "an unconnected UDP socket cannot be destroyed, only its application can close it"},
	ReasonTimeWait:       {"time_wait", sockdiag.ErrTimeWait.Error()},
}

// String returns the reason as a sentence.
func (r Reason) String() string {
	if int(r) < len(reasons) {
		return reasons[r].sentence
	}
	return fmt.Sprintf("reason %d", uint8(r))
}

// Code returns the reason's stable one-word name ("listen"), which records
// written to disk use.
func (r Reason) Code() string {
	if int(r) < len(reasons) {
		return reasons[r].code
	}
	return ""
}

// ReasonByCode returns the reason whose Code is code.
func ReasonByCode(code string) (Reason, bool) {
	for r, n := range reasons {
		if n.code == code {
			return Reason(r), true
		}
	}
	return NoReason, false
}

func (g Guards) reason(s *sockdiag.Socket) Reason {
	switch {
	case g.Session != nil && g.Session.carries(s):
		return ReasonSession
	case s.State == sockdiag.Listen && !g.ListenNamed:
		return ReasonListen
	case s.Protocol == sockdiag.UDP && s.State == sockdiag.Close:
		return ReasonUnconnectedUDP
	}
	return NoReason
}
