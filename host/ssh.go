package host

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// An SSHConnection is an SSH connection as SSH_CONNECTION names it: the
// client's address and port, then the server's, IPv4 addresses unmapped.
// OpenSSH writes a link-local address with its zone ("fe80::2%eth0"): the
// addresses here have none, and Zone is the link.
type SSHConnection struct {
	Client, Server netip.AddrPort
	Zone           string
}

// ParseSSHConnection parses the value of SSH_CONNECTION: "CLIENT_IP
// CLIENT_PORT SERVER_IP SERVER_PORT".
func ParseSSHConnection(v string) (*SSHConnection, error) {
	f := strings.Fields(v)
	if len(f) != 4 {
		return nil, fmt.Errorf("SSH_CONNECTION %q does not have the four fields client-ip client-port server-ip server-port", v)
	}
	client, err1 := netip.ParseAddrPort(net.JoinHostPort(f[0], f[1]))
	server, err2 := netip.ParseAddrPort(net.JoinHostPort(f[2], f[3]))
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("SSH_CONNECTION %q: %v", v, err)
	}
	zone := client.Addr().Zone()
	if z := server.Addr().Zone(); zone == "" {
		zone = z
	}
	return &SSHConnection{Client: plain(client), Server: plain(server), Zone: zone}, nil
}

// plain returns the address without zone, IPv4 unmapped.
func plain(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().WithZone("").Unmap(), ap.Port())
}

// sshServers are the commands of SSH server processes: OpenSSH's (sshd;
// sshd-session for each connection since 9.8, sshd-auth since 10.0) and
// Dropbear's.
var sshServers = []string{"sshd", "sshd-session", "sshd-auth", "dropbear"}

// sshLogin are the variables that say tcpreap runs in an SSH login, or in a
// terminal multiplexer that one may have started.
var sshLogin = []string{"SSH_CONNECTION", "SSH_CLIENT", "TMUX", "STY"}

// An SSHSession is what this host says of the SSH session tcpreap runs in.
type SSHSession struct {
	// Conn is the connection SSH_CONNECTION names, in tcpreap's environment
	// or its nearest ancestor's; nil when none does. Inside tmux or screen
	// it is that of the session that started the multiplexer, which may
	// have ended.
	Conn *SSHConnection
	// Interface is the index of Conn's zone, 0 without one.
	Interface uint32
	// Ancestral: the SSH server processes below are tcpreap's ancestors,
	// which hold the connection of its session. Else there is no SSH
	// server among them although the environment says this is an SSH login
	// (a multiplexer detaches from its session): they are every SSH server
	// process of the host, and the session cannot be told apart.
	Ancestral bool
	Servers   []Process
	// Sockets are the sockets the servers hold, by inode.
	Sockets map[uint32][]Owner
}

// FindSSHSession finds the SSH session tcpreap runs in from the process
// tree: the SSH server processes among its ancestors, and the sockets they
// hold. Without one, but in an SSH login (SSH_CONNECTION, SSH_CLIENT, TMUX
// or STY set), it takes every SSH server process of the host. It returns
// nil when this is no SSH login. It reads the stat and environment of
// tcpreap's ancestors, and the fd directories of the servers (and, without
// an SSH server ancestor, the stat of every process). An error says what
// could not be read; the session found so far comes with it.
func FindSSHSession() (*SSHSession, error) {
	s := &SSHSession{}
	var errs []error
	if v := AncestorEnv("SSH_CONNECTION"); v != "" {
		c, err := ParseSSHConnection(v)
		errs = append(errs, err)
		s.Conn = c
	}
	for _, p := range Ancestors() {
		if slices.Contains(sshServers, p.Command) {
			s.Servers = append(s.Servers, p)
		}
	}
	s.Ancestral = len(s.Servers) > 0
	if !s.Ancestral {
		if !slices.ContainsFunc(sshLogin, func(v string) bool { return AncestorEnv(v) != "" }) {
			return nil, errors.Join(errs...)
		}
		all, err := Processes(sshServers...)
		errs = append(errs, err)
		s.Servers = all
	}
	owners, err := SocketOwners(s.Servers)
	s.Sockets = owners
	errs = append(errs, err)
	if s.Conn != nil && s.Conn.Zone != "" {
		index, err := zoneIndex(s.Conn.Zone)
		s.Interface = index
		errs = append(errs, err)
	}
	return s, errors.Join(errs...)
}

// zoneIndex returns the interface an IPv6 zone names: by name, or by index.
func zoneIndex(zone string) (uint32, error) {
	if n, err := strconv.ParseUint(zone, 10, 32); err == nil {
		return uint32(n), nil
	}
	index, _, err := Interface(zone)
	return index, err
}
