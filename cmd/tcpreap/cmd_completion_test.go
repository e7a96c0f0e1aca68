package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tcpreap/tcpreap/cmd/tcpreap/internal/clidoc"
	"github.com/tcpreap/tcpreap/sockdiag"
	"github.com/urfave/cli/v3"
)

// TestCompletionCommand: each shell's script offers tcpreap's commands and
// the --state words of sockets and of conntrack, conntrack's to conntrack
// and conntrack list alone.
func TestCompletionCommand(t *testing.T) {
	root := newApp([]string{"tcpreap"}, streams{})
	for _, shell := range clidoc.Shells() {
		code, script, stderr := runCLI("completion", shell)
		if code != exitOK || stderr != "" {
			t.Fatalf("tcpreap completion %s: exit %d, stderr %q", shell, code, stderr)
		}
		for _, c := range root.Commands {
			if !c.Hidden && !strings.Contains(script, c.Name) {
				t.Errorf("%s: no command %s", shell, c.Name)
			}
		}
		if states := strings.Join(sockdiag.StateWords(), " "); !strings.Contains(script, states) {
			t.Errorf("%s: the states %s are not offered", shell, states)
		}
	}
	_, script, _ := runCLI("completion", "bash")
	if want := "values=([--state]='" + strings.Join(conntrackStateWords(), " ") + "')"; strings.Count(script, want) != 2 {
		t.Errorf("conntrack and conntrack list do not offer %q", want)
	}
}

// TestCompletionDepth: the scripts know commands two deep (tcpreap conntrack
// list); a command deeper in the tree fails here, not silently in a shell.
func TestCompletionDepth(t *testing.T) {
	for _, c := range newApp([]string{"tcpreap"}, streams{}).Commands {
		for _, sub := range c.Commands {
			if slices.ContainsFunc(sub.Commands, func(c *cli.Command) bool { return c.Name != "help" }) {
				t.Errorf("tcpreap %s %s: the completion scripts do not know commands this deep", c.Name, sub.Name)
			}
		}
	}
}

// TestCompletionBadShell: a shell tcpreap has no script for, or none, is bad
// input that names the shells.
func TestCompletionBadShell(t *testing.T) {
	for _, args := range [][]string{{"completion", "pwsh"}, {"completion"}, {"completion", "bash", "zsh"}} {
		code, stdout, stderr := runCLI(args...)
		if code != exitUsage || stdout != "" || !strings.Contains(stderr, "bash, zsh, fish") {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", args, code, stdout, stderr)
		}
	}
}

// TestCompletionSyntax: each shell that is installed reads its script
// without an error (the integration tests complete with them).
func TestCompletionSyntax(t *testing.T) {
	check := map[string][]string{"bash": {"-n"}, "zsh": {"-n"}, "fish": {"--no-execute"}}
	for _, shell := range clidoc.Shells() {
		if _, err := exec.LookPath(shell); err != nil {
			t.Logf("%s is not installed", shell)
			continue
		}
		_, script, _ := runCLI("completion", shell)
		file := filepath.Join(t.TempDir(), "tcpreap."+shell)
		if err := os.WriteFile(file, []byte(script), 0o600); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(shell, append(check[shell], file)...).CombinedOutput(); err != nil {
			t.Errorf("%s: %v: %s", shell, err, out)
		}
	}
}
