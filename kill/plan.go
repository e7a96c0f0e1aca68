// Package kill turns a selection of sockets into a Plan (the targets, and the
// sockets a guard kept back with the reason) and executes it: one Result per
// socket, killed, gone, failed or skipped.
package kill

import (
	"errors"
	"fmt"
	"iter"
	"net"
	"net/netip"
	"strings"

	"github.com/tcpreap/tcpreap/sockdiag"
)

// A Skip is a socket that matched the selection but that a guard kept back.
type Skip struct {
	Socket sockdiag.Socket
	Reason string
}

// A Plan is what a run will destroy: the targets, each with the full sockid
// it was dumped with (cookie and interface included), and the skipped
// sockets with their reasons. A dry run prints it and stops.
type Plan struct {
	Targets []sockdiag.Socket
	Skipped []Skip
}

// Guards are the rules that keep matching sockets back from a plan.
type Guards struct {
	// ListenNamed is set when --state named listen (or all): only then are
	// LISTEN sockets, which serve every future connection, targets.
	ListenNamed bool
	// Session is the SSH connection tcpreap runs under (SSH_CONNECTION),
	// nil when there is none or --include-self was given.
	Session *Session
}

// A Session is an SSH connection as SSH_CONNECTION names it: the client's
// address and port, then the server's.
type Session struct {
	Client, Server netip.AddrPort
}

// ParseSession parses the value of SSH_CONNECTION: "CLIENT_IP CLIENT_PORT
// SERVER_IP SERVER_PORT".
func ParseSession(v string) (*Session, error) {
	f := strings.Fields(v)
	if len(f) != 4 {
		return nil, fmt.Errorf("SSH_CONNECTION %q does not have the four fields client-ip client-port server-ip server-port", v)
	}
	client, err1 := netip.ParseAddrPort(net.JoinHostPort(f[0], f[1]))
	server, err2 := netip.ParseAddrPort(net.JoinHostPort(f[2], f[3]))
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("SSH_CONNECTION %q: %v", v, err)
	}
	return &Session{Client: unmap(client), Server: unmap(server)}, nil
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

// Reasons a guard gives.
const (
	ReasonListen  = "LISTEN sockets are only destroyed when --state names listen"
	ReasonSession = "protects the ssh session tcpreap runs in"
	// SOCK_DESTROY on an unconnected UDP socket (udp_abort) hands its owner
	// one ECONNABORTED and leaves it bound: nothing to destroy.
	ReasonUnconnectedUDP = "an unconnected UDP socket cannot be destroyed, only its application can close it"
)

// NewPlan reads the selected sockets and sorts them into targets and skips.
// It returns the first error of the query.
func NewPlan(sockets iter.Seq2[sockdiag.Socket, error], g Guards) (*Plan, error) {
	p := &Plan{}
	for s, err := range sockets {
		if err != nil {
			return nil, err
		}
		if reason := g.reason(&s); reason != "" {
			p.Skipped = append(p.Skipped, Skip{s, reason})
			continue
		}
		p.Targets = append(p.Targets, s)
	}
	return p, nil
}

func (g Guards) reason(s *sockdiag.Socket) string {
	switch {
	case g.Session != nil && g.Session.carries(s):
		return ReasonSession
	case s.State == sockdiag.Listen && !g.ListenNamed:
		return ReasonListen
	case s.Protocol == sockdiag.UDP && s.State == sockdiag.Close:
		return ReasonUnconnectedUDP
	}
	return ""
}
