package sockpacket

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"

	"github.com/jsimonetti/rtnetlink/v2"
	"golang.org/x/sys/unix"
)

// socketError names the privilege a socket call lacks.
func socketError(what string, err error) error {
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
		return ErrNoPrivilege
	}
	return fmt.Errorf("%s: %w", what, os.NewSyscallError("socket", err))
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// A packetCapture is an AF_PACKET socket (SOCK_DGRAM: packets from their
// IP header on) on every interface of the namespace it was made in, which
// reads the segments of its tuples alone: it is made with protocol 0 (it
// reads nothing), given its filter, and only then bound to every protocol,
// so that no other packet is ever queued on it.
type packetCapture struct {
	fd    int
	drops uint32 // the packets dropped, as PACKET_STATISTICS counted them
}

// bufferPerTuple is a capture's receive buffer for each of its tuples:
// room for a dozen packets (each charged at a kilobyte or two), several
// times what a tuple's answers to one provocation and its reset are.
const bufferPerTuple = 16 << 10

func openCapture(tuples []Tuple) (*packetCapture, error) {
	prog, err := filter(tuples)
	if err != nil {
		return nil, err
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, socketError("opening a packet socket", err)
	}
	c := &packetCapture{fd: fd}
	ins := make([]unix.SockFilter, len(prog))
	for i, r := range prog {
		ins[i] = unix.SockFilter{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K}
	}
	if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &unix.SockFprog{Len: uint16(len(ins)), Filter: &ins[0]}); err != nil {
		c.close()
		return nil, fmt.Errorf("attaching the capture filter: %w", os.NewSyscallError("setsockopt", err))
	}
	// The answers to a batch's provocations come in one burst: a buffer
	// of the default size (net.core.rmem_default) holds a few hundred,
	// and drops the rest, which the per-socket challenge ACK limit lets
	// the ends answer again once at most within the wait. Beyond
	// net.core.rmem_max with CAP_NET_ADMIN, else up to it.
	size := len(tuples) * bufferPerTuple
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, size); err != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, size)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL)}); err != nil {
		c.close()
		return nil, socketError("binding the packet socket", err)
	}
	return c, nil
}

// next reads the next segment, waiting until deadline at most; ok is false
// when none came (or what came was no segment).
func (c *packetCapture) next(deadline time.Time) (Segment, bool, error) {
	ms := int(time.Until(deadline).Milliseconds()) + 1
	fds := []unix.PollFd{{Fd: int32(c.fd), Events: unix.POLLIN}}
	n, err := unix.Poll(fds, max(ms, 0))
	if err != nil && !errors.Is(err, unix.EINTR) {
		return Segment{}, false, os.NewSyscallError("poll", err)
	}
	if n == 0 {
		return Segment{}, false, nil
	}
	buf := make([]byte, snapLength)
	n, _, err = unix.Recvfrom(c.fd, buf, unix.MSG_DONTWAIT)
	switch {
	case errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR):
		return Segment{}, false, nil
	case err != nil:
		return Segment{}, false, os.NewSyscallError("recvfrom", err)
	}
	var s Segment
	if s.UnmarshalBinary(buf[:n]) != nil {
		return Segment{}, false, nil
	}
	return s, true, nil
}

// dropped reads the socket's statistics, which the kernel zeroes on each
// read, and tells whether it has dropped a packet since it was opened.
func (c *packetCapture) dropped() bool {
	if st, err := unix.GetsockoptTpacketStats(c.fd, unix.SOL_PACKET, unix.PACKET_STATISTICS); err == nil {
		c.drops += st.Drops
	}
	return c.drops > 0
}

func (c *packetCapture) close() { unix.Close(c.fd) }

// A rawSender sends segments through raw IP sockets (IPPROTO_RAW: the
// header is the segment's own), routed as the host routes its own packets:
// one to a local address reaches the socket there through loopback with
// its route already chosen, so no reverse-path filter drops it whatever
// its source.
type rawSender struct{ v4, v6 int }

func openRaw() (*rawSender, error) {
	s := &rawSender{v4: -1, v6: -1}
	var err error
	if s.v4, err = unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_RAW); err != nil {
		return nil, socketError("opening a raw socket", err)
	}
	// A host without IPv6 has no AF_INET6: its IPv6 segments fail alone.
	if s.v6, err = unix.Socket(unix.AF_INET6, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_RAW); errors.Is(err, unix.EPERM) {
		unix.Close(s.v4)
		return nil, ErrNoPrivilege
	}
	return s, nil
}

func (s *rawSender) send(seg Segment) error {
	b, err := seg.MarshalBinary()
	if err != nil {
		return err
	}
	dst := seg.Dst.Addr().Unmap()
	if dst.Is4() {
		err = unix.Sendto(s.v4, b, 0, &unix.SockaddrInet4{Addr: dst.As4()})
	} else if s.v6 < 0 {
		err = unix.EAFNOSUPPORT
	} else {
		err = unix.Sendto(s.v6, b, 0, &unix.SockaddrInet6{Addr: dst.As16()})
	}
	if err != nil {
		return fmt.Errorf("sending %s: %w", seg, os.NewSyscallError("sendto", err))
	}
	return nil
}

