package testnet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// timeout bounds every wait on the network; on a veth pair everything takes microseconds,
// so reaching it means the test is wrong, not slow.
const timeout = 5 * time.Second

// Pair is one TCP connection seen from both hosts.
type Pair struct {
	Local  *net.TCPConn // the end in host A, where tcpreap runs
	Peer   *net.TCPConn // the end in host B
	Cookie uint64       // SO_COOKIE of Local, read while it was open
}

// LocalAddr is A's end of the connection, as the kernel in A shows it (a v4-mapped
// address for an IPv4 connection on an AF_INET6 socket; a link-local address without its
// zone, which the kernel keeps apart as the socket's interface).
func (p Pair) LocalAddr() netip.AddrPort { return unzoned(p.Local.LocalAddr()) }

// RemoteAddr is B's end of the connection, as the kernel in A shows it.
func (p Pair) RemoteAddr() netip.AddrPort { return unzoned(p.Local.RemoteAddr()) }

// unzoned is a TCP address without its zone. Go names a zone from a cache of interface
// names that may have been filled in another namespace, so the name says nothing here.
func unzoned(a net.Addr) netip.AddrPort {
	ap := a.(*net.TCPAddr).AddrPort()
	return netip.AddrPortFrom(ap.Addr().WithZone(""), ap.Port())
}

// UDPPair is a connected UDP socket in A and the unconnected socket in B it talks to.
type UDPPair struct {
	Local  *net.UDPConn
	Peer   *net.UDPConn
	Cookie uint64 // SO_COOKIE of Local
}

// LocalAddr is A's end.
func (p UDPPair) LocalAddr() netip.AddrPort { return p.Local.LocalAddr().(*net.UDPAddr).AddrPort() }

// RemoteAddr is the address A's socket is connected to.
func (p UDPPair) RemoteAddr() netip.AddrPort {
	return p.Local.RemoteAddr().(*net.UDPAddr).AddrPort()
}

