package main

import (
	"bytes"
	"os"
	"os/exec"
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

// TestManPageWidth: the manual reads on an 80-column terminal. Where man is
// installed (make deps installs it), it renders the page at MANWIDTH=80 and
// no line is wider; everywhere, each line of the examples (.nf blocks, which
// are never wrapped) fits the 73 columns left beside man's indent of 7, and
// the FILES entry for /proc does not claim --uid, which the dump carries.
func TestManPageWidth(t *testing.T) {
	_, page, _ := runCLI("man")
	fill := true
	for _, line := range strings.Split(page, "\n") {
		switch {
		case line == ".nf":
			fill = false
		case line == ".fi":
			fill = true
		case !fill && !strings.HasPrefix(line, "."):
			text := strings.NewReplacer(`\-`, "-", `\(aq`, "'", `\e`, `\`, `\(dq`, `"`, `\&`, "").Replace(line)
			if n := len([]rune(text)); n > 73 {
				t.Errorf("an example line of %d columns (73 fit beside the indent): %q", n, text)
			}
		}
	}
	if i := strings.Index(page, "/proc/PID/fd"); i < 0 || strings.Contains(page[i:min(i+200, len(page))], `\-\-uid and`) {
		t.Errorf("the manual's /proc entry names --uid, or is missing")
	}

	if _, err := exec.LookPath("man"); err != nil {
		t.Skip("no man here to render the page with")
	}
	cmd := exec.Command("man", "-l", "-")
	cmd.Env = append(os.Environ(), "MANWIDTH=80", "MAN_KEEP_FORMATTING=")
	cmd.Stdin = strings.NewReader(page)
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("man -l -: %v", err)
	}
	for _, line := range strings.Split(out.String(), "\n") {
		if n := len([]rune(line)); n > 80 {
			t.Errorf("a line of %d columns at MANWIDTH=80: %q", n, line)
		}
	}
}
