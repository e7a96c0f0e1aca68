package clidoc

import (
	"strings"
	"testing"

	"github.com/urfave/cli/v3"
)

func TestFlagHelpWraps(t *testing.T) {
	long := &cli.StringSliceFlag{Name: "remote-port", Aliases: []string{"dport"}, Usage: strings.Repeat("word ", 40)}
	got := FlagHelp(long)
	lines := strings.Split(got, "\n")
	if len(lines) < 3 || !strings.HasPrefix(lines[0], "--remote-port") || strings.Count(lines[0], "--remote-port") != 1 {
		t.Fatalf("help of a long option:\n%s", got)
	}
	for _, l := range lines[1:] {
		if n := helpWrapIndent + len(l); n > Width {
			t.Errorf("line of %d columns: %q", n, l)
		}
	}
	if got := FlagHelp(&cli.BoolFlag{Name: "json", Usage: "NDJSON"}); got != "--json"+strings.Repeat(" ", helpNameWidth-len("--json"))+"NDJSON" {
		t.Errorf("help of a short option: %q", got)
	}
}
