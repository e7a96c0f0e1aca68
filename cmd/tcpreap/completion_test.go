package main

import (
	"strings"
	"testing"

	"github.com/tcpreap/tcpreap/sockdiag"
)

// TestCompletionHasEverything: each shell's script offers every command and
// alias, every option of every command, and the --state words. (The
// integration tests run the scripts in the shells.)
func TestCompletionHasEverything(t *testing.T) {
	for _, shell := range shellNames() {
		code, script, stderr := runCLI("completion", shell)
		if code != exitOK || stderr != "" {
			t.Fatalf("tcpreap completion %s: exit %d, stderr %q", shell, code, stderr)
		}
		for _, c := range visibleCommands(t) {
			for _, n := range append(c.Aliases, c.Name) {
				if n != "tcpreap" && !strings.Contains(script, n) {
					t.Errorf("%s: no command %s", shell, n)
				}
			}
			for _, f := range c.Flags {
				for _, n := range f.Names() {
					if !strings.Contains(script, completionFlagWord(shell, n)) {
						t.Errorf("%s: no option %s of %s", shell, dashes(n), c.Name)
					}
				}
			}
		}
		if states := strings.Join(sockdiag.StateWords(), " "); !strings.Contains(script, states) {
			t.Errorf("%s: the states %s are not offered", shell, states)
		}
	}
}

// completionFlagWord is how a script names option n.
func completionFlagWord(shell, n string) string {
	switch {
	case shell != "fish":
		return dashes(n)
	case len(n) == 1:
		return "-s " + n
	}
	return "-l " + n
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

func TestFirstClause(t *testing.T) {
	for in, want := range map[string]string{
		"TCP sockets (the default)":                                                 "TCP sockets",
		"IPv4 (and v4-mapped IPv6) sockets":                                         "IPv4 (and v4-mapped IPv6) sockets",
		"with --stalled: no ack for at least DURATION":                              "with --stalled: no ack for at least DURATION",
		"states S[,S]: established syn_sent syn_recv fin_wait1 fin_wait2 time_wait": "states S[,S]",
	} {
		if got := firstClause(in); got != want {
			t.Errorf("firstClause(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestCompletionDepth: the scripts know commands two deep (tcpreap conntrack
// list); a command deeper in the tree fails here, not silently in a shell.
// conntrack's --state offers conntrack's states, not the sockets'.
func TestCompletionDepth(t *testing.T) {
	for _, c := range visibleCommands(t) {
		if len(c.path) > 3 {
			t.Errorf("%s: the completion scripts do not know commands this deep", c.typed())
		}
	}
	_, script, _ := runCLI("completion", "bash")
	if want := "values=([--state]='" + strings.Join(conntrackStateWords(), " ") + "')"; strings.Count(script, want) != 2 {
		t.Errorf("conntrack and conntrack list do not offer %q", want)
	}
}
