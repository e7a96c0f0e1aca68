package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// bench is one `make bench`: what it measures, where, and what it found.
type bench struct {
	self, tcpreap, floor string
	rounds               int
	started              time.Time

	// What the report's first line says.
	kernel, cpu, version, ssVersion string
	baseRSS                         int64 // bytes: the peak RSS of true(1), the least a reading can be

	cases   []benchCase
	expect  []expectation          // by case
	results [][tools][]measurement // by case, by tool, one per round
}

// expectation is what a case's population is, and what its tools must leave of it.
type expectation struct {
	population, left sockSet
	// work is how many sockets its tools work on: those it destroys, or for a listing
	// all but the listeners.
	work int
}

// expectations computes what each case expects, once for all rounds.
func (b *bench) expectations() error {
	populations := map[shape]sockSet{}
	for _, c := range b.cases {
		all := populations[c.shape]
		if all == nil {
			if err := c.shape.check(); err != nil {
				return err
			}
			all = c.shape.sockets()
			populations[c.shape] = all
		}
		e := expectation{population: all, left: all}
		e.work = len(all) - len(all.without(func(s sock) bool { return s.state != "LISTEN" }))
		if c.selects != nil {
			e.left = all.destroying(c.selects)
			e.work = len(all) - len(all.without(c.selects))
		}
		b.expect = append(b.expect, e)
	}
	return nil
}

// measurement is one run of one tool on one population.
type measurement struct {
	round int
	built time.Duration // how long its population took to build, for the progress lines
	usage
	left difference // what it left behind, against what it should have
	err  error      // it could not be run, or it failed
}

// describe reads the kernel, the CPU and the two tools' versions (in a namespace of the
// bench's own, like everything the bench runs).
func (b *bench) describe() error {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return err
	}
	b.kernel = unix.ByteSliceToString(u.Release[:])
	b.cpu = fmt.Sprintf("%d CPUs", runtime.NumCPU())
	if info, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(info)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				b.cpu += " (" + strings.TrimSpace(v) + ")"
				break
			}
		}
	}
	ns, err := newNamespace()
	if err != nil {
		return err
	}
	defer ns.close()
	out, err := output(ns, 10*time.Second, b.tcpreap, "--version")
	if err != nil {
		return err
	}
	b.version = strings.TrimSpace(string(out))
	out, err = output(ns, 10*time.Second, "ss", "--version")
	if err != nil {
		return err
	}
	b.ssVersion = strings.TrimPrefix(strings.TrimSpace(string(out)), "ss utility, ")
	// What the peak RSS of a program that does nothing reads through the launcher.
	truePath, err := exec.LookPath("true")
	if err != nil {
		return err
	}
	base, _, err := b.launch(ns, os.Stderr, []string{truePath})
	b.baseRSS = base.maxRSS
	return err
}

// measure runs every case's tools, round after round, each round in a rotated order, on
// fresh populations, and keeps every measurement. It stops only when a population cannot
// be built; a tool that fails is a measurement with its error.
func (b *bench) measure() error {
	if err := b.expectations(); err != nil {
		return err
	}
	b.results = make([][tools][]measurement, len(b.cases))
	for r := range b.rounds {
		for ci, c := range b.cases {
			if r >= c.rounds {
				continue
			}
			var pop *population
			for _, t := range c.order(r) {
				var built time.Duration
				if pop == nil {
					t0 := time.Now()
					var err error
					if pop, err = build(b.self, c.shape, b.expect[ci].population); err != nil {
						return fmt.Errorf("%s, round %d: building the population: %w", c.name, r+1, err)
					}
					built = time.Since(t0)
				}
				m := b.run(pop, c.argv[t], b.expect[ci].left)
				m.round, m.built = r+1, built
				b.results[ci][t] = append(b.results[ci][t], m)
				progress(r, b.rounds, c, t, m)
				// A destroying tool changed the population: the next one gets its own.
				if c.selects != nil {
					pop.close()
					pop = nil
				}
			}
			if pop != nil {
				pop.close()
			}
		}
	}
	return nil
}

