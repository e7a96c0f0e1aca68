// Command demo is `make demo`: it makes two hosts in network namespaces of
// its own, gives the local one a CLOSE_WAIT leak, TIME_WAIT sockets and
// healthy connections, and shows tcpreap listing and reaping them, then that
// the healthy connections survived. It removes everything when it ends.
package main

import (
	"fmt"
	"net/netip"
	"os"
	"strings"

	"github.com/tcpreap/tcpreap/integration/testnet"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: demo PATH-TO-TCPREAP")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintf(os.Stderr, "demo: %v\n", err)
		os.Exit(1)
	}
}

func run(bin string) error {
	if err := testnet.CheckRoot(); err != nil {
		return fmt.Errorf("%v: the demo makes network namespaces (try sudo make demo)", err)
	}
	n, err := testnet.Setup()
	if err != nil {
		return err
	}
	defer n.Close()
	fmt.Printf("Two hosts in network namespaces of their own: %s (192.0.2.1, where tcpreap runs) and %s (192.0.2.2).\n",
		n.Local.Name, n.Peer.Name)

	// A service on 5432 whose application leaks: it never closes the
	// connections its clients have closed, which sit in CLOSE_WAIT.
	db, err := n.Listen(n.Local, netip.MustParseAddrPort("192.0.2.1:5432"))
	if err != nil {
		return err
	}
	var healthy []testnet.Pair
	for i := range 5 {
		p, err := n.Inbound(db, netip.AddrPortFrom(testnet.PeerV4, 0))
		if err != nil {
			return err
		}
		if i < 3 {
			if err := n.CloseWait(p); err != nil {
				return err
			}
			continue
		}
		healthy = append(healthy, p)
	}
	// Outgoing connections that the local host closed first: TIME_WAIT.
	web, err := n.Listen(n.Peer, netip.MustParseAddrPort("192.0.2.2:80"))
	if err != nil {
		return err
	}
	for range 2 {
		p, err := n.Outbound(web)
		if err != nil {
			return err
		}
		if err := n.TimeWait(p); err != nil {
			return err
		}
	}

	steps := []struct{ say, args string }{
		{"What is there (list destroys nothing):", "list --state all"},
		{"Reap the CLOSE_WAIT leak of the postgresql service, by its name in /etc/services:", "--state close_wait --port postgresql"},
		{"Free the TIME_WAIT ports (Linux 6.0 and later):", "--state time_wait"},
		{"What is left:", "list --state all"},
	}
	for _, s := range steps {
		fmt.Printf("\n%s\n$ tcpreap %s\n", s.say, s.args)
		res, err := n.Local.Run(append([]string{bin}, strings.Fields(s.args)...)...)
		if err != nil {
			return err
		}
		fmt.Print(res.Stdout, res.Stderr)
		if res.Code != 0 {
			return fmt.Errorf("tcpreap %s exited %d", s.args, res.Code)
		}
	}
	for _, p := range healthy {
		if err := testnet.Echo(p); err != nil {
			return fmt.Errorf("a healthy connection did not survive: %v", err)
		}
	}
	fmt.Printf("\nThe %d healthy connections still carry data. Removing the namespaces.\n", len(healthy))
	return nil
}
