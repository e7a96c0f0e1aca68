package reap_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/tcpreap/tcpreap/reap"
)

// TestParseCgroupsCatchAll: a group that holds one process of many selects
// its sockets; the hierarchy's root, when every process runs in it, and a
// set of groups that holds every process select everything, and are refused
// as no selection. Whether every process is in the root is read here from
// /proc, line by line, apart from the code under test.
func TestParseCgroupsCatchAll(t *testing.T) {
	root := cgroup2Mount(t)
	group := filepath.Join(root, "tcpreap-test-"+strconv.Itoa(os.Getpid()))
	if err := os.Mkdir(group, 0o755); err != nil {
		t.Skipf("cannot make a cgroup (root needed): %v", err)
	}
	sleeper := exec.Command("sleep", "60")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sleeper.Process.Kill()
		sleeper.Wait()
		os.Remove(group)
	})
	if err := os.WriteFile(filepath.Join(group, "cgroup.procs"), []byte(strconv.Itoa(sleeper.Process.Pid)), 0); err != nil {
		t.Fatalf("moving the sleeper into %s: %v", group, err)
	}
	name := "/" + filepath.Base(group)

	if ids, err := reap.ParseCgroups([]string{name}); err != nil || len(ids) != 1 {
		t.Errorf("ParseCgroups(%s), a group of one process = %v, %v; want its id", name, ids, err)
	}
	for _, w := range [][]string{{""}, {" "}, {"/nosuch-tcpreap-group"}} {
		if ids, err := reap.ParseCgroups(w); err == nil {
			t.Errorf("ParseCgroups(%q) = %v, want an error", w, ids)
		}
	}

	inRoot, all := 0, 0
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cgroup"))
		if err != nil {
			continue
		}
		all++
		if strings.Contains("\n"+string(b), "\n0::/\n") {
			inRoot++
		}
	}
	// The sleeper is in the group: the root alone never holds it, the root
	// with the group holds every process when the others are in the root.
	if _, err := reap.ParseCgroups([]string{"/"}); err != nil {
		t.Errorf("ParseCgroups(/), with a process in %s: %v; want its id", name, err)
	}
	ids, err := reap.ParseCgroups([]string{"/", name})
	if everyone := inRoot == all-1; everyone != (err != nil) {
		t.Errorf("ParseCgroups(/, %s) with %d of %d processes in the root = %v, %v; refused is %v", name, inRoot, all, ids, err, everyone)
	} else if err != nil && !strings.Contains(err.Error(), "every process") {
		t.Errorf("refusal %q does not say why", err)
	}
}

// cgroup2Mount is where the cgroup2 hierarchy is mounted, or the test is
// skipped.
func cgroup2Mount(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Skip(err)
	}
	for line := range strings.Lines(string(b)) {
		pre, post, ok := strings.Cut(line, " - ")
		if f := strings.Fields(pre); ok && strings.HasPrefix(post, "cgroup2 ") && len(f) >= 5 && f[3] == "/" {
			return f[4]
		}
	}
	t.Skip("no cgroup2 hierarchy")
	return ""
}