// run runs argv once on pop, with stdin and stdout on /dev/null, and compares what the
// kernel shows afterwards with left.
func (b *bench) run(pop *population, argv []string, left sockSet) measurement {
	m := measurement{}
	// A file, not a pipe: nothing in the bench copies while the tool runs.
	stderr, err := os.CreateTemp("", "tcpreap-bench-stderr-")
	if err != nil {
		m.err = err
		return m
	}
	defer os.Remove(stderr.Name())
	defer stderr.Close()
	code := 0
	m.usage, code, m.err = b.launch(pop.ns, stderr, argv)
	if m.err == nil && code != 0 {
		msg, _ := os.ReadFile(stderr.Name())
		m.err = fmt.Errorf("%s: exit code %d: %s", display(argv), code, strings.TrimSpace(string(bytes.ToValidUTF8(msg, nil))))
	}
	if m.err != nil {
		return m
	}
	// The resets a destroy sent may still be on their way to the peers.
	deadline := time.Now().Add(2 * time.Second)
	for {
		got, err := snapshot(pop.ns, pop.shape)
		if err != nil {
			m.err = err
			return m
		}
		if m.left = diff(left, got); m.left.none() || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	// A TIME_WAIT socket lives 60 s; one that expired would pass for one destroyed.
	if age := time.Since(pop.timeWaitAt); pop.shape.timeWait > 0 && age > 50*time.Second {
		m.err = fmt.Errorf("the TIME_WAIT sockets were %v old when checked, too close to their 60 s", age.Round(time.Second))
	}
	return m
}

// usage is what the launcher measured of one run.
type usage struct {
	elapsed      time.Duration // wall time
	user, system time.Duration // CPU time, every thread's
	maxRSS       int64         // bytes
}

// launch runs argv in ns through `bench launch` (see runLauncher), with stdin and stdout
// on /dev/null and stderr to the file stderr, and returns what the launcher measured.
func (b *bench) launch(ns *namespace, stderr *os.File, argv []string) (u usage, code int, err error) {
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return usage{}, 0, err
	}
	defer devnull.Close()
	reportR, reportW, err := os.Pipe()
	if err != nil {
		return usage{}, 0, err
	}
	defer reportR.Close()
	cmd := exec.Command(b.self, append([]string{"launch"}, argv...)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, devnull, stderr
	cmd.ExtraFiles = []*os.File{reportW}
	// tcpreap keeps the connections of the SSH session it runs in: none is in the
	// bench's namespace, and the bench's own session must not change the run.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SSH_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	p, err := start(ns, cmd)
	reportW.Close()
	if err != nil {
		return usage{}, 0, err
	}
	if err := p.wait(2 * time.Minute); err != nil {
		return usage{}, 0, err
	}
	report, _ := io.ReadAll(reportR)
	var ns64, kib, user, system int64
	if _, err := fmt.Sscan(string(report), &ns64, &kib, &code, &user, &system); err != nil {
		msg, _ := os.ReadFile(stderr.Name())
		return usage{}, 0, fmt.Errorf("%s: no measurement (%v): %s", display(argv), p.err, strings.TrimSpace(string(msg)))
	}
	return usage{elapsed: time.Duration(ns64), user: time.Duration(user), system: time.Duration(system), maxRSS: kib * 1024}, code, nil
}

// display is argv as the table shows it: the binaries by their base name.
func display(argv []string) string {
	return strings.Join(append([]string{filepath.Base(argv[0])}, argv[1:]...), " ")
}

func progress(r, rounds int, c benchCase, t tool, m measurement) {
	if stopping.Load() {
		return // the signal's killing made this run's result
	}
	status := fmt.Sprintf("%v (user %v, system %v), peak RSS %s, left behind: %s", m.elapsed.Round(time.Millisecond),
		m.user.Round(time.Millisecond), m.system.Round(time.Millisecond), mib(m.maxRSS), m.left)
	if m.err != nil {
		status = "FAILED: " + m.err.Error()
	}
	if m.built > 0 {
		status += fmt.Sprintf(" (population built in %.1f s)", m.built.Seconds())
	}
	fmt.Fprintf(os.Stderr, "round %d/%d  %-24s %-8s %s\n", r+1, rounds, c.name, toolNames[t], status)
}

// failures are the runs that failed, and the runs of tcpreap and the floor that left
// other sockets behind than expected. ss's are reported in the table but not failures:
// ss -K destroys from inside its own dump, which can skip sockets, and that is
// one of the things the table is there to show.
func (b *bench) failures() []string {
	var bad []string
	for ci, c := range b.cases {
		for t := range tools {
			for _, m := range b.results[ci][t] {
				switch {
				case m.err != nil:
					bad = append(bad, fmt.Sprintf("%s, %s, round %d: %v", c.name, toolNames[t], m.round, m.err))
				case !m.left.none() && t != ssTool:
					bad = append(bad, fmt.Sprintf("%s, %s, round %d: left behind: %s", c.name, toolNames[t], m.round, m.left))
				}
			}
		}
	}
	return bad
}
