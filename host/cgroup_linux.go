package host

import "golang.org/x/sys/unix"

// onCgroup2 reports whether path is in a cgroup2 file system.
func onCgroup2(path string) bool {
	var fs unix.Statfs_t
	return unix.Statfs(path, &fs) == nil && fs.Type == unix.CGROUP2_SUPER_MAGIC
}
