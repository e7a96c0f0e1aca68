// Command demo is `make demo`: it makes two hosts in network namespaces of
// its own, gives the local one a CLOSE-WAIT leak, TIME-WAIT sockets and
// healthy connections, and shows tcpreap listing and reaping them, then that
// the healthy connections survived. It removes everything when it ends.
//
// Every run that destroys writes an audit line to syslog; the demo's go to a
// socket of its own (TCPREAP_SYSLOG_SOCKET), not to the machine's log, and it
// prints them at the end: the demo runs where there may be no system logger,
// and its namespaces are gone when it ends.
package main

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

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
	log, err := listenSyslog()
	if err != nil {
		return err
	}
	defer log.Close()
	n, err := testnet.Setup()
	if err != nil {
		return err
	}
	defer n.Close()
	fmt.Printf("Two hosts in network namespaces of their own: %s (192.0.2.1, where tcpreap runs) and %s (192.0.2.2).\n",
		n.Local.Name, n.Peer.Name)

	// A service on 5432 whose application leaks: it never closes the
	// connections its clients have closed, which sit in CLOSE-WAIT.
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
	// Outgoing connections that the local host closed first: TIME-WAIT.
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
		{"Reap the CLOSE-WAIT leak of the postgresql service, by its name in /etc/services:", "--state close_wait --port postgresql"},
		{"Free the TIME-WAIT ports (Linux 6.0 and later):", "--state time_wait"},
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
	fmt.Printf("\nThe %d healthy connections still carry data.\n", len(healthy))
	fmt.Printf("\nThe audit line each destroying run wrote (to syslog, authpriv.notice; here to the demo's own socket):\n")
	for _, line := range log.Lines() {
		fmt.Println(line)
	}
	fmt.Println("\nRemoving the namespaces.")
	return nil
}

// syslog is a unix datagram socket of the demo's own that tcpreap's audit
// lines go to, in a directory of its own.
type syslog struct {
	dir  string
	conn *net.UnixConn
}

// listenSyslog opens the demo's syslog socket and points
// TCPREAP_SYSLOG_SOCKET at it for every tcpreap the demo runs.
func listenSyslog() (*syslog, error) {
	dir, err := os.MkdirTemp("", "tcpreap-demo")
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "syslog")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	os.Setenv("TCPREAP_SYSLOG_SOCKET", path)
	return &syslog{dir: dir, conn: conn}, nil
}

// Lines reads the lines the socket holds: tcpreap has written its line
// before it exits, so the line of every run that returned is queued.
func (s *syslog) Lines() []string {
	var lines []string
	buf := make([]byte, 8192)
	for {
		_ = s.conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		n, err := s.conn.Read(buf)
		if err != nil {
			return lines
		}
		lines = append(lines, strings.TrimRight(string(buf[:n]), "\n"))
	}
}

// Close closes the socket and removes its directory.
func (s *syslog) Close() error {
	return errors.Join(s.conn.Close(), os.RemoveAll(s.dir))
}
