package main

import (
	"bufio"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// shape is a population: how many connections of each kind, held by how many worker
// processes. Every connection runs over loopback inside the population's namespace,
// from a client address in 127.0.0.0/8 bound to an explicit port to a worker's listener
// on 127.0.0.1, so two populations of one shape have exactly the same sockets: the same
// states and 4-tuples (only the cookies differ).
type shape struct {
	workers     int
	established int // connections whose two ends are ESTABLISHED
	closeWait   int // connections whose server end is in CLOSE_WAIT and client end in FIN_WAIT2
	timeWait    int // connections the server closed first: its end in TIME_WAIT, the client's gone
	// UDP conntrack entries (flows.go), no sockets: to the cut's target, to another
	// server. A shape has either sockets or flows.
	udpTarget, udpOther int
}

// flows reports whether s is a population of conntrack entries.
func (s shape) flows() bool { return s.udpTarget+s.udpOther > 0 }

// kind is one of the three kinds of connection, in the order they are made.
type kind int

const (
	established kind = iota
	closeWait
	timeWait
)

// conn is one connection of a population.
type conn struct{ client, server netip.AddrPort }

// The client addresses. ESTABLISHED and CLOSE_WAIT connections come from peers
// (127.1.0.1 and on), spread evenly, so one peer holds 1/peers of them; TIME_WAIT ones
// from 127.3.0.1 and on, timeWaitPerAddr each.
const (
	peers           = 80
	timeWaitPerAddr = 500
)

// peer is the first peer: the peer cut's PEER.
var peer = clientAddr(1, 0)

// clientAddr is the i-th address of 127.b.0.0/16, skipping .0 and the ones above .250 of
// every /24.
func clientAddr(b byte, i int) netip.Addr {
	return netip.AddrFrom4([4]byte{127, b, byte(i / 250), byte(i%250 + 1)})
}

// listener is worker w's listening address for connections of kind k:
// 127.0.0.1:5000+w, 6000+w and 7000+w.
func listener(k kind, w int) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), uint16(5000+1000*int(k)+w))
}

func (s shape) count(k kind) int {
	return [...]int{s.established, s.closeWait, s.timeWait}[k]
}

// conns are the connections of kind k that worker w makes: the i-th connection of a kind
// is worker i%workers's.
func (s shape) conns(k kind, w int) []conn {
	var cs []conn
	for i := w; i < s.count(k); i += s.workers {
		var client netip.AddrPort
		switch k {
		case established:
			client = netip.AddrPortFrom(clientAddr(1, i%peers), uint16(20000+i/peers))
		case closeWait:
			client = netip.AddrPortFrom(clientAddr(1, i%peers), uint16(21000+i/peers))
		case timeWait:
			client = netip.AddrPortFrom(clientAddr(3, i/timeWaitPerAddr), uint16(30000+i%timeWaitPerAddr))
		}
		cs = append(cs, conn{client, listener(k, w)})
	}
	return cs
}

// check reports a shape whose explicit client ports would collide or leave their range.
func (s shape) check() error {
	if s.flows() {
		if s.workers != 0 || s.udpTarget+s.udpOther > 250*flowsPerClient {
			return fmt.Errorf("population %+v: conntrack entries without workers, at most %d", s, 250*flowsPerClient)
		}
		return nil
	}
	if s.workers < 1 || s.established > 1000*peers || s.closeWait > 1000*peers {
		return fmt.Errorf("population %+v: at most %d connections of each held kind", s, 1000*peers)
	}
	return nil
}

// heldFiles is how many descriptors a worker of s holds at most: both ends of its
// ESTABLISHED and CLOSE_WAIT connections, its listeners, and a batch of connections
// being closed into TIME_WAIT.
func (s shape) heldFiles() int {
	per := func(n int) int { return (n + s.workers - 1) / s.workers }
	return 2*per(s.established) + 2*per(s.closeWait) + 3 + 2*batchSize + 16
}

