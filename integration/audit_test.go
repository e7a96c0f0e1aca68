// The audit line: what a run that destroys writes to syslog, and the runs that write none.

package integration

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tcpreap/tcpreap/integration/testnet"
)

// TestIntegrationAudit checks the audit line: a run that destroys writes one line to the
// syslog socket that TCPREAP_SYSLOG_SOCKET names, with the command's words, the real
// number killed and uid=0; --no-audit, a dry run, list and plan write none; and a syslog
// socket nobody listens on does not stop the destroy, only adds a warning.
func TestIntegrationAudit(t *testing.T) {
	e := setup(t)
	l := e.listenV4()
	sink := newSyslogSink(t)
	audit := []string{"TCPREAP_SYSLOG_SOCKET=" + sink.path}
	p := testnet.PeerV4.String()
	bystander := tcp("other peer", e.inbound(l, otherPeer))

	t.Run("destroy", func(t *testing.T) {
		e := e.sub(t)
		doomed := e.peerSet(l, 2).conns()
		expectRecords(t, e.decode(e.tcpreapEnv(audit, "--json", "--state", "established,close_wait", p), 0), "killed", doomed...)
		expectGone(t, e.sockets(), doomed...)
		line := sink.one(t)
		for _, want := range []string{"--state", "established,close_wait", p} {
			if !strings.Contains(line, want) {
				t.Errorf("the audit line does not have the command's word %q: %q", want, line)
			}
		}
		for _, re := range []string{`\bkilled=3\b`, `\buid=0\b`, `\bengine=diag\b`} {
			if !regexp.MustCompile(re).MatchString(line) {
				t.Errorf("the audit line does not match %s: %q", re, line)
			}
		}
	})

	t.Run("apply", func(t *testing.T) {
		e := e.sub(t)
		doomed := e.peerSet(l, 2).conns()
		file := e.writePlan(e.plan(p))
		sink.none(t) // plan writes no audit line
		r := e.decode(e.tcpreapEnv(audit, "apply", "--engine", "fd", "--json", file), 0)
		expectGone(t, e.sockets(), doomed...)
		for _, rec := range r.Sockets {
			if rec.Engine != "fd" {
				t.Errorf("apply --engine fd reported %+v, want it destroyed by the fd engine", rec)
			}
		}
		line := sink.one(t)
		if !strings.Contains(line, "apply") || !strings.Contains(line, file) || !regexp.MustCompile(`\bkilled=3\b`).MatchString(line) || !strings.Contains(line, " engine=fd ") {
			t.Errorf("the audit line of apply --engine fd %s: %q, want the command's words, engine=fd and killed=3", file, line)
		}
	})

	t.Run("--netns: the line names the namespace acted in", func(t *testing.T) {
		e := e.sub(t)
		doomed := e.peerSet(l, 2).conns()
		// Run from the peer's namespace, destroying in host A's by name.
		res := e.run(e.Peer, "env", "TCPREAP_SYSLOG_SOCKET="+sink.path, bin, "-y", "--json", "--netns", e.Local.Name, "--state", "established,close_wait", p)
		expectRecords(t, e.decode(res, 0), "killed", doomed...)
		line := sink.one(t)
		if !strings.Contains(line, `netns="`+e.Local.Name+`"`) || !regexp.MustCompile(`\bkilled=3\b`).MatchString(line) {
			t.Errorf("the audit line of a run with --netns %s: %q, want it to name that namespace and killed=3", e.Local.Name, line)
		}
	})

	t.Run("nothing destroyed: no line", func(t *testing.T) {
		e := e.sub(t)
		doomed := e.peerSet(l, 2).conns()
		before := e.sockets()
		for _, args := range [][]string{{"-n", p}, {"list", p}, {"plan", p}} {
			if res := e.tcpreapEnv(audit, args...); res.Code != 0 {
				t.Errorf("%s: exit %d, want 0", args, res.Code)
			}
		}
		expectUnchanged(t, before, e.sockets())
		sink.none(t)
		// Clean up for the next case, without a line.
		expectRecords(t, e.decode(e.tcpreapEnv(audit, "--json", "--no-audit", p), 0), "killed", doomed...)
	})

	t.Run("--no-audit", func(t *testing.T) {
		e := e.sub(t)
		doomed := e.peerSet(l, 2).conns()
		expectRecords(t, e.decode(e.tcpreapEnv(audit, "--json", "--no-audit", p), 0), "killed", doomed...)
		expectGone(t, e.sockets(), doomed...)
		sink.none(t)
	})

	t.Run("no syslog listening", func(t *testing.T) {
		e := e.sub(t)
		doomed := e.peerSet(l, 2).conns()
		nobody := []string{"TCPREAP_SYSLOG_SOCKET=" + filepath.Join(t.TempDir(), "nobody-listens")}
		res := e.tcpreapEnv(nobody, "--json", p)
		expectRecords(t, e.decode(res, 0), "killed", doomed...)
		if !strings.Contains(res.Stderr, "audit line was not written") {
			t.Errorf("stderr %q does not warn that the audit line was not written", res.Stderr)
		}
		expectGone(t, e.sockets(), doomed...)
	})

	t.Run("a stalled system logger", func(t *testing.T) {
		e := e.sub(t)
		doomed := e.peerSet(l, 2).conns()
		stalled := newSyslogSink(t)
		stalled.fill(t)
		start := time.Now()
		res := e.tcpreapEnv([]string{"TCPREAP_SYSLOG_SOCKET=" + stalled.path}, "--json", p)
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("tcpreap took %v with a stalled system logger", d)
		}
		expectRecords(t, e.decode(res, 0), "killed", doomed...)
		if !strings.Contains(res.Stderr, "audit line was not written") || !strings.Contains(res.Stderr, "stalled") {
			t.Errorf("stderr %q does not say that the system logger stalled", res.Stderr)
		}
		expectGone(t, e.sockets(), doomed...)
	})

	expectPresent(t, e.sockets(), "established", bystander)
}

