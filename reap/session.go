package reap

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/tcpreap/tcpreap/host"
	"github.com/tcpreap/tcpreap/inet"
	"github.com/tcpreap/tcpreap/sockdiag"
)

// Session returns the guard of the SSH session tcpreap runs in, for
// sockets and flows alike: nil outside an SSH login, with a warning when
// the session cannot be fully found. It reads the process tree.
func Session() (*inet.Session, string) {
	return sessionOf(host.FindSSHSession())
}

// EverySession returns the guard of every SSH session of the host, for a
// daemon, which runs in none of its own: the connections of every SSH
// server are kept. It reads the process tree.
func EverySession() (*inet.Session, string) {
	return sessionOf(host.FindSSHServers())
}

// sessionOf is the guard of what the host found.
func sessionOf(found *host.SSHSession, err error) (*inet.Session, string) {
	note := ""
	if err != nil {
		note = fmt.Sprintf("warning: the ssh session may not be fully protected: %v", err)
	}
	if found == nil {
		return nil, note
	}
	s := &inet.Session{Interface: found.Interface, Everyone: !found.Ancestral, Held: map[uint32]bool{},
		Unsure: found.Unreadable, SSHPort: 22, Hidden: found.Hidden}
	if found.Hidden {
		s.SSHPort = found.Port
	}
	if c := found.Conn; c != nil {
		s.Client, s.Server, s.SSHPort = c.Client, c.Server, c.Server.Port()
	}
	for ino := range found.Sockets {
		s.Held[ino] = true
	}
	return s, note
}

// sessionGuard is the guard of the SSH session for a Query, a plan file or
// conntrack entries alike, as find finds it (Session, or flowSession for
// entries): nil with includeSelf; a note that it cannot be fully found goes
// to notes.
func sessionGuard(includeSelf bool, find func() (*inet.Session, string), notes *[]string) *inet.Session {
	if includeSelf {
		return nil
	}
	s, note := find()
	if note != "" {
		*notes = append(*notes, note)
	}
	return s
}

// noteStale adds to notes that the session SSH_CONNECTION names is no
// connection of namespace ns, when ns is the one tcpreap runs in (the only
// one SSH_CONNECTION speaks of) and it is none there.
func noteStale(ctx context.Context, ns *host.Namespace, conn *sockdiag.Conn, s *inet.Session, notes *[]string) {
	if ns != nil {
		return
	}
	if note := staleSession(ctx, conn, s); note != "" {
		*notes = append(*notes, note)
	}
}

// flowSession is Session for conntrack entries, which have no inode: the
// connections its SSH servers hold (Session.Held) are read as tuples too
// (Session.Conns, from /proc/net/tcp of the namespace tcpreap runs in), so
// that the session's entry is kept where its socket would be, inside tmux
// or screen too.
func flowSession() (*inet.Session, string) {
	s, note := Session()
	if s == nil {
		return nil, note
	}
	ends, err := host.TCPEnds(s.Held)
	for _, e := range ends {
		s.Conns = append(s.Conns, e)
	}
	if err != nil && note == "" {
		note = fmt.Sprintf("warning: the ssh session may not be fully protected: %v", err)
	}
	return s, note
}

// staleSession says, in one line, when the connection SSH_CONNECTION names
// is none of this network namespace's (a session that ended, named inside
// tmux or screen); "" when it is there or nothing names one.
func staleSession(ctx context.Context, conn *sockdiag.Conn, s *inet.Session) string {
	if s == nil || !s.Server.IsValid() {
		return ""
	}
	f := &sockdiag.Filter{
		States:     sockdiag.AllStates,
		Peers:      []inet.Endpoint{{Prefix: netip.PrefixFrom(s.Client.Addr(), s.Client.Addr().BitLen()), Ports: []inet.PortRange{{Lo: s.Client.Port(), Hi: s.Client.Port()}}}},
		Local:      []netip.Prefix{netip.PrefixFrom(s.Server.Addr(), s.Server.Addr().BitLen())},
		LocalPorts: []inet.PortRange{{Lo: s.Server.Port(), Hi: s.Server.Port()}},
	}
	for _, err := range conn.Query(ctx, f) {
		if err != nil {
			return ""
		}
		return "" // it is there
	}
	return fmt.Sprintf("note: SSH_CONNECTION names %s -> %s, which is no connection here (a session that ended, named inside tmux or screen?)", s.Client, s.Server)
}
