package host

import (
	"errors"

	"golang.org/x/sys/unix"
)

// nsGetNSType asks an nsfs file which kind of namespace it is.
const nsGetNSType = 0xb703 // NS_GET_NSTYPE, _IO(0xb7, 0x3), linux/nsfs.h, 4.11+

// netNSInode checks that fd is a network namespace (an nsfs file of type
// CLONE_NEWNET) and returns its inode. The error completes a sentence that
// starts with the file's path.
func netNSInode(fd int) (uint64, error) {
	var fs unix.Statfs_t
	var st unix.Stat_t
	if unix.Fstatfs(fd, &fs) != nil || fs.Type != unix.NSFS_MAGIC || unix.Fstat(fd, &st) != nil {
		return 0, errors.New("is not a network namespace (give /run/netns/NAME, /proc/PID/ns/net or pid:PID)")
	}
	if kind, err := unix.IoctlRetInt(fd, nsGetNSType); err != nil || kind != unix.CLONE_NEWNET {
		return 0, errors.New("is a namespace, but not a network namespace")
	}
	return st.Ino, nil
}

// enterNetNS moves the calling thread into network namespace fd.
func enterNetNS(fd int) error { return unix.Setns(fd, unix.CLONE_NEWNET) }

// isMainThread says whether the calling thread is the process's first.
func isMainThread() bool { return unix.Gettid() == unix.Getpid() }
