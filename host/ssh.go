package host

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// An SSHConnection is an SSH connection as SSH_CONNECTION names it: the
// client's address and port, then the server's, IPv4 addresses unmapped.
type SSHConnection struct {
	Client, Server netip.AddrPort
}

// SSHSession returns the SSH connection tcpreap runs under, as
// SSH_CONNECTION in its environment or its nearest ancestor's names it; nil
// when there is none, and an error when the variable does not parse.
func SSHSession() (*SSHConnection, error) {
	v := AncestorEnv("SSH_CONNECTION")
	if v == "" {
		return nil, nil
	}
	return ParseSSHConnection(v)
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
	return &SSHConnection{Client: unmap(client), Server: unmap(server)}, nil
}

func unmap(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}
