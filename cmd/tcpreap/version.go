package main

import (
	"runtime/debug"
	"strings"
)

// version and commit are stamped by the build (make build, make install):
// -ldflags "-X main.version=... -X main.commit=...". Left empty, they come
// from what the Go toolchain recorded in the binary.
var version, commit string

// versionText is what --version prints: the version and the commit.
func versionText() string {
	v, c := version, commit
	if info, ok := debug.ReadBuildInfo(); ok {
		if v == "" {
			v = info.Main.Version
		}
		for _, s := range info.Settings {
			switch {
			case c == "" && s.Key == "vcs.revision":
				c = s.Value
			case s.Key == "vcs.modified" && s.Value == "true" && commit == "":
				c += "-dirty"
			}
		}
	}
	if v == "" || v == "(devel)" {
		v = "devel"
	}
	if c == "" {
		c = "unknown"
	}
	return strings.TrimSpace(v + " (commit " + c + ")")
}
