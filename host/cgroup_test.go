package host

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCgroupIDConfined: a group is a directory of the cgroup2 hierarchy,
// reached by its path there or under the mount; a path that leaves it (..,
// a symbolic link out of it) or a directory elsewhere is refused, never
// taken for an id.
func TestCgroupIDConfined(t *testing.T) {
	root, err := cgroup2Root()
	if err != nil {
		t.Skipf("no cgroup2 hierarchy here: %v", err)
	}
	if _, err := CgroupID("/"); err != nil {
		t.Errorf("the root group: %v", err)
	}
	if _, err := CgroupID(root); err != nil {
		t.Errorf("the root group by its directory %s: %v", root, err)
	}
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink("/etc", link); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"..", "../../../etc", root + "/../../../etc", "/etc", link, os.TempDir()} {
		if id, err := CgroupID(path); err == nil {
			t.Errorf("CgroupID(%q) = %d, want a refusal", path, id)
		} else if strings.Contains(err.Error(), "--") {
			t.Errorf("CgroupID(%q): %v names an option", path, err)
		}
	}
}
