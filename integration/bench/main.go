// Command bench is `make bench`: it measures tcpreap against `ss -K` and a bare-syscall
// floor (integration/floor) on a large population of real sockets, and prints the
// results as a Markdown table for docs/performance.md.
//
// The population (shape) is about 190,000 TCP sockets over loopback on 127.0.0.0/8 in a
// network namespace of the bench's own, held by worker processes (this program, started
// again as `bench worker …` inside the namespace: one process may hold only
// RLIMIT_NOFILE files). Every run of a tool that destroys gets a population of its own,
// built afresh and checked socket by socket to be the same as every other (its build is
// not timed); each case runs its tools in turn, in a rotated order each round. The time
// is the wall time of the tool's whole process, from fork to wait4, and the peak RSS
// wait4's ru_maxrss. After each run the bench compares what the kernel shows, by state and
// 4-tuple, with the population less what the case selects: every tool must leave exactly
// the same sockets behind.
//
// Nothing is done outside the bench's namespaces: they have no name, and they and every
// process the bench started go away with the bench, however it ends.
//
// Usage: bench -tcpreap PATH -floor PATH [-rounds N] (as root; Linux 6.0 or later for
// TIME_WAIT destroys). bench -try 'COMMAND' [-big|-owners|-flows] builds a population and runs the
// shell command in its namespace, with the bench's stdout and stderr, and prints its
// wall time: an aid to profiling one tool, not a measurement.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "worker":
			runWorker(os.Args[2:])
			return
		case "launch":
			runLauncher(os.Args[2:])
			return
		}
	}
	tcpreap := flag.String("tcpreap", "bin/tcpreap", "the tcpreap binary to measure")
	floor := flag.String("floor", "bin/floor", "the floor binary (go build ./integration/floor)")
	rounds := flag.Int("rounds", 3, "rounds of every case")
	try := flag.String("try", "", "instead of measuring: build a population and run this shell command in its namespace (for profiling)")
	big := flag.Bool("big", false, "with -try: the population of 250,000 TIME-WAIT sockets, not the standard one")
	owners := flag.Bool("owners", false, "with -try: the standard population held by 500 processes")
	flowsOnly := flag.Bool("flows", false, "with -try: the conntrack cases' 120,000 UDP entries, no sockets")
	only := flag.String("case", "", "run only the cases whose name contains this (for a quick look; docs/performance.md's table has them all)")
	flag.Parse()
	if *try != "" {
		s := standard
		if *big {
			s = bigTimeWait
		}
		if *owners {
			s = manyOwners
		}
		if *flowsOnly {
			s = flowShape
		}
		if err := tryCommand(*try, s); err != nil {
			killAll()
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(*tcpreap, *floor, *rounds, *only); err != nil {
		killAll()
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(tcpreapBin, floorBin string, rounds int, only string) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("the bench needs root: it makes network namespaces and destroys sockets in them (try sudo make bench)")
	}
	if rounds < 1 {
		return fmt.Errorf("-rounds %d: at least 1", rounds)
	}
	var bins [2]string
	for i, b := range []string{tcpreapBin, floorBin} {
		abs, err := filepath.Abs(b)
		if err != nil {
			return err
		}
		if _, err := os.Stat(abs); err != nil {
			return err
		}
		bins[i] = abs
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	// On a signal: every process the bench started is killed, and with them and the
	// bench gone, the namespaces are too.
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		sig := <-signals
		stopping.Store(true)
		killAll()
		fmt.Fprintf(os.Stderr, "bench: %v: stopped\n", sig)
		os.Exit(128 + int(sig.(syscall.Signal)))
	}()

	b := &bench{self: self, tcpreap: bins[0], floor: bins[1], rounds: rounds, started: time.Now()}
	if err := b.describe(); err != nil {
		return err
	}
	for _, c := range cases(b.tcpreap, b.floor, rounds) {
		if strings.Contains(c.name, only) {
			b.cases = append(b.cases, c)
		}
	}
	measureWatch := strings.Contains("watch", only)
	if len(b.cases) == 0 && !measureWatch {
		return fmt.Errorf("-case %q: no case has that in its name", only)
	}
	if len(b.cases) > 0 {
		if err := b.measure(); err != nil {
			return err
		}
		fmt.Print(b.report())
	}
	if measureWatch {
		w, err := b.measureWatch()
		if err != nil {
			return fmt.Errorf("watch: %w", err)
		}
		fmt.Print(w.report())
	}
	fmt.Fprintf(os.Stderr, "bench: done in %v\n", time.Since(b.started).Round(time.Second))
	if bad := b.failures(); len(bad) > 0 {
		return fmt.Errorf("%d runs failed or left other sockets behind than expected:\n  %s", len(bad), strings.Join(bad, "\n  "))
	}
	return nil
}

// stopping is set when a signal stops the bench.
var stopping atomic.Bool

// The tools of every case, in the columns of the table. bpfTool is tcpreap with its
// bpf engine, beside tcpreapTool with SOCK_DESTROY (--engine diag), in the engines'
// table.
type tool int

const (
	ssTool tool = iota
	tcpreapTool
	floorTool
	bpfTool
	tools
)

var toolNames = [tools]string{"ss", "tcpreap", "floor", "bpf"}

// standard is the benchmark's population: 40,000 ESTABLISHED sockets (20,000 connections),
// 50,000 CLOSE_WAIT with their 50,000 FIN_WAIT2 peers, 50,000 TIME_WAIT, held by 10
// processes (each holds 14,003 files at most).
var standard = shape{workers: 10, established: 20000, closeWait: 50000, timeWait: 50000}

// bigTimeWait is 250,000 TIME_WAIT sockets and the listeners.
var bigTimeWait = shape{workers: 10, timeWait: 250000}

// manyOwners is the standard population's held connections, 140,000 sockets, held by 500
// processes (the owner lookup). TIME_WAIT sockets have no owner, and 500 workers
// making theirs at once left a few missing now and then.
var manyOwners = shape{workers: 500, established: 20000, closeWait: 50000}

// benchCase is one line of the table: a population, what the case takes from it, and
// each tool's command line in its namespace.
type benchCase struct {
	name  string
	shape shape
	// selects tells the sockets that every tool must destroy; nil for a listing, which
	// destroys none and so runs all its tools on one population per round.
	selects func(sock) bool
	argv    [tools][]string // nil: the tool does not run in this case
	rounds  int
	goals   []goal // the targets for the case
}

// goal is one of the targets: a ratio of two tools' median times (ss / tcpreap at
// least, tcpreap / floor at most), or tcpreap's peak RSS at most, in MiB.
type goal struct {
	num, den tool // the ratio's tools; den == tools: num's peak RSS
	atLeast  bool
	bound    float64
}

var (
	reapGoals = []goal{{num: ssTool, den: tcpreapTool, atLeast: true, bound: 2}, {num: tcpreapTool, den: floorTool, bound: 1.25}}
	cutGoals  = []goal{{num: ssTool, den: tcpreapTool, atLeast: true, bound: 1.5}}
	listGoals = []goal{{num: ssTool, den: tcpreapTool, atLeast: true, bound: 1}}
	// the listing with owners at least 10x faster than ss -tanp
	ownerGoals = []goal{{num: ssTool, den: tcpreapTool, atLeast: true, bound: 10}}
	rssGoals   = []goal{{num: tcpreapTool, den: tools, bound: 64}}
	// conntrack's cases: conntrack-tools in the ss column
	flowCutGoals = []goal{{num: ssTool, den: tcpreapTool, atLeast: true, bound: 2}}
)

func cases(tcpreap, floor string, rounds int) []benchCase {
	peerAddr := peer.String()
	return []benchCase{
		{
			name:    "50,000 CLOSE-WAIT reap",
			shape:   standard,
			selects: func(s sock) bool { return s.state == "CLOSE-WAIT" },
			argv: [tools][]string{
				{"ss", "-K", "-tn", "state", "close-wait"},
				{tcpreap, "--engine", "diag", "--state", "close_wait", "-y", "-q", "--no-audit"},
				{floor, "-states", "close_wait"},
				{tcpreap, "--engine", "bpf", "--state", "close_wait", "-y", "-q", "--no-audit"},
			},
			rounds: rounds,
			goals:  reapGoals,
		},
		{
			// Not for the bpf engine: bpf_sock_destroy takes full sockets only,
			// and the engine answers every TIME_WAIT target that it cannot.
			name:    "50,000 TIME-WAIT reap",
			shape:   standard,
			selects: func(s sock) bool { return s.state == "TIME-WAIT" },
			argv: [tools][]string{
				{"ss", "-K", "-tn", "state", "time-wait"},
				{tcpreap, "--state", "time_wait", "-y", "-q", "--no-audit"},
				{floor, "-states", "time_wait"},
			},
			rounds: rounds,
			goals:  reapGoals,
		},
		{
			// The peer holds no TIME_WAIT socket: ss's default states leave them out,
			// tcpreap's take them in, and the two must select the same sockets.
			name:    fmt.Sprintf("peer cut (%s)", peerAddr),
			shape:   standard,
			selects: fromPeer,
			argv: [tools][]string{
				{"ss", "-K", "-tn", "dst", peerAddr},
				{tcpreap, "-y", "-q", "--no-audit", peerAddr},
				{floor, "-dst", peerAddr},
			},
			rounds: rounds,
			goals:  cutGoals,
		},
		{
			name:  "list all",
			shape: standard,
			argv: [tools][]string{
				{"ss", "-tan"},
				{tcpreap, "list", "--json"},
				{floor, "-n"},
			},
			rounds: rounds,
			goals:  listGoals,
		},
		{
			name:  "list all with owners",
			shape: manyOwners,
			argv: [tools][]string{
				{"ss", "-tanp"},
				{tcpreap, "list", "-p"},
				nil,
			},
			rounds: rounds,
			goals:  ownerGoals,
		},
		{
			// conntrack-tools in the ss column: every UDP entry listed.
			name:  "conntrack list udp",
			shape: flowShape,
			argv: [tools][]string{
				{"conntrack", "-L", "-p", "udp"},
				{tcpreap, "conntrack", "list", "-u"},
				nil,
			},
			rounds: rounds,
			goals:  listGoals,
		},
		{
			// The same selection for both: UDP entries whose original destination
			// is the target; each checked by conntrack -L afterwards.
			name:    fmt.Sprintf("conntrack cut (%s)", flowTarget),
			shape:   flowShape,
			selects: toFlowTarget,
			argv: [tools][]string{
				{"conntrack", "-D", "-p", "udp", "-d", flowTarget.String()},
				{tcpreap, "conntrack", "-u", "-y", "-q", "--no-audit", flowTarget.String()},
				nil,
			},
			rounds: rounds,
			goals:  flowCutGoals,
		},
		{
			// tcpreap's peak RSS for a plan of 250,000 targets: more than the standard
			// population holds, so a population of TIME_WAIT sockets only, which need
			// no descriptors; one round, tcpreap only.
			name:    "250,000 TIME-WAIT reap",
			shape:   bigTimeWait,
			selects: func(s sock) bool { return s.state == "TIME-WAIT" },
			argv: [tools][]string{
				tcpreapTool: {tcpreap, "--state", "time_wait", "-y", "-q", "--no-audit"},
			},
			rounds: 1,
			goals:  rssGoals,
		},
	}
}

// fromPeer tells the sockets a peer cut takes: those whose remote end is the peer.
func fromPeer(s sock) bool { return s.remote.Addr() == peer && s.state != "LISTEN" }

// order is the order the tools of c run in round r: each round starts one tool later.
func (c benchCase) order(r int) []tool {
	var ts []tool
	for t := range tools {
		if c.argv[t] != nil {
			ts = append(ts, t)
		}
	}
	k := r % len(ts)
	return slices.Concat(ts[k:], ts[:k])
}

// tryCommand is bench -try: one population, one shell command in its namespace.
func tryCommand(command string, s shape) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("the bench needs root: it makes network namespaces")
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	pop, err := build(self, s, s.sockets())
	if err != nil {
		return err
	}
	defer pop.close()
	cmd := exec.Command("sh", "-c", command)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	p, err := start(pop.ns, cmd)
	if err != nil {
		return err
	}
	if err := p.wait(5 * time.Minute); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "bench -try: %v, %v\n", p.elapsed.Round(time.Millisecond), p.err)
	return nil
}
