package main

import (
	"reflect"
	"strings"
	"testing"

	"github.com/urfave/cli/v3"
)

func TestDigitFlags(t *testing.T) {
	const groupable = "46tunqype"
	tests := []struct{ in, want []string }{
		{[]string{"tcpreap", "-4", "list"}, []string{"tcpreap", "--4", "list"}},
		{[]string{"tcpreap", "-6t", "--state", "all"}, []string{"tcpreap", "--6", "--t", "--state", "all"}},
		{[]string{"tcpreap", "--", "-4"}, []string{"tcpreap", "--", "-4"}},
		{[]string{"tcpreap", "-t4"}, []string{"tcpreap", "-t4"}},
		{[]string{"tcpreap", "-42.5"}, []string{"tcpreap", "-42.5"}},
		{[]string{"tcpreap", "-4x"}, []string{"tcpreap", "-4x"}},
	}
	for _, tt := range tests {
		if got := digitFlags(tt.in, groupable); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("digitFlags(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestShortBoolFlags: the letters that may be grouped come from the flag
// definitions: every one-letter boolean flag of every command.
func TestShortBoolFlags(t *testing.T) {
	got := shortBoolFlags(newApp(nil, streams{}))
	for _, c := range "46tunqype" {
		if !strings.ContainsRune(got, c) {
			t.Errorf("shortBoolFlags = %q, lacks %q", got, c)
		}
	}
	if len(got) != len("46tunqype") {
		t.Errorf("shortBoolFlags = %q, want the letters of 46tunqype", got)
	}
}

// TestLocalKeepsEveryFlagType: keepLocal must keep a root option of any type
// urfave/cli has to the root, or a subcommand would take it and ignore it.
func TestLocalKeepsEveryFlagType(t *testing.T) {
	flags := []cli.Flag{
		&cli.BoolFlag{Name: "b"}, &cli.StringFlag{Name: "s"}, &cli.IntFlag{Name: "i"}, &cli.Int64Flag{Name: "i64"},
		&cli.UintFlag{Name: "u"}, &cli.FloatFlag{Name: "f"}, &cli.DurationFlag{Name: "d"}, &cli.TimestampFlag{Name: "ts"},
		&cli.StringSliceFlag{Name: "ss"}, &cli.IntSliceFlag{Name: "is"}, &cli.StringMapFlag{Name: "sm"},
		&cli.GenericFlag{Name: "g"}, &cli.BoolWithInverseFlag{Name: "bi"},
	}
	keepLocal(flags)
	for _, f := range flags {
		lf, ok := f.(cli.LocalFlag)
		if !ok || !lf.IsLocal() {
			t.Errorf("%T is not local after keepLocal()", f)
		}
	}
	// And every option of the root is refused by a subcommand, whatever its
	// type: none is silently ignored.
	app := newApp(nil, streams{})
	for _, f := range app.Flags {
		if lf, ok := f.(cli.LocalFlag); !ok || !lf.IsLocal() {
			t.Errorf("root option --%s is not kept to the root", f.Names()[0])
		}
	}
}

// TestUsageLines: every usage line puts the options after the command, as
// the parser takes them, and the root's options are not called global.
func TestUsageLines(t *testing.T) {
	for args, want := range map[string]string{
		"--help":              "   tcpreap [options] [PEER...]\n   tcpreap COMMAND [options] ...\n",
		"help":                "   tcpreap [options] [PEER...]\n   tcpreap COMMAND [options] ...\n",
		"list --help":         "   tcpreap list [options] [PEER...]\n",
		"help list":           "   tcpreap list [options] [PEER...]\n",
		"conntrack --help":    "   tcpreap conntrack [options] [PEER...]\n   tcpreap conntrack list [options] [PEER...]\n",
		"help conntrack list": "   tcpreap conntrack list [options] [PEER...]\n",
		"apply --help":        "   tcpreap apply [options] PLAN-FILE\n",
		"completion --help":   "   tcpreap completion SHELL\n",
	} {
		code, stdout, stderr := runCLI(strings.Fields(args)...)
		if code != exitOK || stderr != "" || !strings.Contains(stdout, "USAGE:\n"+want+"\n") {
			t.Errorf("%s: exit %d, stderr %q, want the usage\n%s\nin:\n%s", args, code, stderr, want, stdout)
		}
		if strings.Contains(stdout, "global options") || strings.Contains(stdout, "GLOBAL") || strings.Contains(stdout, "[command [command options]]") {
			t.Errorf("%s: urfave/cli's usage words:\n%s", args, stdout)
		}
	}
}

// TestUsageMistakes: a word the parser refuses is bad input (exit 2) said
// in one sentence in tcpreap's words, with the command whose help to read:
// the option as it is written, the commands that take it or why not, ss's
// letters, a missing or unreadable value; never urfave/cli's "Incorrect
// Usage" nor its flag words.
func TestUsageMistakes(t *testing.T) {
	for _, c := range []struct {
		args string
		want string
	}{
		{"list -tanp", "tcpreap: -tanp reads as ss's letters: list takes no -a (give --state all) or -n (addresses are always numbers here); see tcpreap list --help\n"},
		{"-tanp", "tcpreap: -tanp reads as ss's letters: tcpreap takes no -a (give --state all) or -p (tcpreap list -p shows processes); see tcpreap --help\n"},
		{"summary --all-netns", "tcpreap: summary takes no --all-netns (summary takes --netns: one namespace); see tcpreap summary --help\n"},
		{"summary -all-netns", "tcpreap: summary takes no --all-netns (summary takes --netns: one namespace); see tcpreap summary --help\n"},
		{"list --workers 2", "tcpreap: list takes no --workers, an option of tcpreap and tcpreap apply; see tcpreap list --help\n"},
		{"list -n", "tcpreap: list takes no -n (list destroys nothing already); see tcpreap list --help\n"},
		{"list -bogus", "tcpreap: list has no option --bogus; see tcpreap list --help\n"},
		{"conntrack list -x", "tcpreap: conntrack list takes no -x (TCP and UDP only); see tcpreap conntrack list --help\n"},
		{"list --state", "tcpreap: --state needs a value; see tcpreap list --help\n"},
		{"summary --top x", "tcpreap: --top x: give a whole number; see tcpreap summary --help\n"},
		{"list --json=x", "tcpreap: --json is a switch: give it alone, without =x; see tcpreap list --help\n"},
		{"help --bogus", "tcpreap: help has no option --bogus; see tcpreap --help\n"},
		{"help nosuch", "tcpreap: tcpreap has no command \"nosuch\"; see tcpreap --help\n"},
		{"conntrack help nosuch", "tcpreap: tcpreap conntrack has no command \"nosuch\"; see tcpreap conntrack --help\n"},
		{"-y help", "tcpreap: help takes no options (--yes); see tcpreap --help\n"},
		{"list help --bogus", "tcpreap: list help has no option --bogus; see tcpreap list --help\n"},
		{"conntrack list help -x", "tcpreap: conntrack list help has no option -x; see tcpreap conntrack list --help\n"},
		{"--workers 0", "tcpreap: --workers 0: give 1 to 64, the number of netlink sockets that send the destroys at once (without --workers: one per CPU, at most 4)\n"},
	} {
		code, stdout, stderr := runCLI(strings.Fields(c.args)...)
		if code != exitUsage || stdout != "" || stderr != c.want {
			t.Errorf("%s: exit %d, stdout %q, stderr\n%q, want exit 2 and\n%q", c.args, code, stdout, stderr, c.want)
		}
	}
}

// TestHelpCommand: help COMMAND, and COMMAND help, print what COMMAND
// --help prints, for every command, and so do they with --help.
func TestHelpCommand(t *testing.T) {
	for _, c := range []string{"", "list", "conntrack", "conntrack list", "summary", "doctor", "plan", "apply", "completion"} {
		_, want, _ := runCLI(append(strings.Fields(c), "--help")...)
		for _, args := range [][]string{append([]string{"help"}, strings.Fields(c)...), append(strings.Fields(c), "help"),
			append([]string{"help", "help"}, strings.Fields(c)...), append(append([]string{"help"}, strings.Fields(c)...), "help"),
			append(append([]string{"help"}, strings.Fields(c)...), "--help"), append(strings.Fields(c), "help", "-h")} {
			code, got, stderr := runCLI(args...)
			if code != exitOK || stderr != "" || got != want {
				t.Errorf("%q: exit %d, stderr %q, printed\n%s\nwant\n%s", args, code, stderr, got, want)
			}
		}
	}
}
