package main

import (
	"bufio"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// batchSize is how many connections a worker opens before it accepts them: fewer than
// a listener's backlog, so that no SYN is dropped (a dropped SYN costs a one-second
// retransmission).
const batchSize = 1000

// timeout bounds each blocking accept and read of a worker (SO_RCVTIMEO) and each
// connect interrupted by a signal.
const timeout = 20 // seconds

// runWorker is a worker process, started by build in the population's namespace as
// `bench worker INDEX WORKERS ESTABLISHED CLOSE_WAIT TIME_WAIT`. It makes its share of
// the listeners and the held connections and says "held" on stdout; on "timewait" from
// stdin it makes its share of the TIME_WAIT sockets and says "ready"; then it holds its
// sockets until stdin closes or it is killed. A failure is one line "error: …".
func runWorker(args []string) {
	err := worker(args)
	if err != nil {
		fmt.Printf("error: %v\n", err)
		os.Exit(1)
	}
}

func worker(args []string) error {
	var n [5]int
	if len(args) != len(n) {
		return errors.New("usage: bench worker INDEX WORKERS ESTABLISHED CLOSE_WAIT TIME_WAIT")
	}
	for i, a := range args {
		var err error
		if n[i], err = strconv.Atoi(a); err != nil {
			return err
		}
	}
	w, s := n[0], shape{workers: n[1], established: n[2], closeWait: n[3], timeWait: n[4]}
	// One process may hold only RLIMIT_NOFILE files: the soft limit goes up to the hard
	// one, which must hold this worker's share.
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return err
	}
	lim.Cur = lim.Max
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return err
	}
	if need := s.heldFiles(); uint64(need) > lim.Max {
		return fmt.Errorf("a worker needs %d files, the hard limit (ulimit -Hn) is %d: use more workers", need, lim.Max)
	}
	var listeners [timeWait + 1]int
	for k := range listeners {
		fd, err := listen(listener(kind(k), w))
		if err != nil {
			return err
		}
		listeners[k] = fd
	}
	// Both ends of every held connection close with a reset (SO_LINGER 0), so that a
	// killed worker's sockets go at once instead of through FIN_WAIT and TIME_WAIT.
	for _, c := range chunks(s.conns(established, w)) {
		if _, _, err := connectAll(listeners[established], c, true); err != nil {
			return err
		}
	}
	for _, c := range chunks(s.conns(closeWait, w)) {
		clients, _, err := connectAll(listeners[closeWait], c, true)
		if err != nil {
			return err
		}
		// The client's FIN: the server end goes to CLOSE_WAIT, the client's to FIN_WAIT2
		// once the FIN is acked, where it stays as long as it is held.
		for _, fd := range clients {
			if err := unix.Shutdown(fd, unix.SHUT_WR); err != nil {
				return fmt.Errorf("shutdown: %w", err)
			}
		}
	}
	fmt.Println("held")
	commands := bufio.NewReader(os.Stdin)
	if line, _ := commands.ReadString('\n'); strings.TrimSpace(line) != "timewait" {
		return fmt.Errorf("got %q, want timewait", line)
	}
	for _, c := range chunks(s.conns(timeWait, w)) {
		if err := timeWaitAll(listeners[timeWait], c); err != nil {
			return err
		}
	}
	fmt.Println("ready")
	commands.ReadString('\n') // until stdin closes
	return nil
}

// timeWaitAll makes the connections cs and closes each server end first, then, once its
// FIN has arrived, the client's: the server end is left in TIME_WAIT, the client's
// goes through LAST_ACK to nothing. Closing the client before the FIN arrives would be a
// simultaneous close, which leaves both ends in TIME_WAIT.
func timeWaitAll(l int, cs []conn) error {
	clients, servers, err := connectAll(l, cs, false)
	if err != nil {
		return err
	}
	for _, fd := range servers {
		unix.Close(fd)
	}
	buf := make([]byte, 1)
	for _, fd := range clients {
		for {
			n, err := unix.Read(fd, buf)
			if err == unix.EINTR {
				continue
			}
			if err != nil || n != 0 {
				return fmt.Errorf("waiting for the server's FIN: read %d bytes, %v", n, err)
			}
			break
		}
		unix.Close(fd)
	}
	return nil
}

// connectAll connects a client socket, bound to its address, to l for each of cs, then
// accepts as many connections from l, and returns both ends. With reset, both ends close
// with a reset.
func connectAll(l int, cs []conn, reset bool) (clients, servers []int, err error) {
	for _, c := range cs {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return nil, nil, fmt.Errorf("socket: %w", err)
		}
		if err := setup(fd, reset); err != nil {
			return nil, nil, err
		}
		if err := unix.Bind(fd, sockaddr(c.client)); err != nil {
			return nil, nil, fmt.Errorf("bind %s: %w", c.client, err)
		}
		if err := connect(fd, sockaddr(c.server)); err != nil {
			return nil, nil, fmt.Errorf("connect %s to %s: %w", c.client, c.server, err)
		}
		clients = append(clients, fd)
	}
	for range cs {
		fd, _, err := unix.Accept4(l, unix.SOCK_CLOEXEC)
		for err == unix.EINTR {
			fd, _, err = unix.Accept4(l, unix.SOCK_CLOEXEC)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("accept: %w", err)
		}
		if err := setup(fd, reset); err != nil {
			return nil, nil, err
		}
		servers = append(servers, fd)
	}
	return clients, servers, nil
}

// connect is a blocking connect(2) that also waits out one interrupted by a signal.
func connect(fd int, sa unix.Sockaddr) error {
	err := unix.Connect(fd, sa)
	if err != unix.EINTR && err != unix.EALREADY {
		return err
	}
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
	for {
		n, err := unix.Poll(fds, timeout*1000)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if n == 0 {
			return unix.ETIMEDOUT
		}
		soerr, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
		if err != nil {
			return err
		}
		if soerr != 0 {
			return unix.Errno(soerr)
		}
		return nil
	}
}

// setup makes fd close with a reset if reset (a held socket), else gives its accepts and
// reads a timeout.
func setup(fd int, reset bool) error {
	if reset {
		return unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0})
	}
	tv := unix.Timeval{Sec: timeout}
	return unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
}

func listen(addr netip.AddrPort) (int, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	if err := setup(fd, false); err != nil {
		return -1, err
	}
	if err := unix.Bind(fd, sockaddr(addr)); err != nil {
		return -1, fmt.Errorf("bind %s: %w", addr, err)
	}
	if err := unix.Listen(fd, 2*batchSize); err != nil {
		return -1, fmt.Errorf("listen %s: %w", addr, err)
	}
	return fd, nil
}

func sockaddr(a netip.AddrPort) unix.Sockaddr {
	return &unix.SockaddrInet4{Addr: a.Addr().As4(), Port: int(a.Port())}
}

func chunks(cs []conn) [][]conn {
	var out [][]conn
	for len(cs) > 0 {
		k := min(batchSize, len(cs))
		out = append(out, cs[:k])
		cs = cs[k:]
	}
	return out
}
