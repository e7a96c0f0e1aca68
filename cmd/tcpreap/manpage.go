package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/urfave/cli/v3"

	"github.com/tcpreap/tcpreap/host"
)

// manPage is tcpreap(8) in roff, written from the command tree that parses
// the command line, so that a new command, flag or example is in the manual
// as soon as it is in the help: every visible command with its aliases, its
// description, its options with their usage, and its examples.
func manPage(root *cli.Command) string {
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
	for _, s := range exitStatus {
		m.line(".TP")
		m.line(`.B ` + escape(s.code))
		m.text(s.meaning)
	}

	m.section("ENVIRONMENT")
	m.definitions(manEnvironment)
	m.section("FILES")
	m.definitions(manFiles)

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

// exitStatus is the contract of the exit codes (app.go), in the manual's
// words.
var exitStatus = []struct{ code, meaning string }{
	{fmt.Sprint(exitOK), "Every target is gone (destroyed, or already gone), or it was a dry run or a listing; also when nothing matched."},
	{fmt.Sprint(exitFailure), "A runtime failure: a destroy failed, no permission (CAP_NET_ADMIN), no SOCK_DESTROY in this kernel, a netlink error. The report says which sockets were destroyed."},
	{fmt.Sprint(exitUsage), "Bad input: a word that does not parse, a missing selector, a plan file that cannot be trusted. Nothing was destroyed."},
	{fmt.Sprint(exitRefused), "A guard refused the plan (more than --max sockets, the confirmation declined). Nothing was destroyed."},
	{"128+N", "Interrupted by signal N before or during the destroy; the sockets destroyed until then are reported."},
}

// manEnvironment and manFiles are what tcpreap reads besides its command
// line.
var (
	manEnvironment = [][2]string{
		{"SSH_CONNECTION", "The SSH session tcpreap runs in, which it never destroys without --include-self; read from tcpreap's nearest ancestor that has it (sudo clears it), and checked against the SSH server process that holds the connection."},
		{"SUDO_USER", "Who ran tcpreap through sudo, for the audit line."},
		{auditSocketEnv, "A syslog socket to write the audit line to instead of " + syslogSocket + "."},
	}
	manFiles = [][2]string{
		{host.ServicesFile, "Service names that --port, --local-port and --remote-port take."},
		{syslogSocket, "Every run that destroys writes one audit line to syslog (authpriv.notice): who ran it, the command line, and the counts."},
		{"/proc", "Socket owners (/proc/PID/fd) for --pid, --process, --uid and list -p; the process tree, for the SSH session guard; the boot id and network namespace a plan file records."},
	}
)

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
func (m *roff) definitions(defs [][2]string) {
	for _, d := range defs {
		m.line(".TP")
		m.line(".B " + escape(d[0]))
		m.text(d[1])
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
