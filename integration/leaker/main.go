// Command leaker is the application with a CLOSE_WAIT leak that the owner tests run (not
// tcpreap): it listens on ADDR, accepts every connection and never reads or closes it,
// so each connection its peer closes stays in CLOSE_WAIT, held by this process. It
// prints "listening" on stdout once it listens, and runs until it is killed.
//
// Usage: leaker ADDR
package main

import (
	"fmt"
	"net"
	"os"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: leaker ADDR")
		os.Exit(2)
	}
	l, err := net.Listen("tcp", os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "leaker:", err)
		os.Exit(1)
	}
	fmt.Println("listening")
	held := map[net.Conn]bool{} // the leak: never closed
	for {
		c, err := l.Accept()
		if err != nil {
			fmt.Fprintln(os.Stderr, "leaker:", err, len(held))
			os.Exit(1)
		}
		held[c] = true
	}
}
