package clidoc

import (
	"slices"
	"strings"

	"github.com/urfave/cli/v3"
)

// A Manual is what the manual page says that the command tree does not: what
// each exit status means, and what the command reads besides its command
// line (the environment, files).
type Manual struct {
	ExitStatus, Environment, Files []Definition
}

// A Definition is a term of the manual (an exit status, a variable, a
// file) and what it means.
type Definition struct{ Term, Meaning string }

// ManPage is the manual page of root, tcpreap(8), in roff, written from the
// command tree that parses the command line, so that a new command, flag or
// example is in the manual as soon as it is in the help: every visible
// command with its aliases, its description, its options with their usage,
// and its examples; then manual's sections.
func ManPage(root *cli.Command, manual Manual) string {
	var m roff
	release, _, _ := strings.Cut(root.Version, " (")
	m.macro("TH", "TCPREAP", "8", "", "tcpreap "+release, "System Administration")
	// Options, addresses and state names are words to copy: not hyphenated,
	// not stretched.
	m.line(".nh")
	m.line(".ad l")
	m.section("NAME")
	m.text(root.Name + " - " + root.Usage)

	m.section("SYNOPSIS")
	for i, c := range manCommands(root) {
		if i > 0 {
			m.line(".br")
		}
		m.line(`\fB` + escape(c.typed()) + `\fR ` + escape(synopsisArgs(c.Command)))
	}

	text, _ := descriptionParts(root.Description)
	m.section("DESCRIPTION")
	m.paragraphs(text)

	m.section("OPTIONS")
	m.flags(root.Flags)

	m.section("COMMANDS")
	for _, c := range manCommands(root)[1:] {
		m.macro("SS", c.typed())
		usage := upperFirst(c.Usage) + "."
		if len(c.Aliases) > 0 {
			usage += " Also called " + strings.Join(c.Aliases, ", ") + "."
		}
		m.text(usage)
		text, _ := descriptionParts(c.Description)
		m.paragraphs(text)
		if len(c.Flags) > 0 {
			m.line(".PP")
			m.text("Options of " + c.typed() + ":")
			m.flags(c.Flags)
		}
	}

	m.section("EXIT STATUS")
	m.definitions(manual.ExitStatus)

	m.section("ENVIRONMENT")
	m.definitions(manual.Environment)
	m.section("FILES")
	m.definitions(manual.Files)

	m.section("EXAMPLES")
	for _, c := range manCommands(root) {
		if _, examples := descriptionParts(c.Description); len(examples) > 0 {
			m.line(".PP")
			m.line(".nf")
			for _, e := range examples {
				m.text(e)
			}
			m.line(".fi")
		}
	}

	m.section("SEE ALSO")
	m.line(".BR ss (8),")
	m.line(".BR ip\\-netns (8),")
	m.line(".BR tcp (7)")
	return m.String()
}

// A treeCommand is a command of the tree with the words that type it:
// "tcpreap", "conntrack", "list".
type treeCommand struct {
	*cli.Command
	path []string
}

// typed is how the command is typed: "tcpreap conntrack list".
func (c treeCommand) typed() string { return strings.Join(c.path, " ") }

// manCommands is the root and its visible commands, in the help's order,
// each followed by its own visible commands (conntrack list), but for
// urfave/cli's help command, which --help says better.
func manCommands(root *cli.Command) []treeCommand {
	out := []treeCommand{{root, []string{root.Name}}}
	var walk func(parent treeCommand)
	walk = func(parent treeCommand) {
		for _, c := range parent.Commands {
			if c.Hidden || c.Name == "help" {
				continue
			}
			mc := treeCommand{c, append(slices.Clone(parent.path), c.Name)}
			out = append(out, mc)
			walk(mc)
		}
	}
	walk(out[0])
	return out
}

