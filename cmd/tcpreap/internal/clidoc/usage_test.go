package clidoc

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/urfave/cli/v3"
)

// TestUsageText: the options come after the command; a command of one
// command says how that one is typed, of several, COMMAND.
func TestUsageText(t *testing.T) {
	root := testTree()
	for c, want := range map[string]string{
		"tcpreap":           "tcpreap [options] [PEER...]\ntcpreap COMMAND [options] ...",
		"tcpreap conntrack": "tcpreap conntrack [options] [PEER...]\ntcpreap conntrack list [options] [PEER...]",
		"tcpreap list":      "tcpreap list [options] [PEER...]",
		"tcpreap apply":     "tcpreap apply PLAN-FILE",
	} {
		for _, tc := range manCommands(root) {
			if tc.typed() == c {
				if got := UsageText(tc.Command, c); got != want {
					t.Errorf("%s: %q, want %q", c, got, want)
				}
			}
		}
	}
}

// TestMistake: what urfave/cli refuses in a command line, said again in
// one sentence with the help to read.
func TestMistake(t *testing.T) {
	notTaken["tcpreap list --sport"] = "because"
	defer delete(notTaken, "tcpreap list --sport")
	for _, c := range []struct {
		args string
		want string
	}{
		{"list -tanp", "-tanp reads as ss's letters: list takes no -t, -a (give --state all), -n (addresses are always numbers here) or -p (tcpreap list -p shows processes); see tcpreap list --help"},
		{"list --workers 2", "list takes no --workers, an option of tcpreap; see tcpreap list --help"},
		{"list -x", "list takes no -x (TCP and UDP only); see tcpreap list --help"},
		{"list -bogus", "list has no option --bogus; see tcpreap list --help"},
		{"list --sport 1", "list takes no --sport (because); see tcpreap list --help"},
		{"conntrack list --sport 1", "conntrack list takes no --sport, an option of tcpreap; see tcpreap conntrack list --help"},
		{"list --state", "--state needs a value; see tcpreap list --help"},
		{"--workers x", "--workers x: give a whole number; see tcpreap --help"},
		{"--tcp=no", "--tcp is a switch: give it alone, without =no; see tcpreap --help"},
	} {
		root := testTree()
		args := append([]string{"tcpreap"}, strings.Fields(c.args)...)
		var got string
		var walk func(*cli.Command)
		walk = func(cmd *cli.Command) {
			cmd.UseShortOptionHandling = true
			cmd.OnUsageError = func(_ context.Context, cmd *cli.Command, err error, _ bool) error {
				got = Mistake(cmd, err, args)
				return err
			}
			for _, sub := range cmd.Commands {
				walk(sub)
			}
		}
		walk(root)
		// The root's options are its own, as tcpreap keeps them.
		for _, f := range root.Flags {
			switch f := f.(type) {
			case *cli.StringSliceFlag:
				f.Local = true
			case *cli.BoolFlag:
				f.Local = true
			case *cli.IntFlag:
				f.Local = true
			}
		}
		root.Writer, root.ErrWriter, root.ExitErrHandler = io.Discard, io.Discard, func(context.Context, *cli.Command, error) {}
		_ = root.Run(context.Background(), args)
		if got != c.want {
			t.Errorf("%s: %q\nwant %q", c.args, got, c.want)
		}
	}
}
