package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestDoctor: doctor looks at every TCP and UDP socket of the namespace
// --netns names and reports its findings: one JSON object, exit 0 or, when
// a finding warns, 1; a namespace that is not there is bad input.
func TestDoctor(t *testing.T) {
	needLinux(t)
	code, stdout, stderr := runCLI("doctor", "--json")
	var report struct {
		Warn     bool
		Findings []struct{ Check string }
	}
	if err := json.Unmarshal([]byte(stdout), &report); err != nil || (code != exitOK && code != exitFailure) || (code == exitFailure) != report.Warn {
		t.Fatalf("doctor --json: exit %d, %v, stdout %q, stderr %q", code, err, stdout, stderr)
	}
	checks := map[string]bool{}
	for _, f := range report.Findings {
		checks[f.Check] = true
	}
	if !checks["tcp_diag"] || !checks["udp_diag"] {
		t.Errorf("doctor --json: no finding on listing TCP and UDP sockets: %q", stdout)
	}
	code, _, stderr = runCLI("doctor", "--netns", "tcpreap-no-such-namespace")
	if code != exitUsage || !strings.HasPrefix(stderr, "tcpreap: --netns: ") {
		t.Errorf("doctor --netns of no namespace: exit %d, %q", code, stderr)
	}
}