// fill queues datagrams on the sink until its queue takes no more: a system logger that
// has stalled.
func (s *syslogSink) fill(t *testing.T) {
	t.Helper()
	c, err := net.Dial("unixgram", s.path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for range 1 << 16 {
		c.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
		if _, err := c.Write(make([]byte, 1024)); err != nil {
			return
		}
	}
	t.Fatal("the sink's queue never filled")
}

// syslogSink is a unix datagram socket standing in for /dev/log. tcpreap runs in another
// network namespace but the same mount namespace, so it reaches the socket by its path.
type syslogSink struct {
	path string
	conn *net.UnixConn
}

func newSyslogSink(t *testing.T) *syslogSink {
	t.Helper()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "log")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &syslogSink{path, c}
}

// read returns the next datagram, or ok false if none comes within wait. tcpreap sends its
// line before it exits, so once it has exited a line it wrote is already queued here.
func (s *syslogSink) read(t *testing.T, wait time.Duration) (string, bool) {
	t.Helper()
	buf := make([]byte, 64<<10)
	s.conn.SetReadDeadline(time.Now().Add(wait))
	n, err := s.conn.Read(buf)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return "", false
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(buf[:n]), true
}

// one returns the one line that must have arrived, and fails if there was another.
func (s *syslogSink) one(t *testing.T) string {
	t.Helper()
	line, ok := s.read(t, time.Second)
	if !ok {
		t.Fatal("no audit line arrived")
	}
	t.Logf("audit line: %q", line)
	s.none(t)
	return line
}

// none fails if a line is waiting.
func (s *syslogSink) none(t *testing.T) {
	t.Helper()
	if line, ok := s.read(t, 10*time.Millisecond); ok {
		t.Errorf("an unexpected audit line: %q", line)
	}
}

// TestIntegrationAuditOutputClosed: `tcpreap -y ... | head -1`. The reader of stdout goes
// away; the report's write raises SIGPIPE, which kills tcpreap after it destroyed and
// before it wrote the audit line: the destroys go unrecorded and the exit code is no code
// of tcpreap's. (The same happens when the run cuts the SSH session it prints to.)
func TestIntegrationAuditOutputClosed(t *testing.T) {
	e := setup(t)
	l := e.listenV4()
	doomed := e.peerSet(l, 2).conns()
	sink := newSyslogSink(t)
	r, w, err := os.Pipe()
	e.check(err)
	r.Close() // the reader has gone
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := e.Local.Command(ctx, "env", "TCPREAP_SYSLOG_SOCKET="+sink.path, bin, "-y", testnet.PeerV4.String())
	cmd.Stdout = w
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err = cmd.Run()
	w.Close()
	t.Logf("tcpreap with stdout to a closed pipe: %v; stderr: %q", err, stderr.String())
	expectGone(t, e.sockets(), doomed...)
	if code := cmd.ProcessState.ExitCode(); code != 0 && code != 1 {
		t.Errorf("exit %d (%s), want 0 or 1", code, cmd.ProcessState)
	}
	if _, ok := sink.read(t, time.Second); !ok {
		t.Error("sockets were destroyed and no audit line was written")
	}
}

// TestIntegrationAuditSecondSignal: Ctrl-C twice while the system logger is slow to
// take the line of sockets already destroyed. The second signal waits for the line (a
// few seconds at most) instead of exiting without a record of what was destroyed.
func TestIntegrationAuditSecondSignal(t *testing.T) {
	r := startStalledAuditWaiting(t)
	r.signal(2, 20*time.Millisecond)
	select {
	case <-r.exited:
		t.Fatalf("tcpreap exited on the second signal before its audit line was taken (%s); stderr %q", r.cmd.ProcessState, r.stderr.String())
	case <-time.After(300 * time.Millisecond):
	}
	var line string
	for range r.queued + 1 {
		got, ok := r.sink.read(t, 3*time.Second)
		if !ok {
			break
		}
		if strings.Contains(got, "tcpreap[") {
			line = got
			break
		}
	}
	<-r.exited
	if !regexp.MustCompile(`\bkilled=3\b`).MatchString(line) {
		t.Errorf("audit line %q after two signals, want killed=3; stderr %q", line, r.stderr.String())
	}
	r.expectInterrupted()
	if !strings.Contains(r.stderr.String(), "audit line") {
		t.Errorf("stderr %q does not say what the second signal waits for", r.stderr.String())
	}
}

