package clidoc

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v3"
)

// The completion scripts are written from the command tree, like the
// manual, and complete without running tcpreap: commands, their options,
// the values of --state, and the network namespaces and interfaces of this
// host (urfave/cli's own scripts run the program, under eval, on every Tab,
// and know no option values).

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

// Shells are the shells Completion writes scripts for.
func Shells() []string {
	var names []string
	for _, s := range shells {
		names = append(names, s.name)
	}
	return names
}

// Words are what a shell offers that the command tree does not say: the
// words an option's value may be, by command line and option name
// ("tcpreap --state", "tcpreap conntrack --state"), and the words a
// command's arguments may be, by command name ("completion"). A command's
// option takes the values of the nearest of its own command line's prefixes
// that names them ("tcpreap list --state" takes "tcpreap --state"'s,
// "tcpreap conntrack list --state" conntrack's own).
type Words struct {
	Values map[string][]string
	Args   map[string][]string
	Lists  map[string]List // the options whose values the shell lists as it completes
}

// A List is what a shell lists, as it completes, for an option's value.
type List string

const (
	// Namespaces are the names of ip netns (/run/netns), and pid:.
	Namespaces List = "netns"
	// Interfaces are the network interfaces of the namespace the command
	// line names with --netns (a name, pid:PID or /proc/PID/ns/net), or of
	// the shell's.
	Interfaces List = "interfaces"
)

// Completion is the completion script of the command tree root for shell,
// one of Shells; false for another.
func Completion(root *cli.Command, shell string, words Words) (string, bool) {
	for _, s := range shells {
		if s.name == shell {
			return s.script(completables(root, words)), true
		}
	}
	return "", false
}

// A completable is what a shell completes of one command.
type completable struct {
	names       []string // the command's name and aliases; none for tcpreap itself
	parent      []string // the names of the command it is a command of (conntrack), or none
	subcommands []string // the names and aliases of its own commands (conntrack list), or none
	usage       string
	flags       []completableFlag
	args        []string // words its arguments are, or none
	files       bool     // its argument is a file
	peers       bool     // its arguments are PEERs: host names or addresses
}

type completableFlag struct {
	names       []string // as typed: "--state", "-t"
	usage       string   // its first clause
	placeholder string   // its value's ("S[,S]"), or "" for a switch
	values      []string // the words of a comma-separated value, or none
	list        List     // what the shell lists for its value, or ""
	repeatable  bool
}

// valuesOf is the words the option flag of the command typed as path takes
// (tcpreap conntrack list), or none.
func (w Words) valuesOf(path []string, flag string) []string { return nearest(w.Values, path, flag) }

// listOf is what the shell lists for the option flag of the command typed
// as path, or "".
func (w Words) listOf(path []string, flag string) List { return nearest(w.Lists, path, flag) }

// nearest is m's value for the option flag of the nearest of path's
// prefixes that has one.
func nearest[V any](m map[string]V, path []string, flag string) V {
	for i := len(path); i > 0; i-- {
		if v, ok := m[strings.Join(path[:i], " ")+" --"+flag]; ok {
			return v
		}
	}
	var none V
	return none
}

