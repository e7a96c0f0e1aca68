package sockfd

import (
	"errors"
	"fmt"
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
