//go:build !linux

package host

import "os"

// readlinkat reads the link name in directory dir into buf.
func readlinkat(dir *os.File, name string, buf []byte) (int, error) {
	target, err := os.Readlink(dir.Name() + "/" + name)
	return copy(buf, target), err
}
