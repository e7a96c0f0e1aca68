//go:build linux

package host

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestOpenNetNSOpensNoOtherFile: a path that is no network namespace is refused without
// being opened for reading: opening a device has effects of its own (a watchdog starts,
// a tape rewinds, a terminal becomes controlling), and tcpreap runs as root. inotify sees
// every open for reading.
func TestOpenNetNSOpensNoOtherFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "device")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	in, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		t.Skip("no inotify:", err)
	}
	defer unix.Close(in)
	if _, err := unix.InotifyAddWatch(in, path, unix.IN_OPEN); err != nil {
		t.Fatal(err)
	}
	ns, err := OpenNetNS(path)
	if err == nil || !strings.Contains(err.Error(), "is not a network namespace") {
		ns.Close()
		t.Errorf("OpenNetNS(%s) = %v; want is not a network namespace", path, err)
	}
	buf := make([]byte, 4096)
	if n, _ := unix.Read(in, buf); n > 0 {
		t.Errorf("OpenNetNS(%s) opened it: a file that is no namespace must not be opened", path)
	}
}
