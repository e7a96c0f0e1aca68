package sockfd

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"unsafe"

	"github.com/tcpreap/tcpreap/host"
	"golang.org/x/sys/unix"
)

// errDenied and errBusy are the kernel's EPERM to pidfd_getfd and EBUSY
// to connect(AF_UNSPEC).
var (
	errDenied error = unix.EPERM
	errBusy   error = unix.EBUSY
)

// take duplicates h's descriptor into this process.
func take(h host.Owner) (int, error) {
	pidfd, err := unix.PidfdOpen(h.PID, 0)
	if err != nil {
		return -1, err
	}
	defer unix.Close(pidfd)
	fd, err := unix.PidfdGetfd(pidfd, h.FD, 0)
	if errors.Is(err, unix.EACCES) {
		err = unix.EPERM
	}
	return fd, err
}

// cookieOf is the socket cookie of fd.
func cookieOf(fd int) (uint64, error) {
	return unix.GetsockoptUint64(fd, unix.SOL_SOCKET, unix.SO_COOKIE)
}

// disconnect stops a listener (shutdown) or disconnects any other socket
// (connect with AF_UNSPEC).
func disconnect(fd int, listener bool) error {
	if listener {
		return unix.Shutdown(fd, unix.SHUT_RDWR)
	}
	var unspec [unix.SizeofSockaddrInet6]byte // sa_family AF_UNSPEC, 0
	_, _, errno := unix.Syscall(unix.SYS_CONNECT, uintptr(fd), uintptr(unsafe.Pointer(&unspec[0])), uintptr(len(unspec)))
	if errno != 0 {
		return errno
	}
	return nil
}

func closeFD(fd int) { unix.Close(fd) }

// protocolOf is the protocol number of fd's socket (SO_PROTOCOL): an int,
// as IPPROTO_MPTCP (262) is no inet.Protocol.
func protocolOf(fd int) (int, error) {
	return unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PROTOCOL)
}

// mptcpInfoLen covers struct mptcp_info up to mptcpi_subflows_total.
const mptcpInfoLen = 81

// mptcpOf reads what fd shows of itself when it is an MPTCP socket
// (SO_PROTOCOL IPPROTO_MPTCP): its token and subflows from MPTCP_INFO
// (Linux 5.16); a listener's token is 0.
func mptcpOf(fd int) (m mptcpSocket, ok bool) {
	proto, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PROTOCOL)
	if err != nil || proto != unix.IPPROTO_MPTCP {
		return mptcpSocket{}, false
	}
	listening, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN)
	if err != nil {
		return mptcpSocket{}, false
	}
	m.listening = listening == 1
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return mptcpSocket{}, false
	}
	if m.local, ok = addrPort(sa); !ok {
		return mptcpSocket{}, false
	}
	if !m.listening && fellBack(fd) {
		// Its options are its one subflow's: it has no token to read.
		peer, err := unix.Getpeername(fd)
		if err != nil {
			return mptcpSocket{}, false
		}
		m.remote, ok = addrPort(peer)
		m.fallback = true
		return m, ok
	}
	var info [mptcpInfoLen]byte
	size := uint32(len(info))
	_, _, errno := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.SOL_MPTCP, mptcpInfo,
		uintptr(unsafe.Pointer(&info[0])), uintptr(unsafe.Pointer(&size)), 0)
	switch {
	case errno != 0 || size < 16:
		if !m.listening { // a listener has no token to read
			return mptcpSocket{}, false
		}
	default:
		m.token = binary.NativeEndian.Uint32(info[12:16]) // mptcpi_token
		m.subflows = int(info[0]) + 1                     // mptcpi_subflows, and the first
		if size >= mptcpInfoLen {
			m.subflows = int(info[80]) // mptcpi_subflows_total
		}
	}
	return m, true
}

// fellBack reports whether fd, an MPTCP socket, fell back to TCP: its
// TCP_IS_MPTCP (Linux 5.16) is its one subflow's, 0. Before, the option is
// unknown and nothing fell back.
func fellBack(fd int) bool {
	is, err := unix.GetsockoptInt(fd, unix.IPPROTO_TCP, tcpIsMPTCP)
	return err == nil && is == 0
}

// tcpIsMPTCP is TCP_IS_MPTCP.
const tcpIsMPTCP = 43

// addrPort is an IPv4 or IPv6 socket address's.
func addrPort(sa unix.Sockaddr) (netip.AddrPort, bool) {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port)), true
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), uint16(sa.Port)), true
	}
	return netip.AddrPort{}, false
}

// mptcpInfo is MPTCP_INFO, the SOL_MPTCP option that reads struct mptcp_info.
const mptcpInfo = 1

// netnsCookieOf is the cookie of the network namespace fd's socket is in.
func netnsCookieOf(fd int) (uint64, error) {
	return unix.GetsockoptUint64(fd, unix.SOL_SOCKET, unix.SO_NETNS_COOKIE)
}

// namespaceCookie is the cookie of the calling thread's network namespace,
// as a socket made there has it.
func namespaceCookie() (uint64, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, err
	}
	defer unix.Close(fd)
	return netnsCookieOf(fd)
}

// offered is "" when this kernel has pidfd_open and pidfd_getfd, else
// why not.
func offered() string {
	pidfd, err := unix.PidfdOpen(os.Getpid(), 0)
	if err == nil {
		defer unix.Close(pidfd)
		_, err = unix.PidfdGetfd(pidfd, -1, 0)
		if errors.Is(err, unix.EBADF) {
			return ""
		}
	}
	if errors.Is(err, unix.ENOSYS) {
		return "this kernel has no pidfd_getfd (Linux 5.6 and later have it)"
	}
	return fmt.Sprintf("pidfd_getfd is not allowed here (%v; a seccomp profile?)", err)
}
