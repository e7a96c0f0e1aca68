package testnet

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// killProcesses kills every process whose network namespace is h's, except this one, and
// waits until they have exited. They are all the test's: the namespace was made for it,
// and only what the test started runs in it (an sshd, the sessions it forked, a tmux
// server, which left its parent when it became a daemon and so can only be found this
// way). Each is killed through a pidfd opened after its namespace was checked and checked
// again while the pidfd pins the pid, so a pid reused in the meantime is never signalled.
// It reads one /proc directory entry per process on the machine.
func (h *Host) killProcesses() error {
	var ns unix.Stat_t
	if err := unix.Fstat(int(h.ns), &ns); err != nil {
		return fmt.Errorf("%s: %w", h.Name, err)
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return err
	}
	var errs []error
	var pidfds []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() || !inNetns(pid, ns) {
			continue
		}
		fd, err := unix.PidfdOpen(pid, 0)
		if err != nil {
			continue // it has exited
		}
		if !inNetns(pid, ns) {
			unix.Close(fd)
			continue
		}
		if err := unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0); err != nil && !errors.Is(err, unix.ESRCH) {
			errs = append(errs, fmt.Errorf("%s: killing pid %d: %w", h.Name, pid, err))
		}
		pidfds = append(pidfds, fd)
	}
	// A pidfd is readable once its process has exited.
	deadline := time.Now().Add(timeout)
	for _, fd := range pidfds {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		for {
			n, err := unix.Poll(fds, max(0, int(time.Until(deadline).Milliseconds())))
			if errors.Is(err, unix.EINTR) {
				continue
			}
			if n == 0 && err == nil {
				errs = append(errs, fmt.Errorf("%s: a killed process is still there after %v", h.Name, timeout))
			}
			break
		}
		unix.Close(fd)
	}
	return errors.Join(errs...)
}

// inNetns reports whether process pid is in the network namespace whose nsfs inode is ns.
// A process that has exited (a zombie too) has no namespace left to show.
func inNetns(pid int, ns unix.Stat_t) bool {
	var st unix.Stat_t
	if err := unix.Stat("/proc/"+strconv.Itoa(pid)+"/ns/net", &st); err != nil {
		return false
	}
	return st.Dev == ns.Dev && st.Ino == ns.Ino
}
