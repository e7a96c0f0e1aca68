package main

import (
	"go/build"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestLayers: imports run one way (README, Development): cmd → kill,
// planfile, host, sockdiag, census, doctor, flows; census → sockdiag, host;
// doctor → sockdiag, census, host; planfile →
// kill, sockdiag, host; kill →
// sockdiag; sockdiag, host and flows import nothing of tcpreap.
func TestLayers(t *testing.T) {
	const module = "github.com/tcpreap/tcpreap/"
	allowed := map[string][]string{
		"cmd/tcpreap": {"reap", "kill", "planfile", "host", "sockdiag", "census", "doctor", "flows"},
		"reap":        {"kill", "planfile", "host", "sockdiag"},
		"census":      {"sockdiag", "host"},
		"doctor":      {"sockdiag", "census", "host"},
		"planfile":    {"kill", "sockdiag", "host"},
		"kill":        {"sockdiag"},
		"sockdiag":    nil,
		"host":        nil,
		"flows":       nil,
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
		}
	}
}
