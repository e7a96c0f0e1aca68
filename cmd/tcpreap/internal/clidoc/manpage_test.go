package clidoc

import (
	"strings"
	"testing"

	"github.com/urfave/cli/v3"
)

// testTree is a command tree of tcpreap's shapes: a root with PEERs, an
// option of each kind urfave/cli has (repeatable, with an alias, a switch,
// a number without its default), a command with an alias, a command of
// commands (conntrack list), one that takes a file, one that takes words,
// a hidden one and urfave/cli's help; each with examples.
func testTree() *cli.Command {
	examples := func(lines ...string) string { return "\n\nExamples:\n  " + strings.Join(lines, "\n  ") }
	state := &cli.StringSliceFlag{Name: "state", Usage: "states `S[,S]`: established listen, or all (default: all but listen)"}
	return &cli.Command{
		Name: "tcpreap", Usage: "destroy the sockets a selection matches", ArgsUsage: "[PEER...]", Version: "1.2.3 (commit abc)",
		Description: "Destroys the sockets the selection matches.\nA second line, - with a hyphen." +
			examples("tcpreap 192.0.2.34   cut every connection with that peer") +
			"\n\nExit codes: 0 every target gone, 1 runtime failure.",
		Flags: []cli.Flag{state,
			&cli.StringSliceFlag{Name: "local-port", Aliases: []string{"sport"}, Usage: "local port `P[,P]`"},
			&cli.BoolFlag{Name: "tcp", Aliases: []string{"t"}, Usage: "TCP sockets (the default)"},
			&cli.IntFlag{Name: "workers", HideDefault: true, Usage: "destroy on `N` netlink sockets at once"},
		},
		Commands: []*cli.Command{
			{Name: "list", Aliases: []string{"ls"}, Usage: "print the sockets; destroy nothing", ArgsUsage: "[PEER...]",
				Description: "Prints the plan." + examples("tcpreap list --state all   every socket"), Flags: []cli.Flag{state}},
			{Name: "conntrack", Usage: "delete the conntrack entries a selection matches", ArgsUsage: "[PEER...]",
				Description: "Deletes entries." + examples("tcpreap conntrack 198.51.100.7   cut a client's flows"),
				Flags:       []cli.Flag{&cli.StringSliceFlag{Name: "state", Usage: "conntrack TCP states `S[,S]`"}},
				Commands: []*cli.Command{{Name: "list", Aliases: []string{"ls"}, Usage: "print the conntrack entries", ArgsUsage: "[PEER...]",
					Description: "Prints entries." + examples("tcpreap conntrack list -u   every UDP entry"),
					Flags:       []cli.Flag{&cli.StringSliceFlag{Name: "state", Usage: "conntrack TCP states `S[,S]`"}}}}},
			{Name: "apply", Usage: "destroy what a plan file names", ArgsUsage: "PLAN-FILE",
				Description: "Destroys a plan." + examples("tcpreap apply reap.plan   carry out the plan")},
			{Name: "completion", Usage: "write a completion script", ArgsUsage: "SHELL",
				Description: "Writes a script." + examples("source <(tcpreap completion bash)")},
			{Name: "man", Hidden: true, Usage: "write the manual page", Description: "Writes it." + examples("tcpreap man | man -l -")},
			{Name: "help", Usage: "shows a list of commands"},
		},
	}
}

// testManual is what the manual says besides testTree.
var testManual = Manual{
	ExitStatus:  []Definition{{"0", "Every target is gone."}, {"128+N", "Interrupted by signal N."}},
	Environment: []Definition{{"TCPREAP_SYSLOG_SOCKET", "A syslog socket."}},
	Files:       []Definition{{"/etc/services", "Service names that --port takes."}},
}

// TestManPageHasEverything: the manual names every command, alias and
// option of the tree (each option with its usage), every example line, and
// the manual's own sections.
func TestManPageHasEverything(t *testing.T) {
	root := testTree()
	page := ManPage(root, testManual)
	cmds := manCommands(root)
	if len(cmds) != 6 {
		t.Fatalf("the command tree has %d visible commands, want 6 (man and help are not shown)", len(cmds))
	}
	for _, c := range cmds {
		if len(c.path) > 1 && !strings.Contains(page, `.SS "`+escape(c.typed())+`"`) {
			t.Errorf("no section for the command %s", c.typed())
		}
		if len(c.path) > 1 && !strings.Contains(page, `\fB`+escape(c.typed())+`\fR `) {
			t.Errorf("the command %s is not in the synopsis", c.typed())
		}
		for _, a := range c.Aliases {
			if !strings.Contains(page, "Also called "+escape(a)) {
				t.Errorf("the alias %s of %s is not in the man page", a, c.Name)
			}
		}
		for _, f := range c.Flags {
			_, usage := flagDoc(f)
			for _, n := range f.Names() {
				if !strings.Contains(page, `\fB`+escape(dashes(n))+`\fR`) {
					t.Errorf("%s's option %s is not in the man page", c.Name, dashes(n))
				}
			}
			if !strings.Contains(page, escape(usage)) {
				t.Errorf("%s's option %s: its usage %q is not in the man page", c.Name, f.Names()[0], usage)
			}
		}
		_, examples := descriptionParts(c.Description)
		if len(examples) == 0 {
			t.Errorf("%s has no examples", c.Name)
		}
		for _, e := range examples {
			if !strings.Contains(page, "\n"+escape(e)+"\n") {
				t.Errorf("%s's example %q is not in the man page", c.Name, e)
			}
		}
	}
	for _, want := range []string{".TH \"TCPREAP\" \"8\" \"\" \"tcpreap 1.2.3\"", ".SH \"EXIT STATUS\"\n.TP\n.B 0\nEvery target is gone.\n",
		".SH \"ENVIRONMENT\"\n.TP\n.B TCPREAP_SYSLOG_SOCKET\n", ".B /etc/services\nService names that \\-\\-port takes.\n", ".SH \"SEE ALSO\"\n.BR ss (8)"} {
		if !strings.Contains(page, want) {
			t.Errorf("the man page has no %q", want)
		}
	}
	if strings.Contains(page, "Exit codes:") || strings.Contains(page, `.SS "tcpreap man"`) || strings.Contains(page, `.SS "tcpreap help"`) {
		t.Error("the man page repeats the help's exit codes, or documents the hidden man command or the help command")
	}
}

// TestManPageEscapes: text can neither start a roff request nor lose a
// backslash, and a hyphen is one a shell takes.
func TestManPageEscapes(t *testing.T) {
	for in, want := range map[string]string{
		".hidden request": `\&.hidden request`,
		"'quote request":  `\&'quote request`,
		`C:\path`:         `C:\epath`,
		"--state":         `\-\-state`,
		"a.b 'c'":         "a.b 'c'",
	} {
		if got := escape(in); got != want {
			t.Errorf("escape(%q) = %q, want %q", in, got, want)
		}
	}
	var m roff
	m.macro("SS", `say "hi"`)
	if got := m.String(); got != `.SS "say \(dqhi\(dq"`+"\n" {
		t.Errorf("a macro's argument with quotes: %q", got)
	}
}
