package main

import (
	"strings"
	"testing"
)

// visibleCommands is every command of tcpreap's tree that a person is shown,
// the root first, read from newApp itself: a command or flag added there is
// checked here without a change to the tests.
func visibleCommands(t *testing.T) []treeCommand {
	t.Helper()
	root := newApp([]string{"tcpreap"}, streams{})
	cmds := manCommands(root)
	if len(cmds) < 6 {
		t.Fatalf("the command tree has %d commands", len(cmds))
	}
	return cmds
}

// TestManPageHasEverything: tcpreap man names every command, alias and option
// of the tree (each option with its usage) and every example line.
func TestManPageHasEverything(t *testing.T) {
	code, page, stderr := runCLI("man")
	if code != exitOK || stderr != "" {
		t.Fatalf("tcpreap man: exit %d, stderr %q", code, stderr)
	}
	for _, c := range visibleCommands(t) {
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
	for _, want := range []string{".TH \"TCPREAP\" \"8\"", ".SH \"EXIT STATUS\"", ".SH \"SEE ALSO\"\n.BR ss (8)", auditSocketEnv} {
		if !strings.Contains(page, want) {
			t.Errorf("the man page has no %q", want)
		}
	}
	if strings.Contains(page, "Exit codes:") || strings.Contains(page, `.SS "tcpreap man"`) {
		t.Error("the man page repeats the help's exit codes, or documents the hidden man command")
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
	code, _, stderr := runCLI("man", "extra")
	if code != exitUsage || !strings.Contains(stderr, "man takes no arguments") {
		t.Errorf("tcpreap man extra: exit %d, stderr %q", code, stderr)
	}
}
