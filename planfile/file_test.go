package planfile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestReadFileChecksWhoMayWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "reap.plan")
	if err := os.WriteFile(path, []byte(write(t, testFile())), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFile(path, here); err != nil {
		t.Fatalf("a plan file only its owner may write: %v", err)
	}
	for _, mode := range []os.FileMode{0o620, 0o602, 0o666} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadFile(path, here); err == nil || !strings.Contains(err.Error(), "group or others may write it") {
			t.Errorf("mode %04o: %v", mode, err)
		}
	}
	if _, err := ReadFile(dir, here); err == nil || !strings.Contains(err.Error(), "directory") {
		t.Errorf("a directory: %v", err)
	}
	for _, dev := range []string{"/dev/zero", "/dev/null"} {
		if _, err := ReadFile(dev, here); !errors.Is(err, ErrUnreadable) || err.Error() != "it is not a file that tcpreap plan wrote but a character device" {
			t.Errorf("%s: %v", dev, err)
		}
	}
	if _, err := ReadFile(filepath.Join(dir, "none"), here); !errors.Is(err, ErrUnreadable) || err.Error() != "there is no such file (tcpreap plan writes one)" {
		t.Errorf("no such file: %v", err)
	}
	if os.Geteuid() == 0 { // a file of another user
		if err := os.Chmod(path, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(path, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadFile(path, here); err == nil || !strings.Contains(err.Error(), "belongs to uid 65534, neither root nor you") {
			t.Errorf("a file of another user: %v", err)
		}
	}
}

// TestReadFileFIFONoHang: apply on a FIFO nobody writes to (one planted where the
// plan was expected, or a mistyped path) blocks in open(2) for ever, before any
// check: never a hang.
func TestReadFileFIFONoHang(t *testing.T) {
	path := filepath.Join(t.TempDir(), "reap.plan")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := ReadFile(path, here); done <- err }()
	select {
	case err := <-done:
		if err == nil {
			t.Error("an empty FIFO was read as a plan")
		}
	case <-time.After(2 * time.Second):
		t.Fatal("ReadFile on a FIFO with no writer still blocks after 2s")
	}
}

func TestReadFileChecksItsDirectory(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "reap.plan")
	if err := os.WriteFile(path, []byte(write(t, testFile())), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFile(path, here); err == nil || !strings.Contains(err.Error(), "anyone may replace what is in it") {
		t.Errorf("a plan in a directory anyone may write: %v", err)
	}
	if err := os.Chmod(dir, 0o777|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFile(path, here); err != nil {
		t.Errorf("a plan in a sticky directory (as /tmp): %v", err)
	}
}

// TestReadFileChecksEveryDirectory: the check holds for every directory a
// plan is reached through, up to the root, by its name and by its real
// place: a subdirectory of a directory anyone may write (they may rename
// the subdirectory away and put their own in its place), and a link to a
// plan kept in such a directory, are refused.
func TestReadFileChecksEveryDirectory(t *testing.T) {
	open := t.TempDir()
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(open, "plans")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(sub, "reap.plan")
	if err := os.WriteFile(path, []byte(write(t, testFile())), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFile(path, here); err == nil || !strings.Contains(err.Error(), open) {
		t.Errorf("a plan under a directory anyone may write: %v", err)
	}
	safe := t.TempDir()
	link := filepath.Join(safe, "reap.plan")
	if err := os.Symlink(path, link); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFile(link, here); err == nil || !strings.Contains(err.Error(), open) {
		t.Errorf("a link to a plan under a directory anyone may write: %v", err)
	}
	if err := os.Chmod(open, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFile(link, here); err != nil {
		t.Errorf("a link to a plan in directories only root may write: %v", err)
	}
}
