package host

import (
	"os"
	"strconv"
	"strings"
)

// FilePath is the path of the regular file f is open on, as
// /proc/self/fd shows it: where a redirection (> reap.plan) put what
// tcpreap wrote. False for a pipe, a terminal, a file deleted since, or
// when /proc cannot say.
func FilePath(f *os.File) (string, bool) {
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return "", false
	}
	path, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(int(f.Fd())))
	if err != nil || !strings.HasPrefix(path, "/") || strings.HasSuffix(path, " (deleted)") {
		return "", false
	}
	return path, true
}
