package host

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"os"
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
		return nil, fmt.Errorf("SSH_CONNECTION %q: %w", v, err)
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
	// which hold the connection of its session (and, where that session
	// came over one of this host's own addresses, the ssh client's end and
	// the session that client runs in). Else the session cannot be told
	// apart: tcpreap runs inside tmux or screen (whose ancestry leads to the
	// session that started it, not to the one a person is attached from),
	// or in an SSH login whose server is no ancestor; the servers are then
	// every SSH server process of the host.
	Ancestral bool
	Servers   []Process
	// Sockets are the sockets to keep, by inode, with who holds them.
	Sockets map[uint32][]Owner
	// Unreadable: the open files of some SSH server could not be read (no
	// CAP_SYS_PTRACE, another user's): the session's sockets may be missing
	// from Sockets.
	Unreadable bool
	// Hidden: nothing names a session, but tcpreap runs in a PID namespace
	// of its own (a container's shell, unshare --pid), where its ancestry
	// ends out of sight and an SSH server above it cannot be seen: it may
	// be in an SSH login all the same. Port is the SSH server's port, as
	// /etc/ssh/sshd_config sets it (22 by default).
	Hidden bool
	Port   uint16
}

// initPIDNS is the initial PID namespace, by the inode the kernel gives it
// (PROC_PID_INIT_INO, fixed since Linux 3.8).
const initPIDNS = "pid:[4026531836]"

// hiddenAncestry reports whether tcpreap runs in a PID namespace other than
// the initial one, where its ancestry ends (parent 0) before the host's.
func hiddenAncestry() bool {
	ns, err := os.Readlink(procRoot + "/self/ns/pid")
	return err == nil && ns != initPIDNS
}

// sshdConfig is the SSH server's configuration, whose Port lines say where
// it listens.
const sshdConfig = "/etc/ssh/sshd_config"

// sshdPort is the first port /etc/ssh/sshd_config gives the SSH server, or
// 22.
func sshdPort() uint16 {
	b, err := readSmall(sshdConfig, 1<<20)
	if err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) == 2 && strings.EqualFold(f[0], "Port") {
				if p, err := strconv.ParseUint(f[1], 10, 16); err == nil && p > 0 {
					return uint16(p)
				}
			}
		}
	}
	return 22
}

// maxHops bounds the SSH sessions followed over this host's own addresses.
const maxHops = 8

// FindSSHSession finds the SSH session tcpreap runs in from the process
// tree: the SSH server processes among its ancestors, and the sockets they
// hold. Inside tmux or screen (TMUX or STY set), or without an SSH server
// ancestor but in an SSH login (SSH_CONNECTION or SSH_CLIENT set), it takes
// every SSH server process of the host. It returns nil when this is no SSH
// login, and a Hidden session when nothing names one but tcpreap runs in a
// PID namespace of its own, where an SSH server above it cannot be seen. It reads the stat and environment of tcpreap's ancestors, the fd
// directories of the servers (without a server ancestor, the stat of every
// process), and, only when the session came over one of this host's own
// addresses, /proc/net/tcp and every process's fds. An error says what
// could not be read; the session found so far comes with it.
func FindSSHSession() (*SSHSession, error) {
	s := &SSHSession{}
	var errs []error
	env := ancestorEnvs(sshLogin...)
	if v := env["SSH_CONNECTION"]; v != "" {
		c, err := ParseSSHConnection(v)
		errs = append(errs, err)
		s.Conn = c
	}
	for _, p := range ancestors() {
		if slices.Contains(sshServers, p.Command) {
			s.Servers = append(s.Servers, p)
		}
	}
	multiplexed := env["TMUX"] != "" || env["STY"] != ""
	s.Ancestral = len(s.Servers) > 0 && !multiplexed
	if !s.Ancestral {
		if len(s.Servers) == 0 && !slices.ContainsFunc(sshLogin, func(v string) bool { return env[v] != "" }) {
			if hiddenAncestry() {
				return &SSHSession{Hidden: true, Port: sshdPort()}, errors.Join(errs...)
			}
			return nil, errors.Join(errs...)
		}
		all, err := processes(sshServers...)
		errs = append(errs, err)
		s.Servers = all
	}
	owners, err := SocketOwners(s.Servers)
	s.Sockets = owners
	errs = append(errs, err)
	if s.Ancestral {
		errs = append(errs, s.followLocalHops())
	}
	s.Unreadable = slices.ContainsFunc(errs, func(err error) bool { return errors.Is(err, ErrUnreadable) })
	if s.Conn != nil && s.Conn.Zone != "" {
		index, err := zoneIndex(s.Conn.Zone)
		s.Interface = index
		errs = append(errs, err)
	}
	return s, errors.Join(errs...)
}

