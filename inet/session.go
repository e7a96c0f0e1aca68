package inet

import "net/netip"

// A Session is the SSH session tcpreap runs in, as far as the host can
// tell: the connection SSH_CONNECTION names, and the sockets SSH server
// processes hold. Sockets and conntrack entries are both kept back by it,
// each judged by Carries.
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
	// Hidden: tcpreap's ancestry ends out of sight (it runs in a PID
	// namespace of its own, as a container's shell does), where an SSH
	// server above it cannot be seen, and nothing names a session: every
	// TCP connection on the SSH port (SSHPort) is kept.
	Hidden bool
	// Conns are the TCP connections of the sockets in Held, each its local
	// end then its remote end, as the namespace
	// tcpreap runs in shows them: what keeps back what has no inode, a
	// conntrack entry (Holds). Nil when not read.
	Conns [][2]netip.AddrPort
}

// Carries reports whether the connection between local and remote, on
// interface ifindex (0 for any), is the one SSH_CONNECTION names, as this
// host sees it: local is the server's end. Addresses compare unmapped and
// without zone. The same tuple in another network namespace is another
// connection, which a tuple cannot tell apart, so it is carried too.
func (s *Session) Carries(local, remote netip.AddrPort, ifindex uint32) bool {
	return s != nil && s.Server.IsValid() && plain(local) == s.Server && plain(remote) == s.Client &&
		(s.Interface == 0 || ifindex == 0 || ifindex == s.Interface)
}

// plain is ap without zone, IPv4 unmapped.
func plain(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().WithZone("").Unmap(), ap.Port())
}

// Holds reports whether the connection between a and b, in either
// direction, is one of Conns: held by an SSH server, the session's own
// (unless Everyone, when the session cannot be told apart from the
// others). Addresses compare unmapped and without zone.
func (s *Session) Holds(a, b netip.AddrPort) bool {
	if s == nil {
		return false
	}
	a, b = plain(a), plain(b)
	for _, c := range s.Conns {
		if c[0], c[1] = plain(c[0]), plain(c[1]); c[0] == a && c[1] == b || c[0] == b && c[1] == a {
			return true
		}
	}
	return false
}
