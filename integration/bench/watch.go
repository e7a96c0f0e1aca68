package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The watch case: tcpreap watch over the standard population's namespace (--netns
// pid:PID of a worker, as a DaemonSet reaches a pod's), with no policy (the metrics
// alone), an interval of watchInterval, for watchCensuses censuses. Each census's CPU
// time is the process's utime+stime between two censuses (so it counts everything the
// process did meanwhile, the scrapes too); its wall time is what
// tcpreap_census_duration_seconds observed. tcpreap list --json's CPU and wall time on
// the same population, listRounds times, is the bound. A scrape is timed from the
// request to the last byte.
const (
	watchInterval = 2 * time.Second
	watchCensuses = 10
	listRounds    = 5
)

// watchResult is what the watch case measured.
type watchResult struct {
	listCPU, listWall     []time.Duration
	censusCPU, censusWall []time.Duration
	scrapes               []time.Duration
	peakRSS               int64 // bytes, VmHWM
	series                int   // lines of /metrics
}

func (b *bench) measureWatch() (*watchResult, error) {
	fmt.Fprintf(os.Stderr, "bench: watch: building the population\n")
	pop, err := build(b.self, standard, standard.sockets())
	if err != nil {
		return nil, err
	}
	defer pop.close()
	r := &watchResult{}
	for range listRounds {
		cmd := exec.Command(b.tcpreap, "list", "--json")
		cmd.Stdout = io.Discard
		p, err := start(pop.ns, cmd)
		if err != nil {
			return nil, err
		}
		if err := p.wait(time.Minute); err != nil {
			return nil, err
		}
		if p.err != nil {
			return nil, fmt.Errorf("tcpreap list: %w", p.err)
		}
		r.listCPU = append(r.listCPU, cmd.ProcessState.UserTime()+cmd.ProcessState.SystemTime())
		r.listWall = append(r.listWall, p.elapsed)
	}
	dir, err := os.MkdirTemp("", "tcpreap-bench-watch-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	config := filepath.Join(dir, "watch.yaml")
	if err := os.WriteFile(config, []byte("policies: []\n"), 0o600); err != nil {
		return nil, err
	}
	cmd := exec.Command(b.tcpreap, "watch", "--config", config, "--netns", fmt.Sprintf("pid:%d", pop.workers[0].cmd.Process.Pid),
		"--interval", watchInterval.String(), "--listen", "127.0.0.1:0", "--no-audit")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	addr, err := listenAddr(stderr)
	if err != nil {
		return nil, err
	}
	go io.Copy(io.Discard, stderr)
	fmt.Fprintf(os.Stderr, "bench: watch: %d censuses, one each %v\n", watchCensuses, watchInterval)
	lastCount, lastSum := 0.0, 0.0
	lastCPU, err := cpuTime(cmd.Process.Pid)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(watchCensuses*watchInterval + time.Minute)
	for len(r.censusWall) < watchCensuses+1 {
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("watch took %d censuses in %v", len(r.censusWall), watchCensuses*watchInterval+time.Minute)
		}
		time.Sleep(250 * time.Millisecond) // a scrape costs watch a little CPU too
		body, took, err := scrape(addr)
		if err != nil {
			return nil, err
		}
		count, sum := metricValue(body, "tcpreap_census_duration_seconds_count"), metricValue(body, "tcpreap_census_duration_seconds_sum")
		if count == lastCount {
			continue
		}
		cpu, err := cpuTime(cmd.Process.Pid)
		if err != nil {
			return nil, err
		}
		if lastCount > 0 { // the first census pays the process's start
			r.censusCPU = append(r.censusCPU, cpu-lastCPU)
			r.scrapes = append(r.scrapes, took)
		}
		r.censusWall = append(r.censusWall, time.Duration((sum-lastSum)*float64(time.Second)))
		r.series = strings.Count(body, "\n")
		lastCount, lastSum, lastCPU = count, sum, cpu
	}
	r.censusWall = r.censusWall[1:]
	// Scrapes of their own, between censuses.
	for range 20 {
		_, took, err := scrape(addr)
		if err != nil {
			return nil, err
		}
		r.scrapes = append(r.scrapes, took)
		time.Sleep(20 * time.Millisecond)
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid))
	if err != nil {
		return nil, err
	}
	if m := regexp.MustCompile(`VmHWM:\s+(\d+) kB`).FindSubmatch(status); m != nil {
		kib, _ := strconv.ParseInt(string(m[1]), 10, 64)
		r.peakRSS = kib << 10
	}
	return r, nil
}

// listenAddr reads watch's log until the line that says where it serves.
func listenAddr(stderr io.Reader) (string, error) {
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		var line struct{ Msg, Listen string }
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "watching" {
			return line.Listen, nil
		}
	}
	return "", fmt.Errorf("watch ended before it served its metrics")
}

// scrape reads /metrics from addr, and how long it took.
func scrape(addr string) (string, time.Duration, error) {
	t0 := time.Now()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return string(body), time.Since(t0), err
}

// metricValue is the value of the series whose line starts with name and a space.
func metricValue(body, name string) float64 {
	for line := range strings.Lines(body) {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return f
		}
	}
	return 0
}

// cpuTime is the utime+stime of process pid, from /proc/PID/stat (clock ticks of
// 10 ms).
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %q", pid, s)
	}
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond, nil
}

// spread is "median (min–max)" of ds, in milliseconds.
func spread(ds []time.Duration) string {
	if len(ds) == 0 {
		return "—"
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return fmt.Sprintf("%s (%s–%s)", ms(s[len(s)/2]), ms(s[0]), ms(s[len(s)-1]))
}

func ms(d time.Duration) string {
	if d < 10*time.Millisecond {
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%d ms", d.Milliseconds())
}

func medianDuration(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// report is the watch case's table, with its goals.
func (r *watchResult) report() string {
	var w strings.Builder
	fmt.Fprintf(&w, "\n`tcpreap watch` over the standard population's namespace (`--netns pid:PID`), the metrics alone (`policies: []`), "+
		"one census every %v, %d censuses; `tcpreap list --json` on the same population, %d runs. Median (min–max).\n\n",
		watchInterval, watchCensuses, listRounds)
	cpuAt15 := float64(medianDuration(r.censusCPU)) / float64(15*time.Second) * 100
	listCPU := medianDuration(r.listCPU)
	w.WriteString("| measure | watch | goal | met |\n|---|---:|---|---|\n")
	yes := func(ok bool) string {
		if ok {
			return "yes"
		}
		return "**no**"
	}
	fmt.Fprintf(&w, "| CPU time of one census | %s | at most `list`'s: %s | %s |\n", spread(r.censusCPU), spread(r.listCPU), yes(medianDuration(r.censusCPU) <= listCPU))
	fmt.Fprintf(&w, "| wall time of one census | %s | at most `list`'s: %s | %s |\n", spread(r.censusWall), spread(r.listWall), yes(medianDuration(r.censusWall) <= medianDuration(r.listWall)))
	fmt.Fprintf(&w, "| CPU at a 15 s interval | %.1f%% of one CPU | at most 3%% | %s |\n", cpuAt15, yes(cpuAt15 <= 3))
	fmt.Fprintf(&w, "| peak RSS | %s | at most 64 MiB | %s |\n", mib(r.peakRSS), yes(r.peakRSS <= 64<<20))
	fmt.Fprintf(&w, "| a scrape (%d lines) | %s | under 50 ms | %s |\n", r.series, spread(r.scrapes), yes(slices.Max(r.scrapes) < 50*time.Millisecond))
	return w.String()
}
