package clidoc_test

import (
	"fmt"

	"github.com/urfave/cli/v3"

	"github.com/tcpreap/tcpreap/cmd/tcpreap/internal/clidoc"
)

// Options as the help shows them: names and value, then the usage in a
// column of its own, below names too long for it; a repeatable option says
// so once (…).
func ExampleFlagHelp() {
	fmt.Println(clidoc.FlagHelp(&cli.BoolFlag{Name: "tcp", Aliases: []string{"t"}, Usage: "TCP sockets (the default)"}))
	fmt.Println(clidoc.FlagHelp(&cli.StringSliceFlag{Name: "local-port", Aliases: []string{"sport"}, Usage: "local port `P[,P]`"}))
	// Output:
	// --tcp, -t                     TCP sockets (the default)
	// --local-port P[,P], --sport P[,P] …
	//                            local port P[,P]
}
