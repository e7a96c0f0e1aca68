package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/urfave/cli/v3"

	"github.com/tcpreap/tcpreap/cmd/tcpreap/internal/clidoc"
	"github.com/tcpreap/tcpreap/flows"
	"github.com/tcpreap/tcpreap/sockdiag"
)

// completionCommand is tcpreap completion SHELL: the shell's completion
// script, written from root's command tree.
func completionCommand(root *cli.Command, args []string, io streams) *cli.Command {
	c := &command{}
	names := clidoc.Shells()
	return &cli.Command{
		Name:      "completion",
		Usage:     "write the completion script of a shell (" + strings.Join(names, ", ") + ")",
		ArgsUsage: "SHELL",
		Description: `Writes the script that completes tcpreap's commands, options, --state
values, and the namespaces and interfaces of --netns and --interface in
SHELL: one of ` + strings.Join(names, ", ") + `. The packages and make install put them
where each shell finds them; for a tcpreap of your own, load them as below.

Examples:
  # in ~/.bashrc
  source <(tcpreap completion bash)
  # with ~/.zfunc in $fpath
  tcpreap completion zsh > ~/.zfunc/_tcpreap
  tcpreap completion fish > ~/.config/fish/completions/tcpreap.fish`,
		Action: action(c, args, func(context.Context) error {
			if len(c.words) != 1 {
				return usagef("completion takes one shell: %s", strings.Join(names, ", "))
			}
			script, ok := clidoc.Completion(root, c.words[0], completionWords)
			if !ok {
				return usagef("completion: unknown shell %q; tcpreap writes completions for %s", c.words[0], strings.Join(names, ", "))
			}
			_, err := fmt.Fprint(io.Out, script)
			return err
		}),
	}
}

// completionWords are what the scripts offer besides the command tree: the
// values of each --state, completion's shells, and the namespaces and
// interfaces the shell lists for --netns and --interface.
var completionWords = clidoc.Words{
	Values: map[string][]string{
		"tcpreap --state":           sockdiag.StateWords(),
		"tcpreap conntrack --state": conntrackStateWords(),
	},
	Args: map[string][]string{"completion": clidoc.Shells()},
	Lists: map[string]clidoc.List{
		"tcpreap --netns":     clidoc.Namespaces,
		"tcpreap --interface": clidoc.Interfaces,
	},
}

// conntrackStateWords are the words tcpreap conntrack --state takes.
func conntrackStateWords() []string {
	var words []string
	for s := flows.SynSent; s <= flows.SynSent2; s++ {
		words = append(words, s.String())
	}
	return append(words, "all")
}
