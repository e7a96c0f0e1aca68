package clidoc

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/urfave/cli/v3"
)

// UsageText is how command c, typed as typed ("tcpreap conntrack"), is
// used: its options come after it, as the parser takes them (urfave/cli's
// own line puts global options first, which tcpreap refuses), and a command
// of commands says how its commands are typed.
func UsageText(c *cli.Command, typed string) string {
	line := typed
	if len(c.Flags) > 0 {
		line += " [options]"
	}
	if c.ArgsUsage != "" {
		line += " " + c.ArgsUsage
	}
	var subs []string
	for _, s := range c.Commands {
		if !s.Hidden && s.Name != "help" {
			subs = append(subs, s.Name)
		}
	}
	switch len(subs) {
	case 0:
		return line
	case 1:
		for _, s := range c.Commands {
			if s.Name == subs[0] {
				return line + "\n" + UsageText(s, typed+" "+s.Name)
			}
		}
	}
	return line + "\n" + typed + " COMMAND [options] ..."
}

// HelpCommand is the help command of a command, in place of urfave/cli's,
// which says a mistake twice and exits 1: help COMMAND, and COMMAND help,
// print COMMAND --help; a command that is not there is said by mistake.
// help --help is help, and so is help help; any other option is a mistake.
func HelpCommand(mistake func(string) error) *cli.Command {
	return &cli.Command{Name: "help", Aliases: []string{"h"}, Usage: "show the help of a command", ArgsUsage: "[COMMAND]", HideHelp: true, SkipFlagParsing: true,
		Action: func(ctx context.Context, cmd *cli.Command) error {
			target := cmd.Lineage()[1]
			for _, w := range cmd.Args().Slice() {
				if w == "--help" || w == "-h" {
					continue
				}
				if strings.HasPrefix(w, "-") && w != "-" {
					return mistake(fmt.Sprintf("%s has no option %s; see %s --help", subject(cmd), w, target.FullName()))
				}
				sub := target.Command(w)
				if sub != nil && sub.Name == "help" {
					continue // help help, help list help: the word help adds nothing
				}
				if sub == nil {
					return mistake(fmt.Sprintf("%s has no command %q; see %s --help", target.FullName(), w, target.FullName()))
				}
				target = sub
			}
			if target == cmd.Root() {
				return cli.ShowRootCommandHelp(target)
			}
			return cli.ShowCommandHelp(ctx, target.Lineage()[1], target.Name)
		}}
}

// What urfave/cli says of a command line it refused: the word it could not
// place, in its own words.
const (
	notDefined = "flag provided but not defined: -"
	needsValue = "flag needs an argument: "
)

var invalidValue = regexp.MustCompile(`^invalid value ("(?:[^"\\]|\\.)*") for flag -([^:]+): `)

// Mistake says in one sentence, in tcpreap's words, what is wrong with a
// command line that urfave/cli refused with err, for command cmd; args is
// the command line as typed. An option the command does not take is named
// as it is written (--all-netns, -a), with the commands that take it or
// why not (notTaken); a group of letters that reads as ss's (list -tanp)
// names the letters tcpreap does not take and what to give instead.
func Mistake(cmd *cli.Command, err error, args []string) string {
	helped := cmd
	if cmd.Name == "help" && len(cmd.Lineage()) > 1 {
		helped = cmd.Lineage()[1] // help has no help of its own
	}
	help := "; see " + helped.FullName() + " --help"
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, notDefined); ok {
		if group := "-" + name; slices.Contains(args, group) && isSSGroup(name) && (len(name) > 1 || len(takers(cmd, name)) == 0) {
			return ssLetters(cmd, name) + help
		}
		return notTakenSentence(cmd, name) + help
	}
	if word, ok := strings.CutPrefix(msg, needsValue); ok {
		return dashes(strings.TrimLeft(word, "-")) + " needs a value" + help
	}
	if m := invalidValue.FindStringSubmatch(msg); m != nil {
		value, _ := strconv.Unquote(m[1])
		name := dashes(m[2])
		switch flagNamed(cmd, m[2]).(type) {
		case *cli.BoolFlag:
			return fmt.Sprintf("%s is a switch: give it alone, without =%s", name, value) + help
		case *cli.IntFlag:
			return fmt.Sprintf("%s %s: give a whole number", name, value) + help
		}
		return fmt.Sprintf("%s %s: not a value it takes", name, value) + help
	}
	return msg + help
}

// flagNamed is cmd's option of that name, or nil.
func flagNamed(cmd *cli.Command, name string) cli.Flag {
	for _, f := range cmd.Flags {
		if slices.Contains(f.Names(), name) {
			return f
		}
	}
	return nil
}

