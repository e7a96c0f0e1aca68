package main

import (
	"strings"
	"testing"

	"github.com/tcpreap/tcpreap/cmd/tcpreap/internal/audit"
)

// TestManCommand: tcpreap man writes the manual of tcpreap's own tree, with
// what only the command knows (the exit codes, the audit socket); it takes
// no arguments.
func TestManCommand(t *testing.T) {
	code, page, stderr := runCLI("man")
	if code != exitOK || stderr != "" {
		t.Fatalf("tcpreap man: exit %d, stderr %q", code, stderr)
	}
	for _, want := range []string{".TH \"TCPREAP\" \"8\"", `.SS "tcpreap conntrack list"`, ".B 128+N", audit.SocketEnv, `\fB\-\-all\-netns\fR`} {
		if !strings.Contains(page, want) {
			t.Errorf("the man page has no %q", want)
		}
	}
	code, _, stderr = runCLI("man", "extra")
	if code != exitUsage || !strings.Contains(stderr, "man takes no arguments") {
		t.Errorf("tcpreap man extra: exit %d, stderr %q", code, stderr)
	}
}