// Listen opens a TCP listener in h. MPTCP is off: since Go 1.24 a listener may be MPTCP,
// and SOCK_DESTROY answers EINVAL for MPTCP sockets. An unspecified IPv6 address
// ([::]:port) gives a dual-stack listener (IPV6_V6ONLY off), whose IPv4 connections are
// AF_INET6 sockets with v4-mapped addresses. A link-local address is on h's veth0,
// whatever its zone says.
func (t *tracked) Listen(h *Host, addr netip.AddrPort) (*net.TCPListener, error) {
	addr = h.scoped(addr)
	var lc net.ListenConfig
	lc.SetMultipathTCP(false)
	if addr.Addr() == netip.IPv6Unspecified() {
		lc.Control = func(_, _ string, c syscall.RawConn) error {
			return setsockopt(c, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 0)
		}
	}
	var l net.Listener
	err := h.Do(func() (err error) {
		l, err = lc.Listen(context.Background(), "tcp", addr.String())
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", h.Name, err)
	}
	t.track(l)
	return l.(*net.TCPListener), nil
}

// Inbound connects B, from the address from, to A's listener l. A port in from is bound
// with SO_REUSEADDR, so that a later connection can reuse the same four-tuple.
func (n *Net) Inbound(l *net.TCPListener, from netip.AddrPort) (Pair, error) {
	to := l.Addr().(*net.TCPAddr).AddrPort()
	if to.Addr().IsUnspecified() {
		local := LocalV6
		if from.Addr().Is4() {
			local = LocalV4
		}
		to = netip.AddrPortFrom(local, to.Port())
	}
	server, client, err := n.connect(l, n.Peer, from, to)
	if err != nil {
		return Pair{}, err
	}
	return newPair(server, client)
}

// InboundTo connects B to A's listener l at address to: one of A's addresses that l
// takes in (a listener on a wildcard address takes in every one of them).
func (n *Net) InboundTo(l *net.TCPListener, to netip.AddrPort) (Pair, error) {
	server, client, err := n.connect(l, n.Peer, netip.AddrPort{}, to)
	if err != nil {
		return Pair{}, err
	}
	return newPair(server, client)
}

// Outbound connects A to B's listener l, which must listen on a specific address.
func (n *Net) Outbound(l *net.TCPListener) (Pair, error) {
	server, client, err := n.connect(l, n.Local, netip.AddrPort{}, l.Addr().(*net.TCPAddr).AddrPort())
	if err != nil {
		return Pair{}, err
	}
	return newPair(client, server)
}

// Dial connects B to to, an address in A where a program other than the test listens (an
// SSH server): A's end is that program's, so only B's end comes back.
func (n *Net) Dial(to netip.AddrPort) (*net.TCPConn, error) {
	d := net.Dialer{Timeout: timeout}
	d.SetMultipathTCP(false)
	var c net.Conn
	err := n.Peer.Do(func() (err error) {
		c, err = d.Dial("tcp", n.Peer.scoped(to).String())
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", n.Peer.Name, err)
	}
	n.track(c)
	return c.(*net.TCPConn), nil
}

// PairOf is the Pair of two ends a test connected itself, with local's cookie.
func PairOf(local, peer *net.TCPConn) (Pair, error) { return newPair(local, peer) }

func newPair(local, peer *net.TCPConn) (Pair, error) {
	c, err := cookie(local)
	return Pair{Local: local, Peer: peer, Cookie: c}, err
}

// connect dials from client to l's address to and accepts the connection on l.
func (n *Net) connect(l *net.TCPListener, client *Host, from, to netip.AddrPort) (server, dialed *net.TCPConn, err error) {
	d := net.Dialer{Timeout: timeout}
	d.SetMultipathTCP(false)
	from, to = client.scoped(from), client.scoped(to)
	if from.IsValid() {
		d.LocalAddr = net.TCPAddrFromAddrPort(from)
		if from.Port() != 0 {
			d.Control = func(_, _ string, c syscall.RawConn) error {
				return setsockopt(c, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
			}
		}
	}
	var c net.Conn
	err = client.Do(func() (err error) {
		c, err = d.Dial("tcp", to.String())
		return err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", client.Name, err)
	}
	n.track(c)
	dialed = c.(*net.TCPConn)

	if err := l.SetDeadline(time.Now().Add(timeout)); err != nil {
		return nil, nil, err
	}
	defer l.SetDeadline(time.Time{})
	a, err := l.AcceptTCP()
	if err != nil {
		return nil, nil, fmt.Errorf("accepting %s: %w", dialed.LocalAddr(), err)
	}
	n.track(a)
	got, want := unzoned(a.RemoteAddr()), unzoned(dialed.LocalAddr())
	if got.Addr().Unmap() != want.Addr().Unmap() || got.Port() != want.Port() {
		return nil, nil, fmt.Errorf("listener %s accepted %s, expected %s: is someone else using it?", l.Addr(), got, want)
	}
	return a, dialed, nil
}

// scoped gives a link-local address the zone of h's veth0, by number: Go looks a zone's
// name up in one cache for the whole process, which another namespace may have filled
// (both hosts' links are named veth0, and their indexes may differ).
func (h *Host) scoped(ap netip.AddrPort) netip.AddrPort {
	if !ap.Addr().Is6() || !ap.Addr().IsLinkLocalUnicast() {
		return ap
	}
	return netip.AddrPortFrom(ap.Addr().WithZone(strconv.Itoa(h.veth)), ap.Port())
}

// CloseWait puts A's end of p into CLOSE_WAIT: B closes, A's application never does.
func (n *Net) CloseWait(p Pair) error {
	if err := p.Peer.Close(); err != nil {
		return err
	}
	return n.Local.AwaitState(p.LocalAddr(), p.RemoteAddr(), "close_wait")
}

// FinWait2 puts A's end of p into FIN_WAIT2: A shuts down its sending side and B never
// closes. A's socket is still owned by its application (not an orphan, which the kernel
// would turn into a timewait socket after tcp_fin_timeout).
func (n *Net) FinWait2(p Pair) error {
	if err := p.Local.CloseWrite(); err != nil {
		return err
	}
	return n.Local.AwaitState(p.LocalAddr(), p.RemoteAddr(), "fin_wait2")
}

// OrphanFinWait2 closes A's end of p while B keeps its end open: A's socket, closed by its
// application, is left to the kernel, which shows it in FIN_WAIT2 as a timewait socket
// (the TIME_WAIT timer, no process, inode 0), and B's end sits in CLOSE_WAIT.
func (n *Net) OrphanFinWait2(p Pair) error {
	local, remote := p.LocalAddr(), p.RemoteAddr()
	if err := p.Local.Close(); err != nil {
		return err
	}
	if err := n.Local.AwaitState(local, remote, "fin_wait2"); err != nil {
		return err
	}
	return n.Peer.AwaitState(remote, local, "close_wait")
}

// SSHConnection is the SSH_CONNECTION variable ("SSH_CONNECTION=client port server port")
// that an SSH server in A would give the session p, whose client is B. OpenSSH writes an
// IPv4 end as plain IPv4 even when the kernel shows it v4-mapped, so the addresses are
// unmapped.
func SSHConnection(p Pair) string {
	client, server := p.RemoteAddr(), p.LocalAddr()
	return fmt.Sprintf("SSH_CONNECTION=%s %d %s %d", client.Addr().Unmap(), client.Port(), server.Addr().Unmap(), server.Port())
}

// TimeWait puts A's end of p into TIME_WAIT: A closes first, and once its FIN is
// acknowledged B closes too. Waiting in between avoids a simultaneous close (CLOSING).
func (n *Net) TimeWait(p Pair) error {
	local, remote := p.LocalAddr(), p.RemoteAddr()
	if err := n.OrphanFinWait2(p); err != nil {
		return err
	}
	if err := p.Peer.Close(); err != nil {
		return err
	}
	return n.Local.AwaitState(local, remote, "time_wait")
}

// Reincarnate replaces p, which B dialed from a fixed port, by a new connection on the
// same four-tuple, so the socket in A that tcpreap may have planned for (p.Cookie) is gone
// and another one (the returned Pair's Cookie) stands on its tuple. A closes with SO_LINGER
// 0, which sends RST and leaves no TIME_WAIT that would block the tuple; B sees the reset,
// closes, and dials again from the same address and port.
func (n *Net) Reincarnate(l *net.TCPListener, p Pair) (Pair, error) {
	local, remote := p.LocalAddr(), p.RemoteAddr()
	if err := p.Local.SetLinger(0); err != nil {
		return Pair{}, err
	}
	if err := p.Local.Close(); err != nil {
		return Pair{}, err
	}
	if err := ReadErr(p.Peer); !errors.Is(err, syscall.ECONNRESET) {
		return Pair{}, fmt.Errorf("read in B after an abortive close in A: got %v, want ECONNRESET", err)
	}
	if err := p.Peer.Close(); err != nil {
		return Pair{}, err
	}
	if err := n.Local.AwaitGone(local, remote); err != nil {
		return Pair{}, err
	}
	q, err := n.Inbound(l, netip.AddrPortFrom(remote.Addr().Unmap(), remote.Port()))
	if err != nil {
		return Pair{}, err
	}
	if q.LocalAddr() != local || q.RemoteAddr() != remote {
		return Pair{}, fmt.Errorf("new connection %s -> %s is not on the old tuple %s -> %s", q.LocalAddr(), q.RemoteAddr(), local, remote)
	}
	return q, nil
}

// ConnectedUDP opens a UDP socket in B on to (port 0: any) and a socket in A connected to
// it. The socket in A is autobound, so when it is disconnected the kernel unhashes it.
func (n *Net) ConnectedUDP(to netip.AddrPort) (UDPPair, error) {
	var lc net.ListenConfig
	var pc net.PacketConn
	err := n.Peer.Do(func() (err error) {
		pc, err = lc.ListenPacket(context.Background(), "udp", to.String())
		return err
	})
	if err != nil {
		return UDPPair{}, fmt.Errorf("%s: %w", n.Peer.Name, err)
	}
	n.track(pc)
	peer := pc.(*net.UDPConn)
	var c net.Conn
	err = n.Local.Do(func() (err error) {
		c, err = net.Dial("udp", peer.LocalAddr().String())
		return err
	})
	if err != nil {
		return UDPPair{}, fmt.Errorf("%s: %w", n.Local.Name, err)
	}
	n.track(c)
	local := c.(*net.UDPConn)
	ck, err := cookie(local)
	return UDPPair{Local: local, Peer: peer, Cookie: ck}, err
}

// Echo checks that p still carries data both ways: B sends, A echoes, B reads it back.
func Echo(p Pair) error {
	deadline := time.Now().Add(timeout)
	p.Local.SetDeadline(deadline)
	p.Peer.SetDeadline(deadline)
	defer p.Local.SetDeadline(time.Time{})
	defer p.Peer.SetDeadline(time.Time{})
	msg := []byte("ping")
	buf := make([]byte, len(msg))
	if _, err := p.Peer.Write(msg); err != nil {
		return fmt.Errorf("writing in B: %w", err)
	}
	if _, err := io.ReadFull(p.Local, buf); err != nil {
		return fmt.Errorf("reading in A: %w", err)
	}
	if _, err := p.Local.Write(buf); err != nil {
		return fmt.Errorf("writing in A: %w", err)
	}
	if _, err := io.ReadFull(p.Peer, buf); err != nil {
		return fmt.Errorf("reading in B: %w", err)
	}
	if string(buf) != string(msg) {
		return fmt.Errorf("echo: got %q, want %q", buf, msg)
	}
	return nil
}

// ReadErr is what an application sees when it next reads from c: the error of a one-byte
// read, or a description of the data or end of file it got instead. It waits at most five
// seconds (then it returns the timeout). The kernel reports a socket error only once, so
// call it once per socket.
func ReadErr(c net.Conn) error {
	c.SetReadDeadline(time.Now().Add(timeout))
	defer c.SetReadDeadline(time.Time{})
	n, err := c.Read(make([]byte, 1))
	if n > 0 {
		return fmt.Errorf("read %d byte(s) of data instead of an error", n)
	}
	return err
}

// cookie reads SO_COOKIE, the number the kernel's socket dumps (and tcpreap) call the
// socket's cookie.
func cookie(c syscall.Conn) (uint64, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, err
	}
	var ck uint64
	var serr error
	if err := rc.Control(func(fd uintptr) {
		ck, serr = unix.GetsockoptUint64(int(fd), unix.SOL_SOCKET, unix.SO_COOKIE)
	}); err != nil {
		return 0, err
	}
	return ck, serr
}

func setsockopt(c syscall.RawConn, level, opt, value int) error {
	var serr error
	if err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), level, opt, value)
	}); err != nil {
		return err
	}
	return serr
}
