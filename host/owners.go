package host

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// An Owner is a process that holds a socket, by one of its file
// descriptors.
type Owner struct {
	PID     int
	Command string // the process's comm, as /proc/PID/stat has it
	FD      int
}

// SocketOwners reads the file descriptors of the given processes once and
// returns, for each socket inode they hold, the processes that hold it. It
// reads /proc/PID/fd of those processes only. A process that has gone is
// skipped; one whose descriptors cannot be read (another user's, without
// CAP_SYS_PTRACE) is an ErrUnreadable error, after the rest were read.
//
// Inodes are compared as the kernel's sock_diag reports them, in 32 bits
// (idiag_inode).
func SocketOwners(procs []Process) (map[uint32][]Owner, error) {
	owners := map[uint32][]Owner{}
	var firstErr error
	for _, p := range procs {
		dir := fmt.Sprintf("%s/%d/fd", procRoot, p.PID)
		f, err := os.Open(dir)
		if os.IsNotExist(err) {
			continue
		}
		unreadable := func(err error) {
			if firstErr == nil {
				firstErr = fmt.Errorf("%w of %s (pid %d): %v", ErrUnreadable, p.Command, p.PID, err)
			}
		}
		if err != nil {
			unreadable(err)
			continue
		}
		names, err := f.Readdirnames(-1)
		f.Close()
		if err != nil {
			unreadable(err)
		}
		for _, name := range names {
			target, err := os.Readlink(dir + "/" + name)
			if os.IsNotExist(err) {
				continue // closed since
			}
			if err != nil {
				// A process that is not dumpable (sshd) hides its links
				// from a root without CAP_SYS_PTRACE.
				unreadable(err)
				continue
			}
			ino, ok := socketInode(target)
			fd, err := strconv.Atoi(name)
			if !ok || err != nil {
				continue
			}
			owners[ino] = append(owners[ino], Owner{PID: p.PID, Command: p.Command, FD: fd})
		}
	}
	return owners, firstErr
}

// ErrUnreadable is the error of open files that could not be read.
var ErrUnreadable = errors.New("cannot read the open files")

// AllProcesses returns every process, by one read of each /proc/PID/stat.
func AllProcesses() ([]Process, error) { return Processes() }

// socketInode reads the inode of a socket's /proc/PID/fd link,
// "socket:[12345]".
func socketInode(target string) (uint32, bool) {
	s, ok := strings.CutPrefix(target, "socket:[")
	if !ok {
		return 0, false
	}
	s, ok = strings.CutSuffix(s, "]")
	n, err := strconv.ParseUint(s, 10, 64)
	if !ok || err != nil {
		return 0, false
	}
	return uint32(n), true
}