// sockets is what the kernel shows in a population of shape s once it is built: its
// sockets, or its conntrack entries.
func (s shape) sockets() sockSet {
	if s.flows() {
		return s.flowEntries()
	}
	set := sockSet{}
	for w := range s.workers {
		for k := range timeWait + 1 {
			set[sock{"LISTEN", listener(k, w), netip.AddrPortFrom(netip.IPv4Unspecified(), 0)}] = struct{}{}
		}
		for _, c := range s.conns(established, w) {
			set[sock{"ESTAB", c.client, c.server}] = struct{}{}
			set[sock{"ESTAB", c.server, c.client}] = struct{}{}
		}
		for _, c := range s.conns(closeWait, w) {
			set[sock{"FIN-WAIT-2", c.client, c.server}] = struct{}{}
			set[sock{"CLOSE-WAIT", c.server, c.client}] = struct{}{}
		}
		for _, c := range s.conns(timeWait, w) {
			set[sock{"TIME-WAIT", c.server, c.client}] = struct{}{}
		}
	}
	return set
}

// population is a shape built in a namespace of its own, its sockets held by worker
// processes.
type population struct {
	shape   shape
	ns      *namespace
	workers []*workerProc
	// timeWaitAt is when its TIME_WAIT sockets were made: the kernel closes them 60 s
	// later.
	timeWaitAt time.Time
}

// workerProc is a running worker and the pipes the bench talks to it through.
type workerProc struct {
	*process
	commands *os.File // its stdin
	replies  *os.File // its stdout
	lines    *bufio.Reader
}

// build makes a fresh population of shape s: a new namespace, s.workers workers that
// make the held connections, then, once all have, the TIME_WAIT ones (last, so that
// they are young when a tool runs), and waits until the kernel shows exactly the
// sockets s.sockets() expects. It takes seconds and is never timed.
func build(self string, s shape, want sockSet) (pop *population, err error) {
	ns, err := newNamespace()
	if err != nil {
		return nil, err
	}
	made := &population{shape: s, ns: ns}
	pop = made
	defer func() {
		if err != nil { // pop is nil by then: the return set it
			made.close()
		}
	}()
	if s.flows() {
		if err := loadFlows(ns, s); err != nil {
			return nil, err
		}
	}
	for w := range s.workers {
		wp, err := startWorker(ns, self, s, w)
		if err != nil {
			return nil, err
		}
		pop.workers = append(pop.workers, wp)
	}
	if err := pop.each("held", 3*time.Minute); err != nil {
		return nil, err
	}
	pop.timeWaitAt = time.Now()
	for i, wp := range pop.workers {
		if _, err := wp.commands.WriteString("timewait\n"); err != nil {
			return nil, fmt.Errorf("worker %d of %d: %w", i, len(pop.workers), err)
		}
	}
	if err := pop.each("ready", 3*time.Minute); err != nil {
		return nil, err
	}
	// The workers are done when their last syscall returns; the kernel may still be
	// finishing the last handshakes and closes.
	deadline := time.Now().Add(30 * time.Second)
	for {
		got, err := snapshot(ns, s)
		if err != nil {
			return nil, err
		}
		d := diff(want, got)
		if d.none() {
			return pop, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("the population is not what was built: %s", d)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func startWorker(ns *namespace, self string, s shape, w int) (*workerProc, error) {
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, err
	}
	cmd := exec.Command(self, "worker",
		strconv.Itoa(w), strconv.Itoa(s.workers),
		strconv.Itoa(s.established), strconv.Itoa(s.closeWait), strconv.Itoa(s.timeWait))
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, os.Stderr
	p, err := start(ns, cmd)
	inR.Close()
	outW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		return nil, err
	}
	return &workerProc{process: p, commands: inW, replies: outR, lines: bufio.NewReader(outR)}, nil
}

// each waits until every worker has said word, for at most limit in all.
func (pop *population) each(word string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for i, wp := range pop.workers {
		wp.replies.SetReadDeadline(deadline)
		line, err := wp.lines.ReadString('\n')
		line = strings.TrimSpace(line)
		if err != nil || line != word {
			if line == "" {
				line = fmt.Sprint(err)
			}
			return fmt.Errorf("worker %d of %d, waiting for %q: %s", i, len(pop.workers), word, line)
		}
	}
	return nil
}

// close kills the workers (their held sockets reset and go at once) and lets go of the
// namespace, which the kernel then dismantles with its TIME_WAIT sockets.
func (pop *population) close() {
	// All at once: each exit resets thousands of sockets.
	for _, wp := range pop.workers {
		wp.cmd.Process.Kill() // an error means it has exited already
	}
	for _, wp := range pop.workers {
		<-wp.done
		wp.commands.Close()
		wp.replies.Close()
	}
	pop.workers = nil
	pop.ns.close()
}
