package sockdiag

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// A Cookie is the kernel's 64-bit identity of a socket (sock_gen_cookie). A
// SOCK_DESTROY that carries it can only reach the socket it was dumped from:
// a socket that closed, or was replaced on the same tuple, answers ENOENT.
type Cookie uint64

// noCookie (INET_DIAG_NOCOOKIE) is never sent: a destroy without a cookie
// for a tuple that has gone falls through to the listener lookup and kills
// the LISTEN socket on that port.
const noCookie Cookie = 1<<64 - 1

// A SockID is struct inet_diag_sockid: the connection's tuple, the interface
// the socket is bound to (0 when unbound) and its cookie, all kept whole so a
// destroy can name exactly the socket that was dumped.
type SockID struct {
	Local     netip.AddrPort
	Remote    netip.AddrPort
	Interface uint32 // idiag_if
	Cookie    Cookie // idiag_cookie
}

// sockIDLen is sizeof(struct inet_diag_sockid).
const sockIDLen = 48

// marshal writes the sockid into b[:sockIDLen]. Ports and addresses are big
// endian, the interface and the cookie halves native endian, as the kernel
// lays them out.
func (id SockID) marshal(b []byte) error {
	binary.BigEndian.PutUint16(b[0:2], id.Local.Port())
	binary.BigEndian.PutUint16(b[2:4], id.Remote.Port())
	if err := putAddr(b[4:20], id.Local.Addr()); err != nil {
		return err
	}
	if err := putAddr(b[20:36], id.Remote.Addr()); err != nil {
		return err
	}
	binary.NativeEndian.PutUint32(b[36:40], id.Interface)
	binary.NativeEndian.PutUint32(b[40:44], uint32(id.Cookie))
	binary.NativeEndian.PutUint32(b[44:48], uint32(id.Cookie>>32))
	return nil
}

// putAddr writes an IPv4 address into the first four bytes of a 16-byte
// field and an IPv6 address (v4-mapped ones too) into all of it; an invalid
// address is the wildcard and leaves the field zero.
func putAddr(b []byte, a netip.Addr) error {
	switch {
	case !a.IsValid():
		clear(b)
	case a.Is4():
		clear(b)
		a4 := a.As4()
		copy(b, a4[:])
	case a.Zone() != "":
		return fmt.Errorf("address %s has a zone, which inet_diag cannot carry", a)
	default:
		a16 := a.As16()
		copy(b, a16[:])
	}
	return nil
}

// unmarshalSockID reads a sockid for a socket of the given address family.
func unmarshalSockID(b []byte, family uint8) (SockID, error) {
	var local, remote netip.Addr
	switch family {
	case afInet:
		local = netip.AddrFrom4([4]byte(b[4:8]))
		remote = netip.AddrFrom4([4]byte(b[20:24]))
	case afInet6:
		local = netip.AddrFrom16([16]byte(b[4:20]))
		remote = netip.AddrFrom16([16]byte(b[20:36]))
	default:
		return SockID{}, fmt.Errorf("socket of address family %d, not AF_INET or AF_INET6", family)
	}
	return SockID{
		Local:     netip.AddrPortFrom(local, binary.BigEndian.Uint16(b[0:2])),
		Remote:    netip.AddrPortFrom(remote, binary.BigEndian.Uint16(b[2:4])),
		Interface: binary.NativeEndian.Uint32(b[36:40]),
		Cookie:    Cookie(binary.NativeEndian.Uint32(b[40:44])) | Cookie(binary.NativeEndian.Uint32(b[44:48]))<<32,
	}, nil
}

// Valid reports whether the cookie can name a socket: the kernel's cookies
// count up from 1, and INET_DIAG_NOCOOKIE means "any socket on the tuple".
func (c Cookie) Valid() bool { return c != 0 && c != noCookie }
