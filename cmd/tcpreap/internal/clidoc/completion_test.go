package clidoc

import (
	"strings"
	"testing"

	"github.com/urfave/cli/v3"
)

// testWords are what the scripts of testTree offer besides the tree.
var testWords = Words{
	Values: map[string][]string{
		"tcpreap --state":           {"established", "listen", "all"},
		"tcpreap conntrack --state": {"syn_sent", "syn_sent2", "all"},
	},
	Args:  map[string][]string{"completion": Shells()},
	Lists: map[string]List{"tcpreap --netns": Namespaces, "tcpreap --interface": Interfaces},
}

// TestCompletionHasEverything: each shell's script offers every command
// and alias, every option of every command, the values of --state and the
// words of an argument. (The integration tests run the scripts in the
// shells.)
func TestCompletionHasEverything(t *testing.T) {
	root := testTree()
	for _, shell := range Shells() {
		script, ok := Completion(root, shell, testWords)
		if !ok {
			t.Fatalf("no script for %s", shell)
		}
		for _, c := range manCommands(root) {
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
		for _, words := range [][]string{testWords.Values["tcpreap --state"], testWords.Values["tcpreap conntrack --state"], Shells()} {
			if !strings.Contains(script, strings.Join(words, " ")) {
				t.Errorf("%s: the words %q are not offered", shell, words)
			}
		}
	}
	if _, ok := Completion(root, "pwsh", testWords); ok {
		t.Error("a script for pwsh")
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

// TestCompletionValues: a command's option takes the values of the nearest
// of its command line's prefixes that names them.
func TestCompletionValues(t *testing.T) {
	for path, want := range map[string]string{
		"tcpreap":                "established listen all",
		"tcpreap list":           "established listen all",
		"tcpreap conntrack":      "syn_sent syn_sent2 all",
		"tcpreap conntrack list": "syn_sent syn_sent2 all",
	} {
		if got := strings.Join(testWords.valuesOf(strings.Fields(path), "state"), " "); got != want {
			t.Errorf("%s --state: %q, want %q", path, got, want)
		}
	}
	if got := testWords.valuesOf([]string{"tcpreap"}, "port"); got != nil {
		t.Errorf("--port: %q, want none", got)
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

// TestCompletionLists: the options named in Words.Lists (and the same
// options of the commands under them) complete with the shell's function
// for that list, in each shell; another option does not.
func TestCompletionLists(t *testing.T) {
	root := testTree()
	root.Flags = append(root.Flags, &cli.StringFlag{Name: "netns", Usage: "in namespace `NS`"}, &cli.StringFlag{Name: "interface", Usage: "on interface `IF`"})
	if got := testWords.listOf([]string{"tcpreap", "conntrack", "list"}, "netns"); got != Namespaces {
		t.Errorf("tcpreap conntrack list --netns lists %q, want %q", got, Namespaces)
	}
	if got := testWords.listOf([]string{"tcpreap"}, "state"); got != "" {
		t.Errorf("--state lists %q, want nothing", got)
	}
	for shell, want := range map[string][]string{
		"bash": {"_tcpreap_netns() {", "_tcpreap_interfaces() {", "[--netns]=netns", "[--interface]=interfaces", `$(_tcpreap_${lists[$prev]})`},
		"zsh":  {"_tcpreap_netns() {", "_tcpreap_interfaces() {", ":NS:_tcpreap_netns'", ":IF:_tcpreap_interfaces'"},
		"fish": {"function __tcpreap_netns", "function __tcpreap_interfaces", "-l netns -x -a '(__tcpreap_netns)'", "-l interface -x -a '(__tcpreap_interfaces)'"},
	} {
		script, _ := Completion(root, shell, testWords)
		for _, w := range want {
			if !strings.Contains(script, w) {
				t.Errorf("%s: no %q in the script", shell, w)
			}
		}
	}
}
