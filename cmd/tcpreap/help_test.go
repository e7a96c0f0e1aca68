package main

import (
	"strings"
	"testing"

	"github.com/urfave/cli/v3"
)

func TestFlagHelpWraps(t *testing.T) {
	long := &cli.StringSliceFlag{Name: "remote-port", Aliases: []string{"dport"}, Usage: strings.Repeat("word ", 40)}
	got := flagHelp(long)
	lines := strings.Split(got, "\n")
	if len(lines) < 3 || !strings.HasPrefix(lines[0], "--remote-port") || strings.Count(lines[0], "--remote-port") != 1 {
		t.Fatalf("help of a long option:\n%s", got)
	}
	for _, l := range lines[1:] {
		if n := helpWrapIndent + len(l); n > helpWidth {
			t.Errorf("line of %d columns: %q", n, l)
		}
	}
	if got := flagHelp(&cli.BoolFlag{Name: "json", Usage: "NDJSON"}); got != "--json"+strings.Repeat(" ", helpNameWidth-len("--json"))+"NDJSON" {
		t.Errorf("help of a short option: %q", got)
	}
}

// TestHelp: every command's help has examples and fits a 100-column
// terminal.
func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"list", "--help"}, {"plan", "--help"}, {"apply", "--help"},
		{"conntrack", "--help"}, {"conntrack", "list", "--help"}, {"completion", "--help"}} {
		code, stdout, stderr := runCLI(args...)
		if code != exitOK || stderr != "" {
			t.Errorf("%q: exit %d, stderr %q", args, code, stderr)
		}
		if !strings.Contains(stdout, "Examples:") {
			t.Errorf("%q: no examples in the help:\n%s", args, stdout)
		}
		for _, line := range strings.Split(stdout, "\n") {
			if len([]rune(line)) > 100 {
				t.Errorf("%q: a help line of %d columns: %q", args, len([]rune(line)), line)
			}
		}
	}
}

// TestHelpSaysWhatEachDoes: the root's help says plainly that it destroys
// and that list and -n only print; list and plan promise no destroy.
func TestHelpSaysWhatEachDoes(t *testing.T) {
	_, root, _ := runCLI("--help")
	if !strings.Contains(root, "list and -n only print") {
		t.Errorf("tcpreap --help does not say that list and -n only print:\n%s", root)
	}
	for _, cmd := range [][]string{{"list"}, {"plan"}, {"conntrack", "list"}} {
		_, help, _ := runCLI(append(cmd, "--help")...)
		if strings.Contains(help, "also destroy") {
			t.Errorf("tcpreap %s --help names an option that destroys:\n%s", cmd, help)
		}
	}
}

func TestVersion(t *testing.T) {
	code, stdout, stderr := runCLI("--version")
	if code != exitOK || stderr != "" || !strings.HasPrefix(stdout, "tcpreap version ") || !strings.Contains(stdout, "(commit ") {
		t.Errorf("--version: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}
