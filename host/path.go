package host

import (
	"io"
	"os"
	"strconv"
	"strings"
)

// FilePath is the path of the regular file w writes to, as /proc/self/fd
// shows it: where a redirection (> reap.plan) put what tcpreap wrote. False
// for what is no *os.File, a pipe, a terminal, a file deleted since, or
// when /proc cannot say.
func FilePath(w io.Writer) (string, bool) {
	f, ok := w.(*os.File)
	if !ok {
		return "", false
	}
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

// Discards says whether w writes to the null device (> /dev/null, or a
// standard descriptor that was closed when tcpreap started: Go's runtime
// opens /dev/null in its place): what is written there is kept nowhere.
func Discards(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	null, err := os.Stat(os.DevNull)
	return err == nil && os.SameFile(fi, null)
}
