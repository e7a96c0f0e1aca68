package main

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/tcpreap/tcpreap/cmd/tcpreap/internal/clidoc"
	"github.com/urfave/cli/v3"
)

// What urfave/cli needs done to it, in one place: prepare applies it to the
// whole command tree, and run rewrites the arguments (digitFlags) before
// the parser sees them.

// prepare readies every command of the tree under root, of the command
// line args: each option's help is clidoc's, the usage line puts the
// options after the command, an error comes back to runArgs (which says it
// and chooses the exit code) instead of urfave/cli exiting by itself, short
// options group (-tn), a usage error is bad input said in one sentence that
// names the help to read, a command with commands keeps its options to
// itself (keepLocal), every command has a help command of tcpreap's, and
// every command checks its options as given (checkOptions).
func prepare(root *cli.Command, args []string) {
	cli.FlagStringer = clidoc.FlagHelp // urfave/cli's, for every command
	// The root's options are its own, not global (keepLocal).
	cli.RootCommandHelpTemplate = strings.ReplaceAll(cli.RootCommandHelpTemplate, "GLOBAL OPTIONS:", "OPTIONS:")
	root.ExitErrHandler = func(context.Context, *cli.Command, error) {}
	onUsage := func(_ context.Context, cmd *cli.Command, err error, _ bool) error {
		return usageError{errors.New(clidoc.Mistake(cmd, err, args))}
	}
	var walk func(c *cli.Command, typed string)
	walk = func(c *cli.Command, typed string) {
		c.UseShortOptionHandling = true
		// A value is one word, commas and all (a regular expression a{2,3},
		// a command name): the options whose values are lists split them
		// themselves (items).
		c.DisableSliceFlagSeparator = true
		c.OnUsageError = onUsage
		c.Before = checkOptions
		c.UsageText = clidoc.UsageText(c, typed)
		if c.Name == "help" {
			return
		}
		help := clidoc.HelpCommand(func(msg string) error { return usageError{errors.New(msg)} })
		if len(c.Commands) > 0 {
			keepLocal(c.Flags)
		} else {
			help.Hidden = true // tcpreap list help: as urfave/cli's
		}
		c.Commands = append(c.Commands, help)
		for _, sub := range c.Commands {
			walk(sub, typed+" "+sub.Name)
		}
	}
	walk(root, root.Name)
}

// checkOptions refuses what urfave/cli takes silently: options given before
// a subcommand, which would belong to the command above it and do nothing
// ("tcpreap --json apply plan", "tcpreap conntrack --json list"); an option
// of one value given twice, where the last would win unseen ("--max 10
// --max 1000"), a switch too once the last turns it off ("-n
// --dry-run=false", a real run); and an empty value, which would read as the option not
// given ("--netns $NS" with NS unset).
func checkOptions(ctx context.Context, cmd *cli.Command) (context.Context, error) {
	for _, above := range cmd.Lineage()[1:] {
		if set := above.LocalFlagNames(); len(set) > 0 {
			if cmd.Name == "help" {
				// help takes no options: its command's help is what was asked.
				return ctx, usagef("help takes no options (--%s); see %s --help", set[0], above.FullName())
			}
			return ctx, usagef("put the options after the command: %s --%s …", cmd.FullName(), set[0])
		}
	}
	for _, f := range cmd.Flags {
		name := f.Names()[0]
		if !f.IsSet() {
			continue
		}
		switch f := f.(type) {
		case *cli.StringFlag, *cli.IntFlag:
			if n := cmd.Count(name); n > 1 {
				return ctx, usagef("--%s is given %d times; give it once", name, n)
			}
			if s, ok := f.(*cli.StringFlag); ok && strings.TrimSpace(s.Get().(string)) == "" {
				return ctx, usagef("--%s: the value is empty; give one (see %s --help)", name, cmd.FullName())
			}
		case *cli.BoolFlag:
			// "-n … --dry-run=false" is a real run: a switch turned on
			// and off again is refused, as a value given twice is.
			if n := cmd.Count(name); n > 1 && !f.Get().(bool) {
				return ctx, usagef("--%s is given %d times, the last turning it off; give it once", name, n)
			}
		case *cli.StringSliceFlag:
			if slices.ContainsFunc(f.Get().([]string), func(v string) bool { return strings.TrimSpace(v) == "" }) {
				return ctx, usagef("--%s: a value is empty; give one (see %s --help)", name, cmd.FullName())
			}
		}
	}
	return ctx, nil
}

// keepLocal keeps the root command's options to the root: urfave/cli would
// otherwise let every subcommand accept them and silently ignore them
// ("tcpreap apply --state listen plan"). Every urfave/cli flag type has the
// field Local; a flag without one is a programming error, caught by the
// tests.
func keepLocal(flags []cli.Flag) {
	for _, f := range flags {
		v := reflect.ValueOf(f)
		if v.Kind() == reflect.Pointer {
			v = v.Elem()
		}
		field := v.FieldByName("Local")
		if !field.IsValid() || field.Kind() != reflect.Bool || !field.CanSet() {
			panic(fmt.Sprintf("flag %T has no Local field to keep it to its command", f))
		}
		field.SetBool(true)
	}
}

// shortBoolFlags returns the one-letter boolean flags of a command and of
// every command under it ("46tunqy"), which may be grouped ("-6t").
func shortBoolFlags(cmd *cli.Command) string {
	var b strings.Builder
	var walk func(c *cli.Command)
	walk = func(c *cli.Command) {
		for _, f := range c.Flags {
			if _, ok := f.(*cli.BoolFlag); !ok {
				continue
			}
			for _, n := range f.Names() {
				if len(n) == 1 && !strings.Contains(b.String(), n) {
					b.WriteString(n)
				}
			}
		}
		for _, sub := range c.Commands {
			walk(sub)
		}
	}
	walk(cmd)
	return b.String()
}

// digitFlags rewrites short flag groups that start with a digit ("-4",
// "-6t") into long flags ("--4", "--6", "--t"): urfave/cli takes "-4" for a
// negative number and stops parsing flags there. groupable is the letters
// that may be grouped. Words after "--" stay.
func digitFlags(args []string, groupable string) []string {
	out := make([]string, 0, len(args))
	for i, a := range args {
		if a == "--" {
			return append(out, args[i:]...)
		}
		if len(a) < 2 || a[0] != '-' || a[1] < '0' || a[1] > '9' || strings.Trim(a[1:], groupable) != "" {
			out = append(out, a)
			continue
		}
		for _, c := range a[1:] {
			out = append(out, "--"+string(c))
		}
	}
	return out
}
