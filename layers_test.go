package tcpreap_test

import (
	"go/build"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestLayers holds the house to its floors: imports run one way, from the
// command line down to the kernel's vocabulary (docs/internals.md, Packages).
//
//	cmd/tcpreap → reap, watch, flows, census, doctor, planfile, host, and the
//	    vocabulary (inet, sockdiag's selection and states, kill's results);
//	    its internal render, clidoc, audit and peerword beneath it, which import no
//	    command code (render → the values it shows, and clidoc for the
//	    help's wrapping; clidoc → urfave/cli and the standard library
//	    alone; audit → host and inet; peerword → sockdiag's state words, inet's
//	    peers and host's resolver and services)
//	watch → reap, census, host, sockdiag, inet
//	reap → kill, planfile, host, sockdiag, sockfd, sockbpf, sockpacket, flows, inet
//	planfile → kill, sockdiag, host, inet; census → sockdiag, host, inet;
//	doctor → sockdiag, sockfd, sockbpf, census, host, inet
//	kill → sockdiag, inet; sockdiag → inet; sockfd → sockdiag, host, inet;
//	sockbpf → inet; sockpacket → sockdiag, host, inet; flows → inet
//	host, inet → nothing of tcpreap
func TestLayers(t *testing.T) {
	const module = "github.com/tcpreap/tcpreap/"
	const (
		render   = "cmd/tcpreap/internal/render"
		clidoc   = "cmd/tcpreap/internal/clidoc"
		audit    = "cmd/tcpreap/internal/audit"
		peerword = "cmd/tcpreap/internal/peerword"
	)
	allowed := map[string][]string{
		"cmd/tcpreap": {"reap", "watch", "flows", "census", "doctor", "planfile", "host", "inet", "sockdiag", "kill", render, clidoc, audit, peerword},
		"watch":       {"reap", "census", "host", "sockdiag", "inet"},
		audit:         {"host", "inet"},
		peerword:      {"sockdiag", "inet", "host"},
		render:        {"reap", "flows", "census", "doctor", "host", "inet", "sockdiag", "kill", clidoc},
		clidoc:        nil,
		"reap":        {"kill", "planfile", "host", "sockdiag", "sockfd", "sockbpf", "sockpacket", "flows", "inet"},
		"planfile":    {"kill", "sockdiag", "host", "inet"},
		"census":      {"sockdiag", "host", "inet"},
		"doctor":      {"sockdiag", "sockfd", "sockbpf", "census", "host", "inet"},
		"kill":        {"sockdiag", "inet"},
		"sockdiag":    {"inet"},
		"sockfd":      {"sockdiag", "host", "inet"},
		"sockbpf":     {"inet"},
		"sockpacket":  {"sockdiag", "host", "inet"},
		"flows":       {"inet"},
		"host":        nil,
		"inet":        nil,
	}
	// Beyond the standard library, what a package may import, where it is
	// held to a list.
	outside := map[string][]string{
		clidoc: {"github.com/urfave/cli/v3"},
		"inet": {},
	}
	for dir, may := range allowed {
		pkg, err := build.ImportDir(dir, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range pkg.Imports {
			if own, ok := strings.CutPrefix(imp, module); ok && !slices.Contains(may, own) {
				t.Errorf("%s imports %s", dir, own)
			}
			if list, held := outside[dir]; held && !strings.HasPrefix(imp, module) && strings.Contains(strings.Split(imp, "/")[0], ".") && !slices.Contains(list, imp) {
				t.Errorf("%s imports %s", dir, imp)
			}
		}
	}
	// Every package of the module but the tests' own is held to a list: a
	// new one is given its floor here, or the test fails.
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case !d.IsDir():
			return nil
		case path == "integration" || path == "internal" || d.Name() == "testdata" || strings.HasSuffix(path, "test") || path != "." && strings.HasPrefix(d.Name(), "."):
			return filepath.SkipDir
		case path != ".":
			// A folder with a go.mod is a module of its own (deploy/kubernetes), not a
			// package of this one.
			if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil {
				return filepath.SkipDir
			}
		}
		// A folder of tests alone (deploy/grafana's) is no floor of the house.
		if pkg, err := build.ImportDir(path, 0); err == nil && len(pkg.GoFiles) > 0 {
			if _, ok := allowed[filepath.ToSlash(path)]; !ok && path != "." {
				t.Errorf("package %s has no floor in TestLayers", path)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
