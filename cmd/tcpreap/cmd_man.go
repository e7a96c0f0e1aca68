package main

import (
	"context"
	"fmt"

	"github.com/urfave/cli/v3"
)

// manCommand is tcpreap man, hidden: the manual page that make install
// installs, written from root's command tree.
func manCommand(root *cli.Command, args []string, io streams) *cli.Command {
	c := &command{}
	return &cli.Command{
		Name:   "man",
		Hidden: true,
		Usage:  "write the manual page tcpreap(8), in roff, on stdout",
		Description: `Writes the manual page tcpreap(8) on stdout, made from the commands' own help: every
command, option and example. make install installs it.

Examples:
  tcpreap man | man -l -                       read it
  tcpreap man | gzip -9n > tcpreap.8.gz        as make install installs it`,
		Action: action(c, args, func(context.Context) error {
			if len(c.words) > 0 {
				return usagef("man takes no arguments: %q", c.words[0])
			}
			_, err := fmt.Fprint(io.Out, manPage(root))
			return err
		}),
	}
}