func synopsisArgs(c *cli.Command) string {
	if len(c.Flags) == 0 {
		return c.ArgsUsage
	}
	return strings.TrimSpace("[options] " + c.ArgsUsage)
}

// descriptionParts splits a command's description into its paragraphs of
// prose and the lines of its "Examples:" paragraph, unindented. The exit
// codes the root's help sums up are the manual's EXIT STATUS section.
func descriptionParts(description string) (text [][]string, examples []string) {
	for _, p := range strings.Split(description, "\n\n") {
		lines := strings.Split(strings.TrimRight(p, "\n"), "\n")
		switch {
		case lines[0] == "Examples:":
			for _, l := range lines[1:] {
				examples = append(examples, strings.TrimPrefix(l, "  "))
			}
		case strings.HasPrefix(lines[0], "Exit codes:"):
		default:
			text = append(text, lines)
		}
	}
	return text, examples
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// roff is a man page being written.
type roff struct{ strings.Builder }

// line writes a request or a line that is already roff.
func (m *roff) line(s string) { m.WriteString(s + "\n") }

// text writes a line of plain text, escaped.
func (m *roff) text(s string) { m.line(escape(s)) }

// macro writes a request with its arguments, each quoted.
func (m *roff) macro(name string, args ...string) {
	m.WriteString("." + name)
	for _, a := range args {
		m.WriteString(` "` + strings.ReplaceAll(escape(a), `"`, `\(dq`) + `"`)
	}
	m.WriteString("\n")
}

func (m *roff) section(name string) { m.macro("SH", name) }

// paragraphs writes prose whose lines roff fills again.
func (m *roff) paragraphs(ps [][]string) {
	for _, p := range ps {
		m.line(".PP")
		for _, l := range p {
			m.text(strings.TrimSpace(l))
		}
	}
}

// definitions writes terms in bold, each with its meaning below.
func (m *roff) definitions(defs []Definition) {
	for _, d := range defs {
		m.line(".TP")
		m.line(".B " + escape(d.Term))
		m.text(d.Meaning)
	}
}

// flags writes each option: its names in bold, its value's placeholder in
// italics, and below them its usage as the help has it (with the default).
func (m *roff) flags(flags []cli.Flag) {
	for _, f := range flags {
		placeholder, usage := flagDoc(f)
		var names []string
		for _, n := range f.Names() {
			name := `\fB` + escape(dashes(n)) + `\fR`
			if placeholder != "" {
				name += ` \fI` + escape(placeholder) + `\fR`
			}
			names = append(names, name)
		}
		m.line(".TP")
		m.line(strings.Join(names, ", "))
		if multi, ok := f.(cli.DocGenerationMultiValueFlag); ok && multi.IsMultiValueFlag() {
			usage += "; may be given more than once"
		}
		m.text(usage)
	}
}

// flagDoc returns the placeholder of an option's value ("" for a switch) and
// its usage as urfave/cli prints it: the placeholder's backquotes gone, the
// default appended.
func flagDoc(f cli.Flag) (placeholder, usage string) {
	names, usage, _ := strings.Cut(cliFlagString(f), "\t")
	if d, ok := f.(cli.DocGenerationFlag); ok && d.TakesValue() {
		// "--local-port P[,P], --sport P[,P] [ … ]": the word after the
		// first name.
		first := dashes(f.Names()[0]) + " "
		if rest, ok := strings.CutPrefix(names, first); ok {
			placeholder, _, _ = strings.Cut(rest, ", ")
			placeholder, _, _ = strings.Cut(placeholder, " [ ")
		}
	}
	return placeholder, usage
}

// dashes is how an option is written: -t, --tcp.
func dashes(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// escape makes plain text safe in roff: a backslash is printed, a hyphen is
// the ASCII one a reader can copy into a shell (\-), and a line that starts
// with a dot or a quote is text, not a request.
func escape(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	s = strings.ReplaceAll(s, "-", `\-`)
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = `\&` + s
	}
	return s
}
