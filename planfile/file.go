package planfile

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/tcpreap/tcpreap/host"
)

// readTimeout bounds the reading of a plan file that is a pipe, a FIFO or
// stdin: a writer that neither writes nor closes must not hold tcpreap.
var readTimeout = time.Minute

// ReadFile reads the plan file at path with Read, after checking who may
// have written it, as sshd and sudo check their files: a plan file is
// carried out like a script, so it must belong to root or to the user
// running tcpreap, and neither its group nor others may write it. The checks
// are made on the file opened, not on its name.
func ReadFile(path string, here host.Identity) (*File, error) {
	// Non-blocking, so that a FIFO nobody writes to opens at once (and reads
	// as empty) instead of holding tcpreap in open(2); what a writer sends
	// must come within readTimeout.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, unreadablef("there is no such file (tcpreap plan writes one)")
	case errors.Is(err, fs.ErrPermission):
		return nil, unreadablef("you may not read it")
	case err != nil:
		return nil, unreadablef("it cannot be read: %v", err)
	}
	defer f.Close()
	_ = f.SetReadDeadline(time.Now().Add(readTimeout))
	fi, err := f.Stat()
	if err != nil {
		return nil, unreadablef("it cannot be read: %v", err)
	}
	if err := trusted(fi, os.Geteuid()); err != nil {
		return nil, err
	}
	if err := trustedDirs(path); err != nil {
		return nil, err
	}
	return Read(f, here)
}

// trusted checks who may have written a file.
func trusted(fi fs.FileInfo, euid int) error {
	// A pipe is a plan on its way (tcpreap plan … > >(…)); anything else
	// but a file is no plan (/dev/null, a device, a socket).
	switch {
	case fi.IsDir():
		return unreadablef("it is a directory")
	case !fi.Mode().IsRegular() && fi.Mode().Type() != fs.ModeNamedPipe:
		return unreadablef("it is not a file that tcpreap plan wrote but %s", fileKind(fi.Mode()))
	}
	if fi.Mode()&0o022 != 0 {
		return fmt.Errorf("its group or others may write it (mode %04o), and a plan file is carried out like a script; make it writable by its owner only (chmod go-w), or make the plan again", fi.Mode().Perm())
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != 0 && int(st.Uid) != euid {
		return fmt.Errorf("it belongs to uid %d, neither root nor you, and a plan file is carried out like a script; make the plan again as yourself", st.Uid)
	}
	return nil
}

// fileKind says what a file that is no regular file is.
func fileKind(m fs.FileMode) string {
	switch {
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m&fs.ModeSocket != 0:
		return "a socket"
	}
	return "no regular file"
}

// trustedDirs checks the directories a plan file is reached through, every
// one up to the root, of the name given and of the file's real place (links
// resolved): one where others may replace files (writable by all, without
// the sticky bit of /tmp), or a link they may swap, would let anyone put
// another plan in place of the one reviewed.
func trustedDirs(path string) error {
	dirs := map[string]bool{}
	add := func(p string) {
		if abs, err := filepath.Abs(p); err == nil {
			for d := filepath.Dir(abs); !dirs[d]; d = filepath.Dir(d) {
				dirs[d] = true
			}
		}
	}
	add(path)
	if real, err := filepath.EvalSymlinks(path); err == nil {
		add(real)
	}
	for _, dir := range slices.Sorted(maps.Keys(dirs)) {
		if err := trustedDir(dir); err != nil {
			return err
		}
	}
	return nil
}

// trustedDir checks one directory: writable by all without the sticky bit
// of /tmp, others may replace what is in it.
func trustedDir(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil // the file was opened: its directories' modes are what could be read
	}
	if m := fi.Mode(); m&0o002 != 0 && m&os.ModeSticky == 0 {
		return fmt.Errorf("it is reached through %s, where anyone may replace what is in it (mode %04o, not sticky); keep plans in a directory only you can write", dir, m.Perm())
	}
	return nil
}