func (s *rawSender) close() {
	unix.Close(s.v4)
	if s.v6 >= 0 {
		unix.Close(s.v6)
	}
}

// A linkSender sends segments through an AF_PACKET socket straight to the
// interface the route to their destination leaves by, to the link-layer
// address of its next hop as the neighbour table knows it: a router's
// forged segments pass none of its own netfilter hooks, so its conntrack
// and NAT neither see nor rewrite them, as they would a raw socket's. Each
// destination's way is looked up once.
type linkSender struct {
	fd   int
	rt   *rtnetlink.Conn
	ways map[netip.Addr]way
	// local sends to an end on this host itself, as the host sends its
	// own packets: injected on loopback, a segment to a closed tuple
	// draws no reset, and the reset's confirmation needs one. It is
	// opened with the rest, on the caller's thread: the batches send
	// from threads of their own, in whatever namespace those are.
	local *rawSender
	// neigh is the neighbour table, read when first needed and again when
	// a next hop is not in it, once.
	neigh    []rtnetlink.NeighMessage
	reloaded bool
}

// lookupTimeout bounds one look-up of a route or of the neighbour table.
const lookupTimeout = 5 * time.Second

// A way is how to reach a destination: the interface and the link-layer
// address, or this host itself (local), or why it cannot be.
type way struct {
	ifindex int
	mac     net.HardwareAddr
	local   bool
	err     error
}

func openLink() (*linkSender, error) {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, socketError("opening a packet socket", err)
	}
	local, err := openRaw()
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	rt, err := rtnetlink.Dial(nil)
	if err != nil {
		unix.Close(fd)
		local.close()
		return nil, fmt.Errorf("opening a routing netlink socket: %w", err)
	}
	return &linkSender{fd: fd, rt: rt, ways: map[netip.Addr]way{}, local: local}, nil
}

func (s *linkSender) send(seg Segment) error {
	dst := seg.Dst.Addr().Unmap()
	w, ok := s.ways[dst]
	if !ok {
		w = s.lookup(dst)
		s.ways[dst] = w
	}
	if w.err != nil {
		return w.err
	}
	if w.local {
		return s.local.send(seg)
	}
	b, err := seg.MarshalBinary()
	if err != nil {
		return err
	}
	proto := uint16(unix.ETH_P_IP)
	if dst.Is6() {
		proto = unix.ETH_P_IPV6
	}
	to := &unix.SockaddrLinklayer{Ifindex: w.ifindex, Protocol: htons(proto), Halen: uint8(len(w.mac))}
	copy(to.Addr[:], w.mac)
	if err := unix.Sendto(s.fd, b, 0, to); err != nil {
		return fmt.Errorf("sending %s: %w", seg, os.NewSyscallError("sendto", err))
	}
	return nil
}

// lookup asks the kernel for the route to dst and the neighbour entry of
// its next hop (the gateway, or dst on the link).
func (s *linkSender) lookup(dst netip.Addr) way {
	// The kernel answers at once; a deadline all the same.
	_ = s.rt.SetReadDeadline(time.Now().Add(lookupTimeout))
	family, bits := uint8(unix.AF_INET), uint8(32)
	if dst.Is6() {
		family, bits = unix.AF_INET6, 128
	}
	routes, err := s.rt.Route.Get(&rtnetlink.RouteMessage{Family: family, DstLength: bits, Attributes: rtnetlink.RouteAttributes{Dst: dst.AsSlice()}})
	if err != nil || len(routes) == 0 {
		return way{err: fmt.Errorf("no route to %s: %v", dst, err)}
	}
	r := routes[0]
	if r.Type == unix.RTN_LOCAL {
		return way{local: true}
	}
	hop := dst
	if gw, ok := netip.AddrFromSlice(r.Attributes.Gateway); ok && gw.IsValid() && !gw.IsUnspecified() {
		hop = gw.Unmap()
	}
	for {
		if s.neigh == nil {
			neigh, err := s.rt.Neigh.List()
			if err != nil {
				return way{err: fmt.Errorf("reading the neighbour table: %w", err)}
			}
			s.neigh = neigh
		}
		const usable = unix.NUD_REACHABLE | unix.NUD_STALE | unix.NUD_DELAY | unix.NUD_PROBE | unix.NUD_PERMANENT | unix.NUD_NOARP
		for _, n := range s.neigh {
			if n.Index != r.Attributes.OutIface || n.Attributes == nil || n.State&usable == 0 {
				continue
			}
			if a, ok := netip.AddrFromSlice(n.Attributes.Address); ok && a.Unmap() == hop {
				return way{ifindex: int(n.Index), mac: n.Attributes.LLAddress}
			}
		}
		if s.reloaded {
			return way{err: fmt.Errorf("the link-layer address of %s (the next hop to %s) is not known here", hop, dst)}
		}
		s.neigh, s.reloaded = nil, true
	}
}

func (s *linkSender) close() {
	unix.Close(s.fd)
	s.rt.Close()
	s.local.close()
}
