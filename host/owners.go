package host

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
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
// reads /proc/PID/fd of those processes only, several processes at once (a
// readlink per descriptor is the whole cost: 190,000 sockets held by ten
// processes take a fraction of a second). A process that has gone is
// skipped; one whose descriptors cannot be read (another user's, without
// CAP_SYS_PTRACE) is an ErrUnreadable error, after the rest were read.
//
// Inodes are compared as the kernel's sock_diag reports them, in 32 bits
// (idiag_inode). Each inode's owners are in the order of procs, then of
// their descriptors.
func SocketOwners(procs []Process) (map[uint32][]Owner, error) {
	type held struct {
		ino uint32
		fd  int
	}
	found := make([][]held, len(procs))
	errs := make([]error, len(procs))
	next := make(chan int, len(procs))
	for i := range procs {
		next <- i
	}
	close(next)
	var wg sync.WaitGroup
	for range min(len(procs), 2*runtime.NumCPU(), maxOwnerReaders) {
		wg.Go(func() {
			for i := range next {
				p := procs[i]
				errs[i] = socketsOf(p.PID, func(ino uint32, fd int) { found[i] = append(found[i], held{ino, fd}) })
				if errs[i] != nil {
					errs[i] = fmt.Errorf("%w of %s (pid %d): %w", ErrUnreadable, p.Command, p.PID, errs[i])
				}
			}
		})
	}
	wg.Wait()
	total := 0
	for _, f := range found {
		total += len(f)
	}
	owners := make(map[uint32][]Owner, total)
	var firstErr error
	for i, p := range procs {
		for _, h := range found[i] {
			owners[h.ino] = append(owners[h.ino], Owner{PID: p.PID, Command: p.Command, FD: h.fd})
		}
		if firstErr == nil {
			firstErr = errs[i]
		}
	}
	return owners, firstErr
}

// maxOwnerReaders bounds the goroutines that read /proc/PID/fd at once.
const maxOwnerReaders = 16

// socketsOf calls found for each socket among the open files of process pid,
// with its inode and descriptor, and returns why some could not be read. A
// process that has gone holds nothing.
func socketsOf(pid int, found func(ino uint32, fd int)) error {
	dir := fmt.Sprintf("%s/%d/fd", procRoot, pid)
	f, err := os.Open(dir)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return err
	}
	var firstErr error
	buf := make([]byte, 64) // "socket:[4294967295]", or the start of a path
	for _, name := range names {
		n, err := readlinkat(f, name, buf)
		if os.IsNotExist(err) || errors.Is(err, syscall.ENOENT) {
			continue // closed since
		}
		if err != nil {
			// A process that is not dumpable (sshd) hides its links
			// from a root without CAP_SYS_PTRACE.
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		ino, ok := socketInode(string(buf[:n]))
		fd, err := strconv.Atoi(name)
		if ok && err == nil {
			found(ino, fd)
		}
	}
	return firstErr
}

// ErrUnreadable is the error of open files that could not be read.
var ErrUnreadable = errors.New("cannot read the open files")

// AllProcesses returns every process, by one read of each /proc/PID/stat.
func AllProcesses() ([]Process, error) { return processes() }

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
