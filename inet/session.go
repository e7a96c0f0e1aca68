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