// completables reads the command tree: the root first, then every visible
// command, each followed by its own commands. The scripts know commands two
// deep (tcpreap conntrack list), as the tree has them.
func completables(root *cli.Command, words Words) []completable {
	var out []completable
	for _, c := range manCommands(root) {
		cc := completable{usage: c.Usage, args: words.Args[c.Name],
			files: strings.Contains(c.ArgsUsage, "FILE"), peers: strings.Contains(c.ArgsUsage, "PEER")}
		if len(c.path) > 1 {
			cc.names = append([]string{c.Name}, c.Aliases...)
		}
		if len(c.path) == 3 {
			for i := range out {
				if len(out[i].names) > 0 && out[i].names[0] == c.path[1] && out[i].parent == nil {
					cc.parent = out[i].names
					out[i].subcommands = append(out[i].subcommands, cc.names...)
				}
			}
		}
		for _, f := range c.Flags {
			placeholder, usage := flagDoc(f)
			cf := completableFlag{usage: firstClause(usage), placeholder: placeholder,
				values: words.valuesOf(c.path, f.Names()[0]), list: words.listOf(c.path, f.Names()[0])}
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

// commandWords is every name and alias of tcpreap's own commands.
func commandWords(commands []completable) []string {
	var words []string
	for _, c := range commands {
		if c.parent == nil {
			words = append(words, c.names...)
		}
	}
	return words
}

// typed is a command's key in the scripts: "list", "conntrack list".
func (c completable) typed() string {
	if c.parent != nil {
		return c.parent[0] + " " + c.names[0]
	}
	return strings.Join(c.names[:min(1, len(c.names))], "")
}

// bashCompletion needs no bash-completion functions: it reads COMP_WORDS
// itself, and leaves file names to bash (-o default) when it has nothing.
// (It runs under set -u.)
func bashCompletion(commands []completable) string {
	var b strings.Builder
	b.WriteString(`# bash completion for tcpreap(8); written by "tcpreap completion bash".
` + bashLists + `
_tcpreap() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
    if [[ $prev == = && $COMP_CWORD -gt 1 ]]; then
        prev=${COMP_WORDS[COMP_CWORD-2]}
        [[ $cur == = ]] && cur=
    fi
    local command=
    ((COMP_CWORD > 1)) && command=${COMP_WORDS[1]}
    if ((COMP_CWORD > 2)); then
        case $command in
`)
	for _, c := range commands[1:] {
		if c.parent != nil {
			continue
		}
		var subs []completable
		for _, s := range commands {
			if s.parent != nil && s.parent[0] == c.names[0] {
				subs = append(subs, s)
			}
		}
		if len(subs) == 0 {
			continue
		}
		fmt.Fprintf(&b, "        %s)\n            case ${COMP_WORDS[2]} in\n", strings.Join(c.names, "|"))
		for _, s := range subs {
			fmt.Fprintf(&b, "            %s) command=%s ;;\n", strings.Join(s.names, "|"), shellQuote(s.typed()))
		}
		b.WriteString("            esac\n            ;;\n")
	}
	b.WriteString(`        esac
    fi
    local flags valued args
    local -A values=() lists=()
    case $command in
`)
	for _, c := range commands[1:] {
		if c.parent != nil {
			fmt.Fprintf(&b, "    %s)\n", shellQuote(c.typed()))
		} else {
			fmt.Fprintf(&b, "    %s)\n", strings.Join(c.names, "|"))
		}
		bashCommandVars(&b, c)
		if len(c.subcommands) > 0 {
			fmt.Fprintf(&b, "        ((COMP_CWORD == 2)) && args=%s\n", shellQuote(strings.Join(c.subcommands, " ")))
		}
		b.WriteString("        ;;\n")
	}
	b.WriteString("    *)\n")
	bashCommandVars(&b, commands[0])
	fmt.Fprintf(&b, "        ((COMP_CWORD == 1)) && args=%s\n", shellQuote(strings.Join(commandWords(commands), " ")))
	b.WriteString(`        ;;
    esac
    COMPREPLY=()
    case " $valued " in
    *" $prev "*)
        if [[ -v values[$prev] ]]; then
            COMPREPLY=($(compgen -P "${cur%"${cur##*,}"}" -W "${values[$prev]}" -- "${cur##*,}"))
        elif [[ -v lists[$prev] ]]; then
            COMPREPLY=($(compgen -W "$(_tcpreap_${lists[$prev]})" -- "$cur"))
            # pid: is the start of a value, not all of it.
            [[ ${#COMPREPLY[@]} == 1 && ${COMPREPLY[0]} == *: ]] && compopt -o nospace 2>/dev/null
        fi
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

// bashCommandVars sets, for one command, its options (flags), those that
// take a value (valued), the words of those values (values, by option),
// what is listed for a value (lists, by option) and the words of its
// arguments (args).
func bashCommandVars(b *strings.Builder, c completable) {
	var valued, values, lists []string
	for _, f := range c.flags {
		if f.placeholder != "" {
			valued = append(valued, f.names...)
		}
		if f.list != "" {
			for _, n := range f.names {
				lists = append(lists, "["+n+"]="+string(f.list))
			}
		}
		if len(f.values) > 0 {
			for _, n := range f.names {
				values = append(values, "["+n+"]="+shellQuote(strings.Join(f.values, " ")))
			}
		}
	}
	fmt.Fprintf(b, "        flags=%s\n", shellQuote(strings.Join(c.flagWords(), " ")))
	fmt.Fprintf(b, "        valued=%s\n", shellQuote(strings.Join(valued, " ")))
	fmt.Fprintf(b, "        args=%s\n", shellQuote(strings.Join(c.args, " ")))
	if len(values) > 0 {
		fmt.Fprintf(b, "        values=(%s)\n", strings.Join(values, " "))
	}
	if len(lists) > 0 {
		fmt.Fprintf(b, "        lists=(%s)\n", strings.Join(lists, " "))
	}
}

// zshCompletion is an autoloaded function (#compdef) for a directory of
// $fpath; sourced, it defines _tcpreap and registers it with compdef.
func zshCompletion(commands []completable) string {
	var b strings.Builder
	b.WriteString(`#compdef tcpreap
# zsh completion for tcpreap(8); written by "tcpreap completion zsh".
` + zshLists + `
_tcpreap() {
    local -a commands
    commands=(
`)
	for _, c := range commands[1:] {
		if c.parent == nil {
			zshDescriptions(&b, c)
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
		if c.parent != nil {
			continue
		}
		fmt.Fprintf(&b, "    %s)\n", strings.Join(c.names, "|"))
		b.WriteString("        shift words\n        ((CURRENT--))\n")
		if len(c.subcommands) == 0 {
			zshArguments(&b, c)
			b.WriteString("        ;;\n")
			continue
		}
		// A command of commands (conntrack): its commands, or its own
		// options and PEERs.
		b.WriteString("        local -a subcommands\n        subcommands=(\n")
		for _, s := range commands {
			if s.parent != nil && s.parent[0] == c.names[0] {
				zshDescriptions(&b, s)
			}
		}
		fmt.Fprintf(&b, "        )\n        if ((CURRENT == 2)) && [[ $words[CURRENT] != -* ]]; then\n"+
			"            _describe -t commands %s subcommands\n        fi\n        case $words[2] in\n", shellQuote("tcpreap "+c.names[0]+" command"))
		for _, s := range commands {
			if s.parent != nil && s.parent[0] == c.names[0] {
				fmt.Fprintf(&b, "        %s)\n            shift words\n            ((CURRENT--))\n", strings.Join(s.names, "|"))
				var args strings.Builder
				zshArguments(&args, s)
				b.WriteString("    " + strings.ReplaceAll(args.String(), "\n        ", "\n            "))
				b.WriteString("            ;;\n")
			}
		}
		b.WriteString("        *)\n    ")
		var args strings.Builder
		zshArguments(&args, c)
		b.WriteString(strings.ReplaceAll(args.String(), "\n        ", "\n            "))
		b.WriteString("            ;;\n        esac\n        ;;\n")
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

// zshDescriptions writes a command's names, each with its usage, for
// _describe.
func zshDescriptions(b *strings.Builder, c completable) {
	for _, n := range c.names {
		fmt.Fprintf(b, "        %s\n", shellQuote(n+":"+strings.ReplaceAll(c.usage, ":", `\:`)))
	}
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
			switch {
			case len(f.values) > 0:
				action += "_sequence compadd - " + strings.Join(f.values, " ")
			case f.list != "":
				action += "_tcpreap_" + string(f.list)
			default:
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
// command (or the root) the command line's first words name.
func fishCompletion(commands []completable) string {
	var b strings.Builder
	words := strings.Join(commandWords(commands), " ")
	b.WriteString(`# fish completion for tcpreap(8); written by "tcpreap completion fish".
` + fishLists + `
# __tcpreap_command COMMAND...: the command the command line's first words
# type is one of COMMANDs ("list", "conntrack list"); with none, it is no
# command (options and PEERs of tcpreap itself).
function __tcpreap_command
    set -l words (commandline -opc)
    set -l command
`)
	fmt.Fprintf(&b, "    if contains -- \"$words[2]\" %s\n        set command $words[2]\n", words)
	for _, c := range commands[1:] {
		if len(c.subcommands) == 0 {
			continue
		}
		fmt.Fprintf(&b, "        if contains -- \"$words[2]\" %s; and contains -- \"$words[3]\" %s\n", strings.Join(c.names, " "), strings.Join(c.subcommands, " "))
		b.WriteString("            set command \"$words[2] $words[3]\"\n        end\n")
	}
	b.WriteString(`    end
    if test (count $argv) -eq 0
        test -z "$command"
        return
    end
    contains -- "$command" $argv
end

complete -c tcpreap -f
`)
	for _, c := range commands[1:] {
		cond := "test (count (commandline -opc)) -eq 1"
		if c.parent != nil {
			cond = "__tcpreap_command " + strings.Join(c.parent, " ") + "; and test (count (commandline -opc)) -eq 2"
		}
		for _, n := range c.names {
			fmt.Fprintf(&b, "complete -c tcpreap -n %s -a %s -d %s\n", fishQuote(cond), n, fishQuote(c.usage))
		}
	}
	for _, c := range commands {
		var typed []string
		for _, n := range c.names {
			if c.parent == nil {
				typed = append(typed, n)
				continue
			}
			for _, p := range c.parent {
				typed = append(typed, fishQuote(p+" "+n))
			}
		}
		cond := strings.TrimSpace("__tcpreap_command " + strings.Join(typed, " "))
		for _, f := range c.flags {
			line := "complete -c tcpreap -n " + fishQuote(cond)
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
				if f.list != "" {
					line += " -a " + fishQuote("(__tcpreap_"+string(f.list)+")")
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
