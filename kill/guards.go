package kill

import (
	"fmt"
	"net/netip"

	"github.com/tcpreap/tcpreap/inet"
	"github.com/tcpreap/tcpreap/sockdiag"
)

// Guards are the rules that keep matching sockets back from a plan.
type Guards struct {
	// ListenNamed is set when the selection named the LISTEN state itself
	// (or every state): only then are LISTEN sockets, which serve every
	// future connection, targets. A group that merely contains it is not
	// enough.
	ListenNamed bool
	// Session is the SSH session tcpreap runs in; nil when there is none,
	// or when the person running tcpreap chose to include it.
	Session *Session
}

// A Session is the SSH session tcpreap runs in, as far as the host can
// tell: the connection SSH_CONNECTION names, and the sockets SSH server
// processes hold.
type Session struct {
	// Client and Server name the connection (IPv4 unmapped, no zone);
	// invalid when nothing names it. Interface is the link of a link-local
	// connection (its zone), 0 for any.
	Client, Server netip.AddrPort
	Interface      uint32
	// Held are the inodes of the sockets that SSH server processes hold: the
	// session's own when Everyone is false (the servers are tcpreap's
	// ancestors), else every SSH server's, for the session cannot be told
	// apart (tcpreap runs inside tmux or screen, detached from it).
	Held     map[uint32]bool
	Everyone bool
	// Unsure: the open files of an SSH server could not be read, so Held
	// may miss the session: every TCP connection on the SSH server's port
	// (SSHPort) is kept too.
	Unsure  bool
	SSHPort uint16
}

// keeps returns why the session keeps s back, or NoReason. A LISTEN socket
// is no session's, even when an SSH server holds it.
func (ss *Session) keeps(s *sockdiag.Socket) Reason {
	switch {
	case ss.Server.IsValid() && unmap(s.ID.Local) == ss.Server && unmap(s.ID.Remote) == ss.Client &&
		(ss.Interface == 0 || s.ID.Interface == 0 || s.ID.Interface == ss.Interface):
		// In the namespace sshd runs in; the same tuple elsewhere is another
		// connection, which SOCK_DIAG cannot tell apart, so it is kept too.
		return ReasonSession
	case s.State == sockdiag.Listen:
		return NoReason
	case ss.Unsure && s.Protocol == inet.TCP && s.ID.Local.Port() == ss.SSHPort && !ss.Held[s.Inode]:
		return ReasonSSHUnsure
	case s.Inode == 0 || !ss.Held[s.Inode]:
		return NoReason
	case ss.Everyone:
		return ReasonSSHServer
	}
	return ReasonSession
}

// unmap returns the address without zone, IPv4 unmapped.
func unmap(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().WithZone("").Unmap(), ap.Port())
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
	// ReasonSSHServer: held by an SSH server process, when the session
	// tcpreap runs in cannot be told apart from the others.
	ReasonSSHServer
	// ReasonChanged: a planned socket that has become another kind of
	// socket since (see Recheck); the skip carries it as it is now.
	ReasonChanged
	// ReasonSSHUnsure: a connection on the SSH server's port, when the
	// server's open files could not be read and it may be the session's.
	ReasonSSHUnsure
)

var reasons = [...]struct{ code, sentence string }{
	NoReason:             {"", ""},
	ReasonListen:         {"listen", "LISTEN sockets are kept unless listen is selected"},
	ReasonSession:        {"session", "protects the ssh session tcpreap runs in"},
	ReasonUnconnectedUDP: {"unconnected_udp", "an unconnected UDP socket cannot be destroyed, only its application can close it"},
	ReasonTimeWait:       {"time_wait", sockdiag.ErrTimeWait.Error()},
	ReasonSSHServer:      {"ssh_server", "held by an SSH server, and tcpreap cannot tell which connection carries the session it runs in (tmux or screen)"},
	ReasonChanged:        {"changed", "changed since the plan into another kind of socket"},
	ReasonSSHUnsure:      {"ssh_unsure", "may carry the ssh session tcpreap runs in: the SSH server's open files cannot be read"},
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
	if g.Session != nil {
		if r := g.Session.keeps(s); r != NoReason {
			return r
		}
	}
	switch {
	case s.State == sockdiag.Listen && !g.ListenNamed:
		return ReasonListen
	case s.Protocol == inet.UDP && s.State == sockdiag.Close:
		return ReasonUnconnectedUDP
	}
	return NoReason
}
