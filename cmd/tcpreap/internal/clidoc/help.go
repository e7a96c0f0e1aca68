// Package clidoc writes what documents tcpreap's command line, from the
// command tree that parses it: the help of each option (FlagHelp, which
// urfave/cli's help prints), each command's usage line (UsageText) and help
// command (HelpCommand), the sentence of a command line the parser refused
// (Mistake), the manual page tcpreap(8) (ManPage) and the shell completion
// scripts (Completion). A command, option or example added
// to the tree is in all three at once. What the tree does not hold (what the
// exit codes mean, the words an option's value may be) is given by the
// caller.
package clidoc

import (
	"strings"
	"unicode/utf8"

	"github.com/urfave/cli/v3"
)

// Width is the terminal the help, and the text wrapped to fit it, must fit.
const Width = 80

// Help layout: urfave/cli indents an option's first line by 3 columns and
// its other lines by 6 more; the usage starts at column 3+helpNameWidth,
// below the names when they are longer.
const (
	helpIndent     = 3
	helpWrapIndent = 6
	helpNameWidth  = 30
)

var cliFlagString = cli.FlagStringer

// FlagHelp is one option in the help: its names and value, then its usage,
// wrapped to fit Width columns. A repeatable option says so once, not by
// printing its names twice. It is urfave/cli's cli.FlagStringer.
func FlagHelp(f cli.Flag) string {
	names, usage, _ := strings.Cut(cliFlagString(f), "\t")
	if i := strings.Index(names, " [ "); i >= 0 {
		names = names[:i] + " …"
	}
	pad := strings.Repeat(" ", helpIndent+helpNameWidth-helpWrapIndent)
	lines := Wrap(usage, Width-helpIndent-helpNameWidth)
	var b strings.Builder
	b.WriteString(names)
	if n := utf8.RuneCountInString(names); n < helpNameWidth-1 {
		b.WriteString(strings.Repeat(" ", helpNameWidth-n))
	} else {
		b.WriteString("\n" + pad)
	}
	b.WriteString(strings.Join(lines, "\n"+pad))
	return b.String()
}

// Wrap breaks text into lines of at most width columns, at spaces.
func Wrap(text string, width int) []string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(text) {
		if line != "" && len(line)+1+len(w) > width {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	return append(lines, line)
}
