package host

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestParent(t *testing.T) {
	if hasProc() {
		if ppid, err := parentOf(os.Getpid()); err != nil || ppid != os.Getppid() {
			t.Errorf("parentOf(self) = %d, %v; want %d", ppid, err, os.Getppid())
		}
	}
	// A command name with spaces and parentheses does not shift the fields.
	fakeProc(t, map[int]proc{10: {stat: "10 (a) b) (c) S 7 10 10", environ: ""}})
	if ppid, err := parentOf(10); err != nil || ppid != 7 {
		t.Errorf("parentOf = %d, %v; want 7", ppid, err)
	}
}

// TestAncestorEnv: a variable that sudo cleared in tcpreap's environment is
// found in the nearest ancestor that has it, and the walk ends at init.
func TestAncestorEnv(t *testing.T) {
	t.Setenv("TCPREAP_TEST_VAR", "")
	self := os.Getpid()
	fakeProc(t, map[int]proc{
		self: {stat: strconv.Itoa(self) + " (tcpreap) S 30 1 1"},
		30:   {stat: "30 (sudo) S 20 1 1", environ: "HOME=/root\x00"},
		20:   {stat: "20 (bash) S 10 1 1", environ: "TCPREAP_TEST_VAR=near\x00HOME=/home/a\x00"},
		10:   {stat: "10 (sshd) S 1 1 1", environ: "TCPREAP_TEST_VAR=far\x00"},
	})
	if v := ancestorEnv("TCPREAP_TEST_VAR"); v != "near" {
		t.Errorf("ancestorEnv = %q, want the nearest ancestor's", v)
	}
	if v := ancestorEnv("NOT_THERE"); v != "" {
		t.Errorf("ancestorEnv of a variable no process has = %q", v)
	}
	t.Setenv("TCPREAP_TEST_VAR", "own")
	if v := ancestorEnv("TCPREAP_TEST_VAR"); v != "own" {
		t.Errorf("ancestorEnv = %q, want tcpreap's own", v)
	}
}

type proc struct {
	stat, environ string
	fds           map[int]string // fd → link target, "socket:[123]"
}

// fakeProc points the process tree at a directory of the test's own.
func fakeProc(t *testing.T, procs map[int]proc) {
	t.Helper()
	dir := t.TempDir()
	for pid, p := range procs {
		d := filepath.Join(dir, strconv.Itoa(pid))
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, content := range map[string]string{"stat": p.stat, "environ": p.environ} {
			if err := os.WriteFile(filepath.Join(d, name), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Mkdir(filepath.Join(d, "fd"), 0o755); err != nil {
			t.Fatal(err)
		}
		for fd, target := range p.fds {
			if err := os.Symlink(target, filepath.Join(d, "fd", strconv.Itoa(fd))); err != nil {
				t.Fatal(err)
			}
		}
	}
	// The TCP tables, empty but for what a test writes: fakeTCP.
	if err := os.MkdirAll(filepath.Join(dir, "net"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"tcp", "tcp6"} {
		if err := os.WriteFile(filepath.Join(dir, "net", name), []byte(tcpHeader), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	old := procRoot
	procRoot = dir
	t.Cleanup(func() { procRoot = old })
}

func hasProc() bool {
	_, err := os.Stat("/proc/self/stat")
	return err == nil
}

// TestAncestorEnvLargeEnvironment: an ancestor whose environment is larger
// than environLimit (Linux allows up to a quarter of the stack limit, 2 MiB
// by default) still has SSH_CONNECTION. Found in review: Getenv treats the
// over-long file as "no such variable", the walk goes on past the shell that
// has it, and the session guard is silently lost (the old code found it).
func TestAncestorEnvLargeEnvironment(t *testing.T) {
	t.Setenv("TCPREAP_TEST_VAR", "")
	self := os.Getpid()
	big := strings.Repeat("PAD="+strings.Repeat("x", 120000)+"\x00", 10)
	fakeProc(t, map[int]proc{
		self: {stat: strconv.Itoa(self) + " (tcpreap) S 30 1 1"},
		30:   {stat: "30 (sudo) S 20 1 1", environ: big},
		20:   {stat: "20 (bash) S 10 1 1", environ: big + "TCPREAP_TEST_VAR=near\x00"},
		10:   {stat: "10 (sshd) S 1 1 1", environ: ""},
	})
	if v := ancestorEnv("TCPREAP_TEST_VAR"); v != "near" {
		t.Errorf("ancestorEnv = %q, want %q from an ancestor with a %d-byte environment", v, "near", len(big))
	}
}

// TestAncestorEnvEmptyStopsTheWalk: the nearest ancestor that has the
// variable decides, even when it is empty there.
func TestAncestorEnvEmptyStopsTheWalk(t *testing.T) {
	t.Setenv("TCPREAP_TEST_VAR", "")
	self := os.Getpid()
	fakeProc(t, map[int]proc{
		self: {stat: strconv.Itoa(self) + " (tcpreap) S 20 1 1"},
		20:   {stat: "20 (bash) S 10 1 1", environ: "TCPREAP_TEST_VAR=\x00"},
		10:   {stat: "10 (sshd) S 1 1 1", environ: "TCPREAP_TEST_VAR=far\x00"},
	})
	if v := ancestorEnv("TCPREAP_TEST_VAR"); v != "" {
		t.Errorf("ancestorEnv = %q, want the nearest ancestor's empty value", v)
	}
}

const tcpHeader = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"

// fakeTCP writes /proc/net/tcp lines, after fakeProc: "LOCAL REMOTE INODE",
// the addresses as the kernel prints them.
func fakeTCP(t *testing.T, lines ...string) {
	t.Helper()
	text := tcpHeader
	for i, l := range lines {
		f := strings.Fields(l)
		text += fmt.Sprintf("%4d: %s %s 01 00000000:00000000 00:00000000 00000000     0        0 %s 1 0000000000000000 20 4 30 10 -1\n", i, f[0], f[1], f[2])
	}
	if err := os.WriteFile(filepath.Join(procRoot, "net", "tcp"), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestThreads: a Go process has several threads; threads lists them without
// the first, whose id is the process's, and lists none of a process that
// is not there.
func TestThreads(t *testing.T) {
	tids := threads(os.Getpid())
	if len(tids) == 0 {
		t.Fatal("no threads besides the first in a Go process")
	}
	if slices.Contains(tids, os.Getpid()) {
		t.Errorf("threads %v include the process's own id", tids)
	}
	if got := threads(1 << 30); got != nil {
		t.Errorf("threads of no process: %v", got)
	}
}
