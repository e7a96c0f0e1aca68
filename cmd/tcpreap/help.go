package main

import (
	"strings"
	"unicode/utf8"

	"github.com/urfave/cli/v3"
)

// helpWidth is the terminal the help must fit.
const helpWidth = 100

// Help layout: urfave/cli indents an option's first line by 3 columns and
// its other lines by 6 more; the usage starts at column 3+helpNameWidth,
// below the names when they are longer.
const (
	helpIndent     = 3
	helpWrapIndent = 6
	helpNameWidth  = 30
)

var cliFlagString = cli.FlagStringer

// flagHelp is one option in the help: its names and value, then its usage,
// wrapped to fit helpWidth columns. A repeatable option says so once, not
// by printing its names twice.
func flagHelp(f cli.Flag) string {
	names, usage, _ := strings.Cut(cliFlagString(f), "\t")
	if i := strings.Index(names, " [ "); i >= 0 {
		names = names[:i] + " …"
	}
	pad := strings.Repeat(" ", helpIndent+helpNameWidth-helpWrapIndent)
	lines := wrapWords(usage, helpWidth-helpIndent-helpNameWidth)
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

// wrapWords breaks text into lines of at most width columns, at spaces.
func wrapWords(text string, width int) []string {
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
