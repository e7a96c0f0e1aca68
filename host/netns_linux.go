package host

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// nsGetNSType asks an nsfs file which kind of namespace it is.
const nsGetNSType = 0xb703 // NS_GET_NSTYPE, _IO(0xb7, 0x3), linux/nsfs.h, 4.11+

// netNSInode checks that fd is a network namespace (an nsfs file of type
// CLONE_NEWNET) and returns its inode. The error completes a sentence that
// starts with the file's path.
func netNSInode(fd int) (uint64, error) {
	var st unix.Stat_t
	if !onNSFS(fd) || unix.Fstat(fd, &st) != nil {
		return 0, errNotNSFS
	}
	if kind, err := unix.IoctlRetInt(fd, nsGetNSType); err != nil || kind != unix.CLONE_NEWNET {
		return 0, errors.New("is a namespace, but not a network namespace")
	}
	return st.Ino, nil
}

// errNotNSFS completes a sentence that starts with a path.
var errNotNSFS = errors.New("is not a network namespace (give /run/netns/NAME, /proc/PID/ns/net or pid:PID)")

func onNSFS(fd int) bool {
	var fs unix.Statfs_t
	return unix.Fstatfs(fd, &fs) == nil && fs.Type == unix.NSFS_MAGIC
}

// openNSFile opens path for reading if it is an nsfs file (errNotNSFS if
// not). It looks first without opening (O_PATH): opening a device given by
// mistake has effects of its own (a watchdog starts, a tape rewinds), and
// a FIFO's open could wait.
func openNSFile(path string) (int, error) {
	pfd, err := unix.Open(path, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	defer unix.Close(pfd)
	if !onNSFS(pfd) {
		return -1, errNotNSFS
	}
	return unix.Open(fmt.Sprintf("/proc/self/fd/%d", pfd), unix.O_RDONLY|unix.O_CLOEXEC, 0)
}

// enterNetNS moves the calling thread into network namespace fd.
func enterNetNS(fd int) error { return unix.Setns(fd, unix.CLONE_NEWNET) }

// isMainThread says whether the calling thread is the process's first.
func isMainThread() bool { return unix.Gettid() == unix.Getpid() }
