package host

import (
	"cmp"
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
	// owners is what the last look returned: the next look changes only
	// the sockets of the processes whose descriptors changed, came or went.
	owners map[uint32][]Owner
	alive  map[uint32]bool // Alive's, cleared and filled again each census
}

// Alive returns an empty set of inodes, to fill with a dump's and pass to
// Owners: the same map each call (cleared), so that a census does not grow
// a new one. It is not to be used after the next call.
func (c *OwnerCache) Alive() map[uint32]bool {
	if c.alive == nil {
		c.alive = map[uint32]bool{}
	}
	clear(c.alive)
	return c.alive
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
// owners of the others, as SocketOwners; a socket several processes hold
// has them by PID and descriptor. The map returned is the last call's,
// changed where the descriptors changed: it is the caller's to read until
// the next call, not to change.
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
	before := make([][]uint32, len(procs)) // the sockets of each at the last look
	for i, p := range procs {
		h := c.procs[p.PID]
		if h == nil || h.command != p.Command {
			h = &heldFiles{command: p.Command}
		} else {
			before[i] = h.fds
		}
		if all {
			h.open = 0
		}
		held[i] = h
	}
	refreshed := make([]bool, len(procs))
	errs := readEach(procs, func(i int) (err error) {
		refreshed[i], err = held[i].refresh(procs[i].PID, alive)
		return err
	})
	owners := c.owners
	touched := map[uint32]bool{} // inodes whose owners changed
	if owners == nil || all {
		owners = map[uint32][]Owner{}
		for i, p := range procs {
			add(owners, p, held[i].fds, touched)
		}
	} else {
		// Only the processes that changed, came or went change the map.
		now := make(map[int]bool, len(procs))
		for i, p := range procs {
			now[p.PID] = true
			if old := c.procs[p.PID]; old != nil && old != held[i] {
				drop(owners, p.PID, old.fds, touched) // another program on that PID
				add(owners, p, held[i].fds, touched)
			} else if old == nil || refreshed[i] {
				drop(owners, p.PID, before[i], touched)
				add(owners, p, held[i].fds, touched)
			}
		}
		for pid, h := range c.procs {
			if !now[pid] {
				drop(owners, pid, h.fds, touched)
			}
		}
	}
	for ino := range touched {
		if o := owners[ino]; len(o) > 1 {
			slices.SortFunc(o, func(a, b Owner) int { return cmp.Or(cmp.Compare(a.PID, b.PID), cmp.Compare(a.FD, b.FD)) })
		}
	}
	clear(c.procs)
	for i, p := range procs {
		c.procs[p.PID] = held[i]
	}
	c.owners = owners
	return owners, unreadableOf(procs, errs)
}

// add adds process p as an owner of the sockets of fds (its descriptors'
// inodes, by number) to owners, and marks them touched.
func add(owners map[uint32][]Owner, p Process, fds []uint32, touched map[uint32]bool) {
	for fd, ino := range fds {
		if ino != 0 {
			owners[ino] = append(owners[ino], Owner{PID: p.PID, Command: p.Command, FD: fd})
			touched[ino] = true
		}
	}
}

// drop takes process pid out of the owners of the sockets of fds.
func drop(owners map[uint32][]Owner, pid int, fds []uint32, touched map[uint32]bool) {
	for _, ino := range fds {
		if ino == 0 {
			continue
		}
		if o := slices.DeleteFunc(owners[ino], func(o Owner) bool { return o.PID == pid }); len(o) > 0 {
			owners[ino] = o
			touched[ino] = true
		} else {
			delete(owners, ino)
		}
	}
}

// refresh lists the descriptors of process pid and reads the link of each
// that may have changed (see Owners). A process with as many descriptors
// open as at the last look, whose sockets all live on, is not listed: a
// socket closed and another opened on its descriptor would have left the
// old one dead (or the new one unowned, which makes Owners look again).
// It reports whether the sockets it holds changed.
func (h *heldFiles) refresh(pid int, alive map[uint32]bool) (changed bool, err error) {
	dir := fmt.Sprintf("%s/%d/fd", procRoot, pid)
	var st syscall.Stat_t
	if err := syscall.Stat(dir, &st); err == nil && st.Size > 0 && st.Size == h.open && h.allAlive(alive) {
		return false, nil
	}
	h.open = 0
	f, err := os.Open(dir)
	if os.IsNotExist(err) {
		changed = len(h.fds) > 0
		h.fds = nil
		return changed, nil
	}
	if err != nil {
		return true, err
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return true, err
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
	changed = !sameSockets(h.fds, fds)
	h.fds = fds
	if err := syscall.Stat(dir, &st); err == nil && int(st.Size) == len(names) {
		h.open = st.Size // unchanged while it was listed
	}
	return changed, firstErr
}

// sameSockets reports whether two descriptor tables hold the same sockets
// on the same descriptors (a table may end in descriptors that hold none).
func sameSockets(a, b []uint32) bool {
	if len(a) > len(b) {
		a, b = b, a
	}
	return slices.Equal(a, b[:len(a)]) && !slices.ContainsFunc(b[len(a):], func(ino uint32) bool { return ino != 0 })
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
