package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/urfave/cli/v3"

	"github.com/tcpreap/tcpreap/sockdiag"
)

// The completion scripts are written from the command tree, like the
// manual, and complete without running tcpreap: commands, their options and
// the values of --state (urfave/cli's own scripts run the program, under
// eval, on every Tab, and know no option values).

// shells are the shells tcpreap writes completions for, each with its
// script's writer.
var shells = []struct {
	name   string
	script func(commands []completable) string
}{
	{"bash", bashCompletion},
	{"zsh", zshCompletion},
	{"fish", fishCompletion},
}

func shellNames() []string {
	var names []string
	for _, s := range shells {
		names = append(names, s.name)
	}
	return names
}

// completionScript is the completion of the command tree root for shell.
func completionScript(root *cli.Command, shell string) (string, bool) {
	for _, s := range shells {
		if s.name == shell {
			return s.script(completables(root)), true
		}
	}
	return "", false
}

// A completable is what a shell completes of one command.
type completable struct {
	names []string // the command's name and aliases; none for tcpreap itself
	usage string
	flags []completableFlag
	args  []string // words its arguments are, or none
	files bool     // its argument is a file
	peers bool     // its arguments are PEERs: host names or addresses
}

type completableFlag struct {
	names       []string // as typed: "--state", "-t"
	usage       string   // its first clause
	placeholder string   // its value's ("S[,S]"), or "" for a switch
	values      []string // the words of a comma-separated value, or none
	repeatable  bool
}

// flagValues are the words an option's value may be, by option name.
var flagValues = map[string][]string{"state": sockdiag.StateWords()}

// commandArgs are the words a command's arguments may be, by command name.
var commandArgs = map[string][]string{"completion": shellNames()}

// completables reads the command tree: the root first, then every visible
// command.
func completables(root *cli.Command) []completable {
	var out []completable
	for _, c := range manCommands(root) {
		cc := completable{usage: c.Usage, args: commandArgs[c.Name],
			files: strings.Contains(c.ArgsUsage, "FILE"), peers: strings.Contains(c.ArgsUsage, "PEER")}
		if c != root {
			cc.names = append([]string{c.Name}, c.Aliases...)
		}
		for _, f := range c.Flags {
			placeholder, usage := flagDoc(f)
			cf := completableFlag{usage: firstClause(usage), placeholder: placeholder, values: flagValues[f.Names()[0]]}
			if multi, ok := f.(cli.DocGenerationMultiValueFlag); ok {
				cf.repeatable = multi.IsMultiValueFlag()
			}
			for _, n := range f.Names() {
				cf.names = append(cf.names, dashes(n))
			}
			cc.flags = append(cc.flags, cf)
		}
		out = append(out, cc)
	}
	return out
}

// firstClause shortens an option's usage to what fits beside it in a
// shell's list: without the default or a closing aside in parentheses, and
// a long list after a colon ("states S[,S]: established …") cut off.
func firstClause(usage string) string {
	if i := strings.LastIndex(usage, " ("); i > 0 && strings.HasSuffix(usage, ")") {
		usage = usage[:i]
	}
	if head, _, ok := strings.Cut(usage, ": "); ok && len(usage) > 60 {
		usage = head
	}
	return usage
}

func (c completable) flagWords() []string {
	var words []string
	for _, f := range c.flags {
		words = append(words, f.names...)
	}
	return words
}

// commandWords is every command name and alias.
func commandWords(commands []completable) []string {
	var words []string
	for _, c := range commands {
		words = append(words, c.names...)
	}
	return words
}

