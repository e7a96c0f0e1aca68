package host

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"syscall"
)

// An OwnerCache reads who holds each socket, as SocketOwners does, again
// and again (a census each interval), and reads a descriptor's link only
// when it may have changed: a descriptor whose socket is still alive keeps
// it, so a process that holds the same sockets costs one listing of its
// descriptors instead of a readlink each. The zero OwnerCache is ready; it
// is not safe for concurrent use.
type OwnerCache struct {
	procs   map[int]*heldFiles
	unknown map[uint32]bool // the last Owners' held sockets it found no owner of
}

// heldFiles is what one process held at the last look.
type heldFiles struct {
	command string
	// fds is the socket inode of each descriptor, by its number (they are
	// small and dense: a slice is a tenth of a map); 0 for a descriptor
	// that is no socket, or not open.
	fds []uint32
	// open is how many descriptors the process had open, as stat of
	// /proc/PID/fd tells (Linux 6.2); 0 when it does not.
	open int64
}

// Owners returns the owners of the sockets among the open files of procs,
// by inode. alive holds the inodes of the sockets there are now (a dump's):
// a descriptor read before whose socket is in alive is taken as it was; a
// new descriptor, one that was no socket, and one whose socket is gone are
// read again. A process with as many descriptors as at the last call (as
// Linux 6.2 and later tell) whose sockets all live on is not even listed;
// a socket of alive that no process is then found to hold, and that was
// not already unowned at the last call, makes it list every process. A
// socket opened on a descriptor reused while the descriptor's old socket
// lives on elsewhere (dup, fork) is not seen until that one is gone. A
// process whose files cannot be read is an *UnreadableError, with the
// owners of the others, as SocketOwners.
func (c *OwnerCache) Owners(procs []Process, alive map[uint32]bool) (map[uint32][]Owner, error) {
	if c.procs == nil {
		c.procs = map[int]*heldFiles{}
	}
	owners, err := c.look(procs, alive, false)
	unknown := map[uint32]bool{}
	for ino := range alive {
		if len(owners[ino]) == 0 {
			unknown[ino] = true
		}
	}
	for ino := range unknown {
		if !c.unknown[ino] {
			owners, err = c.look(procs, alive, true)
			clear(unknown)
			for ino := range alive {
				if len(owners[ino]) == 0 {
					unknown[ino] = true
				}
			}
			break
		}
	}
	c.unknown = unknown
	return owners, err
}

// look reads the descriptors of procs that may have changed, listing
// every process when all, and forgets the processes that are gone.
func (c *OwnerCache) look(procs []Process, alive map[uint32]bool, all bool) (map[uint32][]Owner, error) {
	held := make([]*heldFiles, len(procs))
	for i, p := range procs {
		h := c.procs[p.PID]
		if h == nil || h.command != p.Command {
			h = &heldFiles{command: p.Command}
		}
		if all {
			h.open = 0
		}
		held[i] = h
	}
	errs := readEach(procs, func(i int) error { return held[i].refresh(procs[i].PID, alive) })
	clear(c.procs)
	owners := map[uint32][]Owner{}
	for i, p := range procs {
		c.procs[p.PID] = held[i]
		for fd, ino := range held[i].fds {
			if ino != 0 {
				owners[ino] = append(owners[ino], Owner{PID: p.PID, Command: p.Command, FD: fd})
			}
		}
	}
	return owners, unreadableOf(procs, errs)
}

// refresh lists the descriptors of process pid and reads the link of each
// that may have changed (see Owners). A process with as many descriptors
// open as at the last look, whose sockets all live on, is not listed: a
// socket closed and another opened on its descriptor would have left the
// old one dead (or the new one unowned, which makes Owners look again).
func (h *heldFiles) refresh(pid int, alive map[uint32]bool) error {
	dir := fmt.Sprintf("%s/%d/fd", procRoot, pid)
	var st syscall.Stat_t
	if err := syscall.Stat(dir, &st); err == nil && st.Size > 0 && st.Size == h.open && h.allAlive(alive) {
		return nil
	}
	h.open = 0
	f, err := os.Open(dir)
	if os.IsNotExist(err) {
		h.fds = nil
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
	fds := make([]uint32, 0, len(h.fds))
	var firstErr error
	buf := make([]byte, 64)
	for _, name := range names {
		fd, err := strconv.Atoi(name)
		if err != nil || fd < 0 {
			continue
		}
		if fd >= len(fds) {
			fds = slices.Grow(fds, fd+1-len(fds))[:fd+1]
		}
		if fd < len(h.fds) && h.fds[fd] != 0 && alive[h.fds[fd]] {
			fds[fd] = h.fds[fd]
			continue
		}
		n, err := readlinkat(f, name, buf)
		if err != nil {
			if !os.IsNotExist(err) && firstErr == nil {
				firstErr = err
			}
			continue
		}
		fds[fd], _ = socketInode(string(buf[:n]))
	}
	h.fds = fds
	if err := syscall.Stat(dir, &st); err == nil && int(st.Size) == len(names) {
		h.open = st.Size // unchanged while it was listed
	}
	return firstErr
}

// allAlive reports whether every socket the process held at the last look
// is in alive.
func (h *heldFiles) allAlive(alive map[uint32]bool) bool {
	for _, ino := range h.fds {
		if ino != 0 && !alive[ino] {
			return false
		}
	}
	return true
}
