package host

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// mountinfoLimit bounds one line of /proc/self/mountinfo.
const mountinfoLimit = 4 << 10

// CgroupID returns the id of a cgroup v2 group, as the kernel gives it to a
// socket (INET_DIAG_CGROUP_ID): the inode of its directory. path is the
// group's path in the cgroup2 hierarchy ("system.slice/nginx.service", as
// /proc/PID/cgroup shows it after "0::") or its directory under the
// cgroup2 mount ("/sys/fs/cgroup/system.slice/nginx.service").
func CgroupID(path string) (uint64, error) {
	root, err := cgroup2Root()
	if err != nil {
		return 0, err
	}
	dir := path
	if !within(filepath.Clean(path), root) {
		dir = filepath.Join(root, path)
	}
	// The group's real place, symbolic links and .. resolved: any directory's
	// inode would do as an id, and select nothing, or another's sockets.
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return 0, fmt.Errorf("no cgroup %s under %s: %w", path, root, err)
	}
	if realRoot, err := filepath.EvalSymlinks(root); err != nil || !within(real, realRoot) {
		return 0, fmt.Errorf("%s is outside the cgroup2 hierarchy, %s; give a group's path in it", path, root)
	}
	if !onCgroup2(real) {
		return 0, fmt.Errorf("%s is no cgroup (not in a cgroup2 file system)", path)
	}
	var st unix.Stat_t
	if err := unix.Stat(real, &st); err != nil {
		return 0, fmt.Errorf("no cgroup %s under %s: %w", path, root, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return 0, fmt.Errorf("%s is no cgroup (not a directory)", dir)
	}
	return st.Ino, nil
}

// within reports whether path is dir or under it (both clean).
func within(path, dir string) bool {
	return path == dir || strings.HasPrefix(path, strings.TrimSuffix(dir, "/")+"/")
}

// cgroup2Root is where the cgroup2 hierarchy is mounted, from
// /proc/self/mountinfo: /sys/fs/cgroup on a pure v2 host,
// /sys/fs/cgroup/unified on a hybrid one.
func cgroup2Root() (string, error) {
	f, err := os.Open(procRoot + "/self/mountinfo")
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, mountinfoLimit), mountinfoLimit)
	for sc.Scan() {
		// ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [TAGS...] - FSTYPE SOURCE SUPER
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		fields := strings.Fields(pre)
		if ok && len(fields) >= 5 && strings.HasPrefix(post, "cgroup2 ") && fields[3] == "/" {
			return fields[4], nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", errors.New("no cgroup2 hierarchy is mounted here (only cgroup v1)")
}

// cgroupFileLimit bounds /proc/PID/cgroup: a line per v1 hierarchy and one
// for v2, each a path.
const cgroupFileLimit = 16 << 10

// CgroupsInUse returns the cgroup v2 group ids that the processes running
// now are in, each once, and how many processes were read: a selection of
// groups that holds all of them holds every process. It reads
// /proc/PID/cgroup of each process and stats each group once; a process
// that ends meanwhile is left out.
func CgroupsInUse() (ids []uint64, procs int, err error) {
	entries, err := os.ReadDir(procRoot)
	if err != nil {
		return nil, 0, err
	}
	seen := map[string]bool{}
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := readSmall(filepath.Join(procRoot, e.Name(), "cgroup"), cgroupFileLimit)
		if err != nil {
			continue
		}
		for line := range strings.Lines(string(b)) {
			path, ok := strings.CutPrefix(strings.TrimSuffix(line, "\n"), "0::")
			if !ok {
				continue
			}
			procs++
			if seen[path] {
				break
			}
			seen[path] = true
			if id, err := CgroupID(path); err == nil {
				ids = append(ids, id)
			}
			break
		}
	}
	return ids, procs, nil
}