// FindSSHServers is what this host says of every SSH session, for a
// process that runs in none of its own (a daemon) and must keep each: the
// servers are every SSH server process of the host, Ancestral false.
// Where none can be seen from a PID namespace of its own, it is Hidden.
func FindSSHServers() (*SSHSession, error) {
	all, err := processes(sshServers...)
	if len(all) == 0 && hiddenAncestry() {
		return &SSHSession{Hidden: true, Port: sshdPort()}, err
	}
	owners, err2 := SocketOwners(all)
	s := &SSHSession{Servers: all, Sockets: owners}
	s.Unreadable = errors.Is(err, ErrUnreadable) || errors.Is(err2, ErrUnreadable)
	return s, errors.Join(err, err2)
}

// followLocalHops extends the session over SSH connections that came from
// this host itself (ssh localhost inside a session): the client's end of
// such a connection, held by an ssh client, is kept, and so are the sockets
// of the SSH servers the client runs under, hop after hop.
func (s *SSHSession) followLocalHops() error {
	tuples, err := tcpTuples()
	if err != nil {
		return err
	}
	local := localAddrs()
	byTuple := make(map[tuple]uint32, len(tuples))
	for ino, t := range tuples {
		byTuple[t] = ino
	}
	var everyones map[uint32][]Owner // every process's sockets, read once if needed
	var errs []error
	frontier := slices.Collect(maps.Keys(s.Sockets))
	for range maxHops {
		var next []uint32
		for _, ino := range frontier {
			t, ok := tuples[ino]
			if !ok || !(t.Remote.Addr().IsLoopback() || local[t.Remote.Addr()]) {
				continue
			}
			peer, ok := byTuple[tuple{Local: t.Remote, Remote: t.Local}]
			if !ok {
				continue
			}
			if everyones == nil {
				procs, err := AllProcesses()
				errs = append(errs, err)
				everyones, err = SocketOwners(procs)
				errs = append(errs, err)
			}
			for _, client := range everyones[peer] {
				s.Sockets[peer] = append(s.Sockets[peer], client)
				// The holder itself may be the SSH server: with ssh -J through
				// this host, the sshd that serves the jump holds the forwarded
				// connection and the outer one, which carries the person.
				holder := Process{PID: client.PID, Command: client.Command}
				for _, p := range append([]Process{holder}, ancestorsOf(client.PID)...) {
					if !slices.Contains(sshServers, p.Command) {
						continue
					}
					held, err := SocketOwners([]Process{p})
					errs = append(errs, err)
					for ino, o := range held {
						if _, seen := s.Sockets[ino]; !seen {
							next = append(next, ino)
						}
						s.Sockets[ino] = append(s.Sockets[ino], o...)
					}
				}
			}
		}
		if frontier = next; len(frontier) == 0 {
			break
		}
	}
	return errors.Join(errs...)
}

// localAddrs returns the addresses of this network namespace's interfaces
// (127.0.0.0/8 is loopback as a whole: see the caller).
func localAddrs() map[netip.Addr]bool {
	out := map[netip.Addr]bool{}
	as, _ := net.InterfaceAddrs()
	for _, a := range as {
		if p, err := netip.ParsePrefix(a.String()); err == nil {
			out[p.Addr().Unmap()] = true
		}
	}
	return out
}

// zoneIndex returns the interface an IPv6 zone names: by name, or by index.
func zoneIndex(zone string) (uint32, error) {
	if n, err := strconv.ParseUint(zone, 10, 32); err == nil {
		return uint32(n), nil
	}
	index, _, err := Interface(zone)
	return index, err
}
