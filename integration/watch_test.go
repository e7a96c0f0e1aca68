// tcpreap watch: a real watch process, from the test's own namespace, covering host A by
// --netns, against a real leaking application (integration/leaker) and connections of
// the test's own. Its metrics match what ss counts; a reap policy reaps the idle
// CLOSE_WAIT sockets and spares the active ones; a policy over its ceiling destroys
// nothing; SIGHUP with a broken config keeps the one in force; SIGTERM while a reap
// writes its audit line leaves the whole report and the line.

package integration

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tcpreap/tcpreap/integration/testnet"
)

// watchProc is one tcpreap watch process.
type watchProc struct {
	t       *testing.T
	cmd     *exec.Cmd
	addr    string // where /metrics is served
	config  string
	mu      sync.Mutex
	stdout  bytes.Buffer
	logs    []map[string]any
	exited  chan struct{}
	waitErr error
}

// startWatch runs watch over host A with policies config (YAML), an interval of
// interval and the environment vars, and returns once it serves its metrics.
func (e *env) startWatch(config string, interval time.Duration, vars ...string) *watchProc {
	e.t.Helper()
	path := filepath.Join(e.t.TempDir(), "watch.yaml")
	e.check(os.WriteFile(path, []byte(config), 0o600))
	w := &watchProc{t: e.t, config: path, exited: make(chan struct{})}
	w.cmd = exec.Command(bin, "watch", "--config", path, "--netns", e.Local.Name, "--interval", interval.String(), "--listen", "127.0.0.1:0")
	w.cmd.Env = append(os.Environ(), vars...)
	w.cmd.Stdout = &lockedWriter{&w.mu, &w.stdout}
	stderr, err := w.cmd.StderrPipe()
	e.check(err)
	e.check(w.cmd.Start())
	e.t.Cleanup(func() {
		w.cmd.Process.Kill()
		<-w.exited
		e.t.Logf("watch's stdout:\n%s", w.out())
	})
	listening := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var line map[string]any
			if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
				line = map[string]any{"msg": "(not JSON) " + sc.Text()}
			}
			w.mu.Lock()
			w.logs = append(w.logs, line)
			w.mu.Unlock()
			if addr, ok := line["listen"].(string); ok && line["msg"] == "watching" {
				listening <- addr
			}
		}
		w.waitErr = w.cmd.Wait()
		close(w.exited)
	}()
	select {
	case w.addr = <-listening:
	case <-w.exited:
		e.t.Fatalf("watch exited at start: %v; logs: %v", w.waitErr, w.logLines())
	case <-time.After(10 * time.Second):
		e.t.Fatalf("watch did not serve its metrics within 10 s; logs: %v", w.logLines())
	}
	return w
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

func (w *watchProc) out() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.stdout.String()
}

// logLines are the log lines so far, as written.
func (w *watchProc) logLines() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for _, l := range w.logs {
		b, _ := json.Marshal(l)
		out = append(out, string(b))
	}
	return out
}

