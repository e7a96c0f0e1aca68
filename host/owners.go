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
// skipped; those whose descriptors cannot be read (another user's, without
// CAP_SYS_PTRACE) are an *UnreadableError, after the rest were read.
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
	errs := readEach(procs, func(i int) error {
		return socketsOf(procs[i].PID, func(ino uint32, fd int) { found[i] = append(found[i], held{ino, fd}) })
	})
	total := 0
	for _, f := range found {
		total += len(f)
	}
	owners := make(map[uint32][]Owner, total)
	for i, p := range procs {
		for _, h := range found[i] {
			owners[h.ino] = append(owners[h.ino], Owner{PID: p.PID, Command: p.Command, FD: h.fd})
		}
	}
	return owners, unreadableOf(procs, errs)
}

// readEach calls read(i) for every process of procs, a few at once (reading
// /proc is a syscall per descriptor: the readers overlap their waits), and
// gives each one's error at its index.
func readEach(procs []Process, read func(i int) error) []error {
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
				errs[i] = read(i)
			}
		})
	}
	wg.Wait()
	return errs
}

// unreadableOf is the UnreadableError of the processes whose errs (by
// index) are not nil, or nil when every one was read.
func unreadableOf(procs []Process, errs []error) error {
	var unreadable UnreadableError
	for i, err := range errs {
		if err != nil {
			unreadable.Processes = append(unreadable.Processes, procs[i])
			unreadable.errs = append(unreadable.errs, err)
		}
	}
	if len(unreadable.Processes) > 0 {
		return &unreadable
	}
	return nil
}

// An UnreadableError is the processes whose open files could not be read
// (another user's, without CAP_SYS_PTRACE): which sockets they hold is not
// known. It wraps ErrUnreadable and each process's cause.
type UnreadableError struct {
	Processes []Process
	errs      []error
}

func (e *UnreadableError) Error() string {
	p := e.Processes[0]
	if len(e.Processes) == 1 {
		return fmt.Sprintf("%v of %s (pid %d): %v", ErrUnreadable, p.Command, p.PID, e.errs[0])
	}
	return fmt.Sprintf("%v of %d processes, %s (pid %d) among them: %v", ErrUnreadable, len(e.Processes), p.Command, p.PID, e.errs[0])
}

func (e *UnreadableError) Unwrap() []error { return append([]error{ErrUnreadable}, e.errs...) }

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
