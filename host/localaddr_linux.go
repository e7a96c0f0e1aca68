package host

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

func goneAddrs(addrs []LocalAddr) (map[LocalAddr]bool, error) {
	configured, err := configuredAddrs()
	if err != nil {
		return nil, fmt.Errorf("cannot read the addresses of this network namespace: %w", err)
	}
	var r *router
	defer func() { r.close() }()
	gone := map[LocalAddr]bool{}
	for _, la := range addrs {
		a := la.Addr.Unmap().WithZone("")
		key := LocalAddr{a, 0}
		if a.IsLinkLocalUnicast() {
			key.Interface = la.Interface
			if key.Interface == 0 {
				key.Interface = anyInterface
			}
		}
		if !a.IsValid() || a.IsUnspecified() || configured[key] {
			continue
		}
		if r == nil {
			if r, err = dialRouter(); err != nil {
				return nil, fmt.Errorf("cannot ask this network namespace's routes: %w", err)
			}
		}
		local, err := r.local(a, la.Interface)
		if err != nil {
			return nil, fmt.Errorf("cannot ask the route of %s: %w", a, err)
		}
		if !local {
			gone[la] = true
		}
	}
	return gone, nil
}

// anyInterface marks, in configuredAddrs' set, a link-local address
// configured on some interface.
const anyInterface = ^uint32(0)

// configuredAddrs is every address of every interface of the calling
// thread's network namespace: an address that is not link-local as
// {addr, 0}; a link-local one as {addr, its interface} and {addr,
// anyInterface}. One RTM_GETADDR dump.
func configuredAddrs() (map[LocalAddr]bool, error) {
	rib, err := syscall.NetlinkRIB(syscall.RTM_GETADDR, syscall.AF_UNSPEC)
	if err != nil {
		return nil, err
	}
	msgs, err := syscall.ParseNetlinkMessage(rib)
	if err != nil {
		return nil, err
	}
	set := map[LocalAddr]bool{}
	for _, m := range msgs {
		if m.Header.Type != syscall.RTM_NEWADDR || len(m.Data) < syscall.SizeofIfAddrmsg {
			continue
		}
		index := binary.NativeEndian.Uint32(m.Data[4:8]) // ifa_index
		attrs, err := syscall.ParseNetlinkRouteAttr(&m)
		if err != nil {
			return nil, err
		}
		// IFA_LOCAL is the address itself; IFA_ADDRESS is the peer's on a
		// point-to-point link, and the address itself where IFA_LOCAL is
		// missing (IPv6).
		var addr netip.Addr
		for _, at := range attrs {
			a, ok := netip.AddrFromSlice(at.Value)
			switch {
			case !ok:
			case at.Attr.Type == syscall.IFA_LOCAL:
				addr = a
			case at.Attr.Type == syscall.IFA_ADDRESS && !addr.IsValid():
				addr = a
			}
		}
		switch {
		case !addr.IsValid():
		case addr.IsLinkLocalUnicast():
			set[LocalAddr{addr, index}] = true
			set[LocalAddr{addr, anyInterface}] = true
		default:
			set[LocalAddr{addr, 0}] = true
		}
	}
	return set, nil
}

// A router asks the kernel of the calling thread's network namespace the
// route of an address, as ip route get does.
type router struct {
	fd  int
	seq uint32
}

func dialRouter() (*router, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, err
	}
	// The kernel answers a route look-up at once; the bound is for a
	// kernel that does not.
	tv := unix.NsecToTimeval(int64(5 * time.Second))
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(fd)
		return nil, err
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return &router{fd: fd}, nil
}

func (r *router) close() {
	if r != nil {
		unix.Close(r.fd)
	}
}

// local reports whether the route of a, out of interface index (0: any),
// is a local one (RTN_LOCAL): the namespace takes a as its own. No route
// at all (ENETUNREACH, EHOSTUNREACH), or no such interface any more
// (ENODEV), is not local.
func (r *router) local(a netip.Addr, index uint32) (bool, error) {
	family, bits := unix.AF_INET, 32
	if a.Is6() {
		family, bits = unix.AF_INET6, 128
	}
	attr := func(b []byte, typ uint16, value []byte) []byte {
		b = binary.NativeEndian.AppendUint16(b, uint16(unix.SizeofRtAttr+len(value)))
		b = binary.NativeEndian.AppendUint16(b, typ)
		b = append(b, value...)
		for len(b)%4 != 0 {
			b = append(b, 0)
		}
		return b
	}
	body := make([]byte, unix.SizeofRtMsg)
	body[0], body[1] = byte(family), byte(bits) // rtm_family, rtm_dst_len
	body = attr(body, unix.RTA_DST, a.AsSlice())
	if index != 0 {
		body = attr(body, unix.RTA_OIF, binary.NativeEndian.AppendUint32(nil, index))
	}
	r.seq++
	msg := make([]byte, unix.SizeofNlMsghdr, unix.SizeofNlMsghdr+len(body))
	binary.NativeEndian.PutUint32(msg[0:4], uint32(unix.SizeofNlMsghdr+len(body)))
	binary.NativeEndian.PutUint16(msg[4:6], unix.RTM_GETROUTE)
	binary.NativeEndian.PutUint16(msg[6:8], unix.NLM_F_REQUEST)
	binary.NativeEndian.PutUint32(msg[8:12], r.seq)
	msg = append(msg, body...)
	if err := unix.Sendto(r.fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return false, err
	}
	buf := make([]byte, 8192)
	for {
		n, _, err := unix.Recvfrom(r.fd, buf, 0)
		if err != nil {
			return false, err
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return false, err
		}
		for _, m := range msgs {
			if m.Header.Seq != r.seq {
				continue // the answer to an earlier look-up that timed out
			}
			switch {
			case m.Header.Type == unix.NLMSG_ERROR && len(m.Data) >= 4:
				errno := unix.Errno(-int32(binary.NativeEndian.Uint32(m.Data[0:4])))
				if errno == 0 || errors.Is(errno, unix.ENETUNREACH) || errors.Is(errno, unix.EHOSTUNREACH) || errors.Is(errno, unix.ENODEV) {
					return false, nil
				}
				return false, errno
			case m.Header.Type == unix.RTM_NEWROUTE && len(m.Data) >= unix.SizeofRtMsg:
				return m.Data[7] == unix.RTN_LOCAL, nil // rtm_type
			}
		}
	}
}