// notTaken says why a command has no option that others have, by
// "command --option", or by command for each of them.
var notTaken = map[string]string{
	"tcpreap summary --all-netns":        "summary takes --netns: one namespace",
	"tcpreap list --all":                 "list destroys nothing: it needs no --all",
	"tcpreap apply":                      "apply destroys what the plan file holds: give the selection to tcpreap plan",
	"tcpreap plan":                       "plan destroys nothing: tcpreap apply does, and takes it",
	"tcpreap list -n":                    "list destroys nothing already",
	"tcpreap conntrack --interface":      "a conntrack entry has no interface",
	"tcpreap conntrack list --interface": "a conntrack entry has no interface",
}

// notTakenSentence is the sentence of an option cmd does not take: the
// commands that take it, or why it has none.
func notTakenSentence(cmd *cli.Command, name string) string {
	option := dashes(name)
	if why, ok := notTaken[cmd.FullName()+" "+option]; ok {
		return fmt.Sprintf("%s takes no %s (%s)", subject(cmd), option, why)
	}
	others := takers(cmd, name)
	switch {
	case len(others) == 0:
		return fmt.Sprintf("%s has no option %s", subject(cmd), option)
	case notTaken[cmd.FullName()] != "":
		return fmt.Sprintf("%s takes no %s (%s)", subject(cmd), option, notTaken[cmd.FullName()])
	case len(others) > 3:
		others = append(others[:2], "others")
	}
	return fmt.Sprintf("%s takes no %s, an option of %s", subject(cmd), option, joinWords(others, "and"))
}

// takers are the other commands of the tree that take option name.
func takers(cmd *cli.Command, name string) []string {
	var out []string
	for _, c := range manCommands(cmd.Root()) {
		if c.Command != cmd && flagNamed(c.Command, name) != nil {
			out = append(out, c.typed())
		}
	}
	return out
}

// ssOptions are ss's one-letter options, each with what tcpreap has
// instead, or "" where it has nothing like it.
var ssOptions = map[rune]string{
	'a': "give --state all",
	'l': "give --state listen",
	'n': "addresses are always numbers here",
	'r': "addresses are never resolved here",
	'p': "tcpreap list -p shows processes",
	'e': "tcpreap list -e shows tcp_info",
	'i': "tcpreap list -e shows tcp_info",
	'o': "tcpreap list shows timers",
	's': "tcpreap summary counts sockets",
	'K': "tcpreap destroys and list only prints",
	'N': "give --netns NS",
	'f': "give -4 or -6",
	'x': "TCP and UDP only", 'w': "TCP and UDP only", '0': "TCP and UDP only", 'S': "TCP and UDP only", 'M': "TCP and UDP only",
	't': "", 'u': "", '4': "", '6': "", 'm': "", 'H': "", 'D': "", 'E': "", 'Z': "", 'b': "", 'O': "",
}

// isSSGroup: every letter of a group given with one dash is one of ss's
// (-tanp), rather than a long option given with one dash (-bogus).
func isSSGroup(group string) bool {
	for _, c := range group {
		if _, ok := ssOptions[c]; !ok {
			return false
		}
	}
	return true
}

// ssLetters is the sentence of a group of ss's letters: the ones cmd does
// not take, each with what to give instead.
func ssLetters(cmd *cli.Command, group string) string {
	var missing []string
	seen := ""
	for _, c := range group {
		letter := string(c)
		if flagNamed(cmd, letter) != nil || strings.ContainsRune(seen, c) {
			continue
		}
		seen += letter
		if instead := ssOptions[c]; instead != "" {
			letter += " (" + instead + ")"
		}
		missing = append(missing, "-"+letter)
	}
	if len(group) == 1 {
		return fmt.Sprintf("%s takes no %s", subject(cmd), missing[0])
	}
	return fmt.Sprintf("-%s reads as ss's letters: %s takes no %s", group, subject(cmd), joinWords(missing, "or"))
}

// joinWords joins words as a sentence does: "a", "a or b", "a, b or c".
func joinWords(words []string, conjunction string) string {
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " " + conjunction + " " + words[len(words)-1]
}

// subject is how a sentence after "tcpreap: " names cmd: a subcommand by
// its own words ("summary", "conntrack list"), the root as tcpreap.
func subject(cmd *cli.Command) string {
	if name, ok := strings.CutPrefix(cmd.FullName(), cmd.Root().Name+" "); ok {
		return name
	}
	return cmd.FullName()
}
