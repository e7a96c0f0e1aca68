package kill

import (
	"fmt"

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
	Session *inet.Session
}

// keeps returns why the session ss keeps s back, or NoReason. A LISTEN
// socket is no session's, even when an SSH server holds it.
func keeps(ss *inet.Session, s *sockdiag.Socket) Reason {
	switch {
	case ss.Carries(s.ID.Local, s.ID.Remote, s.ID.Interface):
		return ReasonSession
	case s.State == sockdiag.Listen:
		return NoReason
	case ss.Hidden && s.Protocol == inet.TCP && s.ID.Local.Port() == ss.SSHPort:
		return ReasonSSHHidden
	case ss.Unsure && s.Protocol == inet.TCP && s.ID.Local.Port() == ss.SSHPort && !ss.Held[s.Inode]:
		return ReasonSSHUnsure
	case s.Inode == 0 || !ss.Held[s.Inode]:
		return NoReason
	case ss.Everyone:
		return ReasonSSHServer
	}
	return ReasonSession
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
	// ReasonSSHHidden: a connection on the SSH port, when tcpreap runs in a
	// PID namespace of its own, where the SSH server above it cannot be seen.
	ReasonSSHHidden
	// ReasonMPTCPSubflow: a subflow of an MPTCP connection whose peer speaks
	// MPTCP (sockdiag.Conn.MPTCPSubflows): destroying it resets the subflow
	// and leaves the connection open, its application blocked; kept back
	// when no engine closes its connection (Plan.KeepSubflows).
	ReasonMPTCPSubflow
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
	ReasonSSHHidden:      {"ssh_hidden", "may carry the ssh session tcpreap runs in: tcpreap runs in a PID namespace of its own, where an SSH server above it cannot be seen"},
	ReasonMPTCPSubflow:   {"mptcp_subflow", "an MPTCP subflow: destroying it would leave its MPTCP connection open, which only a descriptor of the connection closes (the fd engine's, through a process that holds it)"},
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
		if r := keeps(g.Session, s); r != NoReason {
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
