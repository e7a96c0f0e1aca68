package host

import (
	"os"

	"golang.org/x/sys/unix"
)

// readlinkat reads the link name in directory dir into buf, relative to the
// open directory (no path to build and resolve per descriptor).
func readlinkat(dir *os.File, name string, buf []byte) (int, error) {
	return unix.Readlinkat(int(dir.Fd()), name, buf)
}