// bashCompletion needs no bash-completion functions: it reads COMP_WORDS
// itself, and leaves file names to bash (-o default) when it has nothing.
func bashCompletion(commands []completable) string {
	var b strings.Builder
	b.WriteString(`# bash completion for tcpreap(8); written by "tcpreap completion bash".
_tcpreap() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
    if [[ $prev == = && $COMP_CWORD -gt 1 ]]; then
        prev=${COMP_WORDS[COMP_CWORD-2]}
        [[ $cur == = ]] && cur=
    fi
    local command=
    ((COMP_CWORD > 1)) && command=${COMP_WORDS[1]}
    local flags valued args
    case $command in
`)
	for _, c := range commands[1:] {
		fmt.Fprintf(&b, "    %s)\n", strings.Join(c.names, "|"))
		bashCommandVars(&b, c)
	}
	b.WriteString("    *)\n")
	bashCommandVars(&b, commands[0])
	fmt.Fprintf(&b, "        ((COMP_CWORD == 1)) && args=%s\n", shellQuote(strings.Join(commandWords(commands), " ")))
	b.WriteString(`        ;;
    esac
    COMPREPLY=()
    case " $valued " in
    *" $prev "*)
        case $prev in
`)
	for _, f := range valuedFlags(commands) {
		fmt.Fprintf(&b, "        %s)\n", strings.Join(f.names, "|"))
		fmt.Fprintf(&b, "            COMPREPLY=($(compgen -P \"${cur%%\"${cur##*,}\"}\" -W %s -- \"${cur##*,}\"))\n", shellQuote(strings.Join(f.values, " ")))
		b.WriteString("            ;;\n")
	}
	b.WriteString(`        esac
        return
        ;;
    esac
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$flags" -- "$cur"))
    elif [[ -n $args ]]; then
        COMPREPLY=($(compgen -W "$args" -- "$cur"))
    fi
}
complete -o default -F _tcpreap tcpreap
`)
	return b.String()
}

func bashCommandVars(b *strings.Builder, c completable) {
	var valued []string
	for _, f := range c.flags {
		if f.placeholder != "" {
			valued = append(valued, f.names...)
		}
	}
	fmt.Fprintf(b, "        flags=%s\n", shellQuote(strings.Join(c.flagWords(), " ")))
	fmt.Fprintf(b, "        valued=%s\n", shellQuote(strings.Join(valued, " ")))
	fmt.Fprintf(b, "        args=%s\n", shellQuote(strings.Join(c.args, " ")))
	if c.names != nil {
		b.WriteString("        ;;\n")
	}
}

// valuedFlags are the options, of any command, whose values are words to
// complete, each once.
func valuedFlags(commands []completable) []completableFlag {
	var out []completableFlag
	for _, c := range commands {
		for _, f := range c.flags {
			if len(f.values) > 0 && !slices.ContainsFunc(out, func(o completableFlag) bool { return slices.Equal(o.names, f.names) }) {
				out = append(out, f)
			}
		}
	}
	return out
}

// zshCompletion is an autoloaded function (#compdef) for a directory of
// $fpath; sourced, it defines _tcpreap and registers it with compdef.
func zshCompletion(commands []completable) string {
	var b strings.Builder
	b.WriteString(`#compdef tcpreap
# zsh completion for tcpreap(8); written by "tcpreap completion zsh".

_tcpreap() {
    local -a commands
    commands=(
`)
	for _, c := range commands[1:] {
		for _, n := range c.names {
			fmt.Fprintf(&b, "        %s\n", shellQuote(n+":"+strings.ReplaceAll(c.usage, ":", `\:`)))
		}
	}
	b.WriteString(`    )
    if ((CURRENT == 2)) && [[ $words[CURRENT] != -* ]]; then
        _describe -t commands 'tcpreap command' commands
        _hosts
        return
    fi
    case $words[2] in
`)
	for _, c := range commands[1:] {
		fmt.Fprintf(&b, "    %s)\n", strings.Join(c.names, "|"))
		b.WriteString("        shift words\n        ((CURRENT--))\n")
		zshArguments(&b, c)
		b.WriteString("        ;;\n")
	}
	b.WriteString("    *)\n")
	zshArguments(&b, commands[0])
	b.WriteString(`        ;;
    esac
}

if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
    _tcpreap "$@"
else
    compdef _tcpreap tcpreap
fi
`)
	return b.String()
}