// logged waits up to wait for a log line whose msg matches re, and returns it.
func (w *watchProc) logged(re string, wait time.Duration) (map[string]any, bool) {
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(wait)
	for {
		w.mu.Lock()
		for _, l := range w.logs {
			if msg, _ := l["msg"].(string); rx.MatchString(msg) {
				w.mu.Unlock()
				return l, true
			}
		}
		w.mu.Unlock()
		if time.Now().After(deadline) {
			return nil, false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A sample is one series of /metrics.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

var (
	seriesRe = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$`)
	labelRe  = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"`)
)

// scrape reads /metrics, and how long it took.
func (w *watchProc) scrape() ([]sample, time.Duration) {
	w.t.Helper()
	start := time.Now()
	resp, err := http.Get("http://" + w.addr + "/metrics")
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	took := time.Since(start)
	if err != nil || resp.StatusCode != 200 {
		w.t.Fatalf("/metrics: %v %v", resp.Status, err)
	}
	var out []sample
	for line := range strings.Lines(string(body)) {
		m := seriesRe.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil || strings.HasPrefix(line, "#") {
			continue
		}
		s := sample{name: m[1], labels: map[string]string{}}
		for _, l := range labelRe.FindAllStringSubmatch(m[2], -1) {
			s.labels[l[1]] = l[2]
		}
		s.value, _ = strconv.ParseFloat(m[3], 64)
		out = append(out, s)
	}
	return out, took
}

// sum adds the values of the series named name whose labels hold every pair of match.
func sum(samples []sample, name string, match map[string]string) float64 {
	total := 0.0
	for _, s := range samples {
		if s.name != name {
			continue
		}
		ok := true
		for k, v := range match {
			ok = ok && s.labels[k] == v
		}
		if ok {
			total += s.value
		}
	}
	return total
}

// censusAfter waits for a census taken after t, and returns its metrics.
func (w *watchProc) censusAfter(t time.Time, wait time.Duration) []sample {
	w.t.Helper()
	deadline := time.Now().Add(wait)
	for {
		samples, _ := w.scrape()
		if at := sum(samples, "tcpreap_census_timestamp_seconds", nil); at > float64(t.UnixNano())/1e9 {
			return samples
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("no census after %v within %v; logs: %v", t, wait, w.logLines())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// signal sends sig to watch.
func (w *watchProc) signal(sig syscall.Signal) {
	w.t.Helper()
	if err := w.cmd.Process.Signal(sig); err != nil {
		w.t.Fatal(err)
	}
}

// exit waits for watch to exit and returns its code.
func (w *watchProc) exit(wait time.Duration) int {
	w.t.Helper()
	select {
	case <-w.exited:
	case <-time.After(wait):
		w.t.Fatalf("watch did not exit within %v", wait)
	}
	if w.cmd.ProcessState == nil {
		w.t.Fatalf("watch: %v", w.waitErr)
	}
	return w.cmd.ProcessState.ExitCode()
}

// TestIntegrationWatch runs watch against a leaking application in host A.
func TestIntegrationWatch(t *testing.T) {
	e := setup(t)
	dir := buildLeaker(t, "leaky-app")
	const port = 8300
	e.leak(dir, "leaky-app", port, false, 6)
	l := e.listenV4()
	for range 3 {
		e.inbound(l, otherPeer) // ESTABLISHED both ways
	}
	e.timeWait(l, peer)

	t.Run("the metrics match ss", func(t *testing.T) {
		e := e.sub(t)
		w := e.startWatch("policies:\n  - name: leak\n    action: report\n    select: {state: close_wait, local-port: 8300}\n", time.Second)
		samples := w.censusAfter(time.Now(), 10*time.Second)
		ss := e.sockets()
		byState := map[string]int{}
		for _, s := range ss {
			if s.Proto == "tcp" {
				byState[s.State]++
			}
		}
		for state, n := range byState {
			if got := sum(samples, "tcpreap_sockets", map[string]string{"state": state, "netns": e.Local.Name}); int(got) != n {
				t.Errorf("tcpreap_sockets{state=%q} sums to %v; ss counts %d", state, got, n)
			}
		}
		if got := sum(samples, "tcpreap_sockets", map[string]string{"state": "close_wait", "process": "leaky-app", "local_port": "8300"}); got != 6 {
			t.Errorf("the leaker's CLOSE_WAIT sockets: %v, want 6", got)
		}
		if got := sum(samples, "tcpreap_close_wait_oldest_idle_seconds", map[string]string{"process": "leaky-app"}); got <= 0 {
			t.Errorf("the leaker's oldest idle CLOSE_WAIT: %v, want more than 0", got)
		}
		// The policies run after the census of their interval.
		if _, ok := w.logged(`^matched$`, 5*time.Second); !ok {
			t.Errorf("no log line of the report policy: %v", w.logLines())
		}
		if samples, _ := w.scrape(); sum(samples, "tcpreap_policy_matched_sockets_total", map[string]string{"policy": "leak"}) < 6 {
			t.Errorf("the report policy matched %v, want at least 6", sum(samples, "tcpreap_policy_matched_sockets_total", map[string]string{"policy": "leak"}))
		}
		if _, took := w.scrape(); took > 50*time.Millisecond {
			t.Errorf("a scrape took %v, more than 50 ms", took)
		}
		resp, err := http.Get("http://" + w.addr + "/healthz")
		e.check(err)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("/healthz: %s", resp.Status)
		}
		w.signal(syscall.SIGTERM)
		if code := w.exit(10 * time.Second); code != 0 {
			t.Errorf("SIGTERM: exit %d, want 0", code)
		}
		expectUnchangedCount(t, e.closeWaitPeers(port), 6)
	})

	t.Run("a rule over its ceiling destroys nothing", func(t *testing.T) {
		e := e.sub(t)
		sink := newSyslogSink(t)
		w := e.startWatch("policies:\n  - name: capped\n    action: reap\n    max: 3\n    select: {state: close_wait, local-port: 8300}\n", time.Second, "TCPREAP_SYSLOG_SOCKET="+sink.path)
		if _, ok := w.logged(`more than the policy's max 3; nothing was destroyed`, 10*time.Second); !ok {
			t.Fatalf("no log line of the refusal: %v", w.logLines())
		}
		samples := w.censusAfter(time.Now(), 10*time.Second)
		if got := sum(samples, "tcpreap_policy_refusals_total", map[string]string{"policy": "capped"}); got < 1 {
			t.Errorf("tcpreap_policy_refusals_total %v, want at least 1", got)
		}
		if got := sum(samples, "tcpreap_policy_destroyed_sockets_total", map[string]string{"policy": "capped"}); got != 0 {
			t.Errorf("tcpreap_policy_destroyed_sockets_total %v, want 0", got)
		}
		w.signal(syscall.SIGTERM)
		w.exit(10 * time.Second)
		expectUnchangedCount(t, e.closeWaitPeers(port), 6)
		sink.none(t)
	})

	t.Run("SIGHUP with a broken config keeps the one in force", func(t *testing.T) {
		e := e.sub(t)
		w := e.startWatch("policies:\n  - name: first\n    action: report\n    select: {state: close_wait}\n", time.Second)
		e.check(os.WriteFile(w.config, []byte("policies:\n  - name: second\n    action: reap\n    colour: blue\n    select: {state: close_wait}\n"), 0o600))
		w.signal(syscall.SIGHUP)
		if _, ok := w.logged(`"colour" is not a key in a policy`, 10*time.Second); !ok {
			t.Errorf("no log line naming the unknown key: %v", w.logLines())
		}
		if _, ok := w.logged(`a reap needs a ceiling`, 0); !ok {
			t.Errorf("no log line for the missing max: %v", w.logLines())
		}
		if _, ok := w.logged(`the config was not reloaded`, 5*time.Second); !ok {
			t.Fatalf("no log line of the refused reload: %v", w.logLines())
		}
		before := sum(w.censusAfter(time.Now(), 10*time.Second), "tcpreap_policy_matched_sockets_total", map[string]string{"policy": "first"})
		samples := w.censusAfter(time.Now().Add(1500*time.Millisecond), 10*time.Second)
		if after := sum(samples, "tcpreap_policy_matched_sockets_total", map[string]string{"policy": "first"}); after <= before {
			t.Errorf("the policy in force stopped after the refused reload: matched %v, then %v", before, after)
		}
		if got := sum(samples, "tcpreap_config_reloads_total", map[string]string{"result": "refused"}); got != 1 {
			t.Errorf("tcpreap_config_reloads_total{result=refused} %v, want 1", got)
		}
		if got := sum(samples, "tcpreap_config_last_reload_successful", nil); got != 0 {
			t.Errorf("tcpreap_config_last_reload_successful %v, want 0", got)
		}
		e.check(os.WriteFile(w.config, []byte("policies:\n  - name: second\n    action: report\n    select: {state: close_wait}\n"), 0o600))
		w.signal(syscall.SIGHUP)
		if _, ok := w.logged(`the config was reloaded`, 10*time.Second); !ok {
			t.Fatalf("no log line of the reload: %v", w.logLines())
		}
		w.signal(syscall.SIGTERM)
		w.exit(10 * time.Second)
		expectUnchangedCount(t, e.closeWaitPeers(port), 6)
	})

	// The last two destroy the leaker's sockets.
	t.Run("idle 2s reaps the idle CLOSE_WAIT within two intervals and spares the active", func(t *testing.T) {
		e := e.sub(t)
		// Active CLOSE_WAIT: the peer closed its side, A's end still sends.
		var active []testnet.Pair
		stop := make(chan struct{})
		defer close(stop)
		for range 2 {
			p := e.inbound(l, otherPeer)
			e.check(p.Peer.CloseWrite())
			active = append(active, p)
		}
		go func() {
			tick := time.NewTicker(200 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
					for _, p := range active {
						p.Local.Write([]byte("x"))
					}
				}
			}
		}()
		sink := newSyslogSink(t)
		idleSince := time.Now() // the leaker's six have been idle since before
		const interval = time.Second
		w := e.startWatch("policies:\n  - name: idle\n    action: reap\n    max: 100\n    select: {state: close_wait, idle: 2s}\n", interval, "TCPREAP_SYSLOG_SOCKET="+sink.path)
		deadline := idleSince.Add(2*time.Second + 2*interval + time.Second)
		for len(e.closeWaitPeers(port)) > 0 && time.Now().Before(deadline.Add(5*time.Second)) {
			time.Sleep(50 * time.Millisecond)
		}
		gone := time.Now()
		if n := len(e.closeWaitPeers(port)); n > 0 {
			t.Fatalf("%d idle CLOSE_WAIT sockets stay; logs: %v", n, w.logLines())
		}
		t.Logf("the idle CLOSE_WAIT sockets were gone %v after they were idle", gone.Sub(idleSince))
		if gone.After(deadline) {
			t.Errorf("the idle sockets were gone %v after they were idle 0 s, more than idle 2 s and two intervals (and 1 s)", gone.Sub(idleSince))
		}
		time.Sleep(2 * interval)
		ss := e.sockets()
		for _, p := range active {
			if s, ok := ss.Find(p.LocalAddr(), p.RemoteAddr()); !ok || s.State != "close_wait" {
				t.Errorf("an active CLOSE_WAIT socket %v was destroyed", p.LocalAddr())
			}
		}
		line := sink.one(t)
		for _, want := range []string{"killed=6", "policy=idle", "--idle=2s", `netns="` + e.Local.Name + `"`} {
			if !strings.Contains(line, want) {
				t.Errorf("the audit line has no %q: %q", want, line)
			}
		}
		r, err := testnet.ParseReport(w.out())
		e.check(err)
		if r.Summary.Killed != 6 || len(r.Sockets) != 6 {
			t.Errorf("the report: %+v, want 6 sockets destroyed", r)
		}
		w.signal(syscall.SIGTERM)
		w.exit(10 * time.Second)
	})

	t.Run("SIGTERM while a reap writes its audit line leaves the whole report and line", func(t *testing.T) {
		e := e.sub(t)
		e.moreLeak(port, 4)
		sink := newSyslogSink(t)
		sink.fill(t) // the logger's queue is full: the audit line waits
		w := e.startWatch("policies:\n  - name: reap\n    action: reap\n    max: 100\n    select: {state: close_wait, local-port: 8300}\n", time.Second, "TCPREAP_SYSLOG_SOCKET="+sink.path)
		// The report is written while the audit line waits for the logger.
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(w.out(), `"summary"`) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		w.signal(syscall.SIGTERM)
		var line string
		for time.Now().Before(deadline) {
			got, ok := sink.read(t, time.Second)
			if ok && strings.Contains(got, "tcpreap") {
				line = got
				break
			}
		}
		if code := w.exit(10 * time.Second); code != 0 {
			t.Errorf("SIGTERM: exit %d, want 0", code)
		}
		if !strings.Contains(line, "killed=4") {
			t.Errorf("the audit line: %q, want killed=4", line)
		}
		r, err := testnet.ParseReport(w.out())
		e.check(err)
		if r.Summary.Killed != 4 || len(r.Sockets) != 4 {
			t.Errorf("the report: %+v, want 4 sockets destroyed", r)
		}
		if n := len(e.closeWaitPeers(port)); n != 0 {
			t.Errorf("%d CLOSE_WAIT sockets stay", n)
		}
	})
}

// expectUnchangedCount fails unless n sockets are there.
func expectUnchangedCount(t *testing.T, peers []netip.AddrPort, n int) {
	t.Helper()
	if len(peers) != n {
		t.Errorf("%d CLOSE_WAIT sockets of the leaker, want %d: %v", len(peers), n, peers)
	}
}

// TestIntegrationWatchPace: a reap policy's rate is the one-shot's --rate: 20 idle
// CLOSE_WAIT sockets at 10/s take about two seconds, and all go; a policy with both a
// rate and a spread is refused as the command line refuses them.
func TestIntegrationWatchPace(t *testing.T) {
	e := setup(t)
	dir := buildLeaker(t, "leaky-app")
	const port = 8301
	e.leak(dir, "leaky-app", port, false, 20)
	w := e.startWatch("policies:\n  - name: paced\n    action: reap\n    max: 100\n    rate: 10/s\n    order: idle\n    select: {state: close_wait, local-port: 8301}\n", 30*time.Second)
	start := time.Now()
	if _, ok := w.logged(`^reaped$`, 20*time.Second); !ok {
		t.Fatalf("no reap: %v", w.logLines())
	}
	took := time.Since(start)
	t.Logf("20 sockets at 10/s took %v", took)
	if took < 1500*time.Millisecond || took > 6*time.Second {
		t.Errorf("20 sockets at 10/s took %v, want about 2 s", took)
	}
	if n := len(e.closeWaitPeers(port)); n != 0 {
		t.Errorf("%d CLOSE_WAIT sockets stay", n)
	}
	w.signal(syscall.SIGTERM)
	w.exit(10 * time.Second)

	res := e.run(e.Local, bin, "watch", "--config", writeConfig(t, "policies:\n  - {name: both, action: reap, max: 1, rate: 10/s, spread: 10s, select: {state: close_wait}}\n"))
	if res.Code != 2 || !strings.Contains(res.Stderr, "--rate 10/s and --spread 10s: give one of them") {
		t.Errorf("rate and spread: exit %d, %s", res.Code, res.Stderr)
	}
}

// writeConfig writes a config of the test's own and returns its path.
func writeConfig(t *testing.T, config string) string {
	path := filepath.Join(t.TempDir(), "watch.yaml")
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
