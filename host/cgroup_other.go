//go:build !linux

package host

// onCgroup2 reports whether path is in a cgroup2 file system: only Linux has
// one.
func onCgroup2(string) bool { return false }
