package main

import (
	"go/build"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestLayers: imports run one way (README, Development): cmd → reap, kill,
// planfile, host, sockdiag, census, doctor, flows and its own render and
// clidoc; render → the libraries whose values it shows, and clidoc (the
// doctor's paragraphs are wrapped as the help is); clidoc → urfave/cli and
// the standard library alone; census → sockdiag, host; doctor → sockdiag,
// census, host; planfile → kill, sockdiag, host; kill → sockdiag;
// sockdiag, host and flows import nothing of tcpreap. Neither render nor
// clidoc imports command code.
func TestLayers(t *testing.T) {
	const module = "github.com/tcpreap/tcpreap/"
	const render, clidoc = "cmd/tcpreap/internal/render", "cmd/tcpreap/internal/clidoc"
	allowed := map[string][]string{
		"cmd/tcpreap": {"reap", "kill", "planfile", "host", "sockdiag", "census", "doctor", "flows", render, clidoc},
		render:        {"reap", "kill", "sockdiag", "host", "flows", "census", "doctor", clidoc},
		clidoc:        nil,
		"reap":        {"kill", "planfile", "host", "sockdiag"},
		"census":      {"sockdiag", "host"},
		"doctor":      {"sockdiag", "census", "host"},
		"planfile":    {"kill", "sockdiag", "host"},
		"kill":        {"sockdiag"},
		"sockdiag":    nil,
		"host":        nil,
		"flows":       nil,
	}
	// Beyond the standard library, what a package may import, where it is
	// held to a list.
	outside := map[string][]string{
		clidoc: {"github.com/urfave/cli/v3"},
	}
	for dir, may := range allowed {
		pkg, err := build.ImportDir(filepath.Join("..", "..", dir), 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range pkg.Imports {
			if own, ok := strings.CutPrefix(imp, module); ok && !slices.Contains(may, own) {
				t.Errorf("%s imports %s", dir, own)
			}
			if list, held := outside[dir]; held && strings.Contains(strings.Split(imp, "/")[0], ".") && !slices.Contains(list, imp) {
				t.Errorf("%s imports %s", dir, imp)
			}
		}
	}
}