// TestIntegrationAuditThirdSignal: Ctrl-C three times while the system logger does not
// take the audit line: the second signal waits for the line, the third exits at once,
// 128+SIGINT, without it.
func TestIntegrationAuditThirdSignal(t *testing.T) {
	r := startStalledAuditWaiting(t)
	r.signal(2, 100*time.Millisecond)
	select {
	case <-r.exited:
		t.Fatalf("tcpreap exited on the second signal (%s); stderr %q", r.cmd.ProcessState, r.stderr.String())
	default:
	}
	start := time.Now()
	r.signal(1, 0)
	select {
	case <-r.exited:
	case <-time.After(time.Second):
		t.Fatalf("tcpreap still runs a second after the third signal; stderr %q", r.stderr.String())
	}
	t.Logf("exited %v after the third signal; stderr %q", time.Since(start), r.stderr.String())
	r.expectInterrupted()
	if !strings.Contains(r.stderr.String(), "a third signal exits at once") {
		t.Errorf("stderr %q does not say what a third signal does", r.stderr.String())
	}
}

// A stalledAudit is tcpreap -y run on 3 sockets of a peer whose audit line waits: the
// system logger's queue is full until the test reads it. It is started once the
// sockets are gone, and with its output, before any signal.
type stalledAudit struct {
	t      *testing.T
	cmd    *exec.Cmd
	exited chan struct{}
	stderr *strings.Builder
	sink   *syslogSink
	queued int // the datagrams that fill the logger's queue, ahead of the line
}

func startStalledAudit(t *testing.T, e *env) *stalledAudit {
	doomed := e.peerSet(e.listenV4(), 2).conns()
	r := &stalledAudit{t: t, exited: make(chan struct{}), stderr: &strings.Builder{}, sink: newSyslogSink(t)}
	filler, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: r.sink.path, Net: "unixgram"})
	e.check(err)
	t.Cleanup(func() { filler.Close() })
	for ; r.queued < 10000; r.queued++ {
		filler.SetWriteDeadline(time.Now().Add(20 * time.Millisecond))
		if _, err := filler.Write([]byte("<13>filler")); err != nil {
			break
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	r.cmd = e.Local.Command(ctx, "env", "TCPREAP_SYSLOG_SOCKET="+r.sink.path, bin, "-y", testnet.PeerV4.String())
	r.cmd.Stderr = r.stderr
	e.check(r.cmd.Start())
	go func() { r.cmd.Wait(); close(r.exited) }()
	t.Cleanup(func() { cancel(); <-r.exited })
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if _, ok := e.sockets().Find(doomed[0].local, doomed[0].remote); !ok {
			break
		}
	}
	expectGone(t, e.sockets(), doomed...)
	return r
}

// startStalledAuditWaiting is startStalledAudit once tcpreap is seen still
// waiting on its audit line. The line's own deadline (2 s) may pass before
// the test has seen the sockets go on a loaded machine, and tcpreap then
// exits as it should with no signal sent: that run says nothing of signals,
// so it is tried again, at most three times.
func startStalledAuditWaiting(t *testing.T) *stalledAudit {
	e := setup(t)
	for try := 1; ; try++ {
		r := startStalledAudit(t, e)
		select {
		case <-r.exited:
			if try == 3 {
				t.Fatalf("tcpreap exited before any signal in 3 runs (%s); stderr %q", r.cmd.ProcessState, r.stderr.String())
			}
			t.Logf("run %d: tcpreap exited before any signal, its audit line's deadline passed first (%s); stderr %q", try, r.cmd.ProcessState, r.stderr.String())
		default:
			return r
		}
	}
}

// signal sends n SIGINTs, pause after each.
func (r *stalledAudit) signal(n int, pause time.Duration) {
	for range n {
		if err := r.cmd.Process.Signal(syscall.SIGINT); err != nil {
			r.t.Fatal(err)
		}
		time.Sleep(pause)
	}
}

// expectInterrupted fails unless tcpreap exited 128+SIGINT.
func (r *stalledAudit) expectInterrupted() {
	if code := r.cmd.ProcessState.ExitCode(); code != 128+int(syscall.SIGINT) {
		r.t.Errorf("exit %d (%s), want %d", code, r.cmd.ProcessState, 128+int(syscall.SIGINT))
	}
}
