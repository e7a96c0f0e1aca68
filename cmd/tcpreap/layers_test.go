package main

import (
	"go/build"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestLayers: imports run one way (README, Development): cmd → kill,
// planfile, host, sockdiag, census, doctor, flows, inet; census → sockdiag,
// host, inet; doctor → sockdiag, census, inet; planfile → kill, sockdiag,
// host, inet; kill → sockdiag, inet; sockdiag and flows → inet; inet, host
// import nothing of tcpreap.
func TestLayers(t *testing.T) {
	const module = "github.com/tcpreap/tcpreap/"
	allowed := map[string][]string{
		"cmd/tcpreap": {"kill", "planfile", "host", "sockdiag", "census", "doctor", "flows", "inet"},
		"census":      {"sockdiag", "host", "inet"},
		"doctor":      {"sockdiag", "census", "inet"},
		"planfile":    {"kill", "sockdiag", "host", "inet"},
		"kill":        {"sockdiag", "inet"},
		"sockdiag":    {"inet"},
		"flows":       {"inet"},
		"host":        nil,
		"inet":        nil,
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