// zshArguments is one command's _arguments call: its options, each once
// unless it may be repeated, and what its arguments are.
func zshArguments(b *strings.Builder, c completable) {
	b.WriteString("        _arguments -s -S")
	for _, f := range c.flags {
		desc := "[" + strings.NewReplacer("[", `\[`, "]", `\]`).Replace(f.usage) + "]"
		action := ""
		if f.placeholder != "" {
			action = ":" + strings.ReplaceAll(f.placeholder, ":", `\:`) + ":"
			if len(f.values) > 0 {
				action += "_sequence compadd - " + strings.Join(f.values, " ")
			} else {
				action += " "
			}
		}
		exclusive := "(" + strings.Join(f.names, " ") + ")"
		if f.repeatable {
			exclusive = "*"
		}
		for _, n := range f.names {
			spec := exclusive + n
			if f.placeholder != "" && len(n) > 2 {
				spec += "="
			}
			fmt.Fprintf(b, " \\\n            %s", shellQuote(spec+desc+action))
		}
	}
	switch {
	case len(c.args) > 0:
		fmt.Fprintf(b, " \\\n            %s", shellQuote("1:argument:("+strings.Join(c.args, " ")+")"))
	case c.files:
		fmt.Fprintf(b, " \\\n            %s", shellQuote("1:file:_files"))
	case c.peers:
		fmt.Fprintf(b, " \\\n            %s", shellQuote("*:peer:_hosts"))
	}
	b.WriteString("\n")
}

// fishCompletion registers every option of every command, each for the
// command (or the root) the first word names.
func fishCompletion(commands []completable) string {
	var b strings.Builder
	words := strings.Join(commandWords(commands), " ")
	b.WriteString(`# fish completion for tcpreap(8); written by "tcpreap completion fish".

# __tcpreap_command NAME...: the command line's first word is one of NAMEs;
# with none, it is no command (options and PEERs of tcpreap itself).
function __tcpreap_command
    set -l words (commandline -opc)
    set -l first $words[2]
`)
	fmt.Fprintf(&b, "    if test (count $argv) -eq 0\n        not contains -- \"$first\" %s\n        return\n    end\n", words)
	b.WriteString(`    contains -- "$first" $argv
end

complete -c tcpreap -f
`)
	for _, c := range commands[1:] {
		for _, n := range c.names {
			fmt.Fprintf(&b, "complete -c tcpreap -n 'test (count (commandline -opc)) -eq 1' -a %s -d %s\n", n, fishQuote(c.usage))
		}
	}
	for _, c := range commands {
		cond := "__tcpreap_command " + strings.Join(c.names, " ")
		for _, f := range c.flags {
			line := "complete -c tcpreap -n " + fishQuote(strings.TrimSpace(cond))
			for _, n := range f.names {
				if len(n) == 2 {
					line += " -s " + n[1:]
				} else {
					line += " -l " + n[2:]
				}
			}
			if f.placeholder != "" {
				line += " -x"
				if len(f.values) > 0 {
					line += " -a " + fishQuote("(__fish_complete_list , 'string split \" \" "+strings.Join(f.values, " ")+"')")
				}
			}
			b.WriteString(line + " -d " + fishQuote(f.usage) + "\n")
		}
		if len(c.args) > 0 {
			fmt.Fprintf(&b, "complete -c tcpreap -n %s -a %s\n", fishQuote(cond), fishQuote(strings.Join(c.args, " ")))
		}
		if c.files {
			fmt.Fprintf(&b, "complete -c tcpreap -n %s -F\n", fishQuote(cond))
		}
	}
	return b.String()
}

// shellQuote quotes a word for bash and zsh.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// fishQuote quotes a word for fish, whose single quotes take \' and \\.
func fishQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, "'", `\'`).Replace(s) + "'"
}
