package main

import (
	"strings"
	"testing"

	"github.com/tcpreap/tcpreap/host"
	"github.com/tcpreap/tcpreap/planfile"
)

// TestPlanFile: plan writes a plan file that the plan file reader accepts
// here, remembering whether it had a selector, and says on stderr what it
// planned.
func TestPlanFile(t *testing.T) {
	needLinux(t)
	here, err := host.Here()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args       []string
		everything bool
	}{{[]string{"plan", nobody}, false}, {[]string{"plan", "-u", "--state", "all", "--port", "9"}, false}, {[]string{"plan", "-6", "--state", "all"}, true}} {
		code, stdout, stderr := runCLI(tc.args...)
		if code != exitOK || !strings.HasPrefix(stderr, "tcpreap: ") || !strings.Contains(stderr, " planned") || strings.Count(stderr, "\n") != 1 {
			t.Fatalf("%q: exit %d, stderr %q", tc.args, code, stderr)
		}
		f, err := planfile.Read(strings.NewReader(stdout), here)
		if err != nil {
			t.Fatalf("%q: %v", tc.args, err)
		}
		if f.Header.Everything != tc.everything || len(f.Header.Command) != len(tc.args)+1 || f.Header.Command[1] != "plan" {
			t.Errorf("%q: header %+v", tc.args, f.Header)
		}
	}
}
