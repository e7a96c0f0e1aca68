package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tcpreap/tcpreap/cmd/tcpreap/internal/audit"
	"github.com/tcpreap/tcpreap/inet"
	"github.com/tcpreap/tcpreap/kill"
	"github.com/tcpreap/tcpreap/reap"
	"github.com/tcpreap/tcpreap/sockdiag"
	"github.com/tcpreap/tcpreap/sockdiag/sockdiagtest"
)

// TestSurvivorExitsOne: a kernel that answers 0 and keeps the socket (before
// 6.11, for orphans) gives failed results, the sentence once, and exit 1.
func TestSurvivorExitsOne(t *testing.T) {
	plan := testPlan()
	for i := range plan.Targets {
		plan.Targets[i].Inode = 0 // orphans, which the kernel looks after until their close ends
	}
	k := &sockdiagtest.Kernel{Sockets: slices.Clone(plan.Targets), Ineffective: true, Release: sockdiag.Release{Major: 6, Minor: 6}}
	results := plan.Execute(t.Context(), k.Conn())
	var stdout, stderr bytes.Buffer
	c := &fakeCut{out: socketOutcome{reap.NewReport(false, reap.Group{Results: results})}}
	err := act(t.Context(), &command{}, &actFlags{noAudit: true}, streams{Out: &stdout, ErrOut: &stderr}, c)
	var ee exitError
	if !errors.As(err, &ee) || ee.code != exitFailure {
		t.Fatalf("failures: %v, want exit %d", err, exitFailure)
	}
	if n := strings.Count(stderr.String(), "still there"); n != 1 {
		t.Errorf("stderr %q: want the sentence once", stderr.String())
	}
	for _, r := range results[:len(plan.Targets)] {
		if r.Socket.IsTimeWait() {
			continue // its 0 is the truth: no orphan
		}
		if r.Action != inet.Failed || !errors.Is(r.Err, sockdiag.ErrStillPresent) {
			t.Errorf("%s: %s %v, want failed: still present", r.Socket.State, r.Action, r.Err)
		}
	}
}

// TestPendingExitsOne: destroys pending behind a held lock are no success: exit 1, and
// the sentence about the held lock once.
func TestPendingExitsOne(t *testing.T) {
	plan := testPlan()
	results := []kill.Result{
		{Socket: &plan.Targets[0], Action: inet.Killed},
		{Socket: &plan.Targets[1], Action: inet.Pending, Err: fmt.Errorf("%w: %w", sockdiag.ErrLockHeld, sockdiag.ErrPending)},
		{Socket: &plan.Targets[2], Action: inet.Pending, Err: fmt.Errorf("%w: %w", sockdiag.ErrQueued, sockdiag.ErrPending)},
	}
	var stdout, stderr bytes.Buffer
	c := &fakeCut{out: socketOutcome{reap.NewReport(false, reap.Group{Results: results})}}
	err := act(t.Context(), &command{}, &actFlags{noAudit: true}, streams{Out: &stdout, ErrOut: &stderr}, c)
	var ee exitError
	if !errors.As(err, &ee) || ee.code != exitFailure {
		t.Fatalf("pending destroys: %v, want exit %d", err, exitFailure)
	}
	if n := strings.Count(stderr.String(), "may still be destroyed when it is released"); n != 1 {
		t.Errorf("stderr %q: want the held lock's sentence once", stderr.String())
	}
	if !strings.Contains(stdout.String(), "2 pending: may still be destroyed") {
		t.Errorf("stdout %q does not count the pending destroys", stdout.String())
	}
}

// TestMaxAndConfirmRefuse: --max and a declined confirmation refuse the
// whole plan before anything is destroyed.
func TestMaxAndConfirmRefuse(t *testing.T) {
	for _, tc := range []struct {
		a    actFlags
		io   streams
		want string
	}{
		{actFlags{maxFlag: maxFlag{max: 2, set: true}}, streams{}, "3 sockets would be destroyed, more than --max 2"},
		{actFlags{}, streams{Terminal: func() (io.ReadWriteCloser, error) { return &fakeTTY{in: strings.NewReader("n\n")}, nil }}, "not confirmed"},
	} {
		var stdout, stderr bytes.Buffer
		tc.io.Out, tc.io.ErrOut = &stdout, &stderr
		tc.a.noAudit = true
		c := &fakeCut{n: 3}
		err := act(t.Context(), &command{}, &tc.a, tc.io, c)
		var rf refusal
		if !errors.As(err, &rf) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "nothing was destroyed") {
			t.Errorf("%+v: %v, want a refusal %q", tc.a, err, tc.want)
		}
		if c.executed {
			t.Errorf("%+v: executed after a refusal", tc.a)
		}
		// With --json, the refused run still ends in its summary object, which
		// says why.
		stdout.Reset()
		tc.a.json = true
		act(t.Context(), &command{}, &tc.a, tc.io, c)
		var out struct{ Summary map[string]any }
		if err := json.Unmarshal(stdout.Bytes(), &out); err != nil || out.Summary["would_kill"] != 3.0 || out.Summary["skipped"] != 1.0 ||
			out.Summary["killed"] != 0.0 || !strings.Contains(fmt.Sprint(out.Summary["refused"]), tc.want) {
			t.Errorf("%+v --json: %q (%v), want the summary with why it was refused", tc.a, stdout.String(), err)
		}
	}
}

// TestProgressOnlyWhenTold: a long execution shows the progress bar on the
// terminal when the cut tells its progress (sockets), and none when it
// cannot (conntrack entries): a bar that never moves says nothing true.
func TestProgressOnlyWhenTold(t *testing.T) {
	for _, tells := range []bool{true, false} {
		var stdout, stderr, bar bytes.Buffer
		c := &fakeCut{n: 3, tells: tells, takes: 1200 * time.Millisecond,
			out: socketOutcome{reap.NewReport(false, reap.Group{Results: testPlan().DryRun()})}}
		if err := act(t.Context(), &command{}, &actFlags{noAudit: true}, streams{Out: &stdout, ErrOut: &stderr, Progress: &bar}, c); err != nil {
			t.Fatal(err)
		}
		if shown := bar.Len() > 0; shown != tells {
			t.Errorf("a cut that tells its progress: %v; the bar shown: %v (%q)", tells, shown, bar.String())
		}
	}
}

// TestReportLostAfterActing: when the report cannot be written (stdout a
// pipe whose reader left) after targets were destroyed, the run says the
// write's error itself and ends as one that reported: an interruption that
// came meanwhile must not make it "nothing was destroyed" (runArgs says
// that of an error that did not report).
func TestReportLostAfterActing(t *testing.T) {
	ctx, cancel := context.WithCancelCause(t.Context())
	cancel(interruption{syscall.SIGTERM})
	plan := testPlan()
	results := plan.DryRun()
	for i := range results {
		results[i].Action = inet.Killed
	}
	var stderr bytes.Buffer
	c := &fakeCut{n: len(plan.Targets), out: socketOutcome{reap.NewReport(false, reap.Group{Results: results})}}
	err := act(ctx, &command{}, &actFlags{noAudit: true}, streams{Out: failingWriter{}, ErrOut: &stderr}, c)
	var ee exitError
	if !errors.As(err, &ee) || ee.code != exitFailure {
		t.Errorf("the report lost after 3 destroys: %v, want exit %d, already said", err, exitFailure)
	}
	if !strings.Contains(stderr.String(), "broken pipe") {
		t.Errorf("stderr %q: want the write's error", stderr.String())
	}
}

// TestAuditNotHeldByStdout: the audit line of a run that destroyed is
// written while the report waits on a stdout nobody reads (a pager, a
// terminal stopped with ^S): a second signal exits at once, and the record
// must not depend on the reader.
func TestAuditNotHeldByStdout(t *testing.T) {
	sink, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: filepath.Join(t.TempDir(), "log"), Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	t.Setenv(audit.SocketEnv, sink.LocalAddr().String())
	results := testPlan().DryRun()
	for i := range results {
		results[i].Action = inet.Killed
	}
	out := blockedWriter{release: make(chan struct{})}
	c := &fakeCut{n: len(results), out: socketOutcome{reap.NewReport(false, reap.Group{NetNS: "web1", Results: results})}}
	done := make(chan error, 1)
	go func() {
		done <- act(t.Context(), &command{args: []string{"tcpreap", "192.0.2.2"}}, &actFlags{}, streams{Out: out, ErrOut: io.Discard}, c)
	}()
	_ = sink.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 4096)
	n, err := sink.Read(buf)
	close(out.release)
	if err != nil {
		t.Errorf("no audit line while stdout was blocked: %v", err)
	} else if line := string(buf[:n]); !strings.Contains(line, "killed=3") || !strings.Contains(line, `netns="web1"`) {
		t.Errorf("audit line %q, want killed=3 in the namespace acted in", line)
	}
	if err := <-done; err != nil {
		t.Errorf("act: %v", err)
	}
}

// blockedWriter is stdout that takes nothing until release is closed.
type blockedWriter struct{ release chan struct{} }

func (w blockedWriter) Write(p []byte) (int, error) {
	<-w.release
	return len(p), nil
}

// failingWriter is stdout whose reader has gone.
type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, syscall.EPIPE }

// A fakeCut is a plan of n targets whose execution gives out, after takes;
// tells: it tells its progress.
type fakeCut struct {
	n        int
	out      outcome
	executed bool
	tells    bool
	takes    time.Duration
}

func (*fakeCut) words() cutWords       { return socketWords }
func (c *fakeCut) targets() int        { return c.n }
func (c *fakeCut) skipped() int        { return 1 }
func (c *fakeCut) summary() string     { return "a plan" }
func (c *fakeCut) tellsProgress() bool { return c.tells }
func (c *fakeCut) pace() string        { return "" }
func (c *fakeCut) execute(_ context.Context, progress func(int)) outcome {
	c.executed = true
	time.Sleep(c.takes)
	if c.tells && progress != nil {
		progress(c.n)
	}
	return c.out
}

// testPlan is three connections with a peer, in the states whose destroy a
// kernel answers alike (ESTABLISHED, CLOSE_WAIT) or not (TIME_WAIT).
func testPlan() *kill.Plan {
	plan := &kill.Plan{}
	for i, state := range []sockdiag.State{sockdiag.CloseWait, sockdiag.Established, sockdiag.TimeWait} {
		plan.Targets = append(plan.Targets, sockdiag.Socket{Protocol: inet.TCP, Family: inet.IPv4, State: state, UID: 1000, Inode: 77,
			ID: sockdiag.SockID{Local: netip.MustParseAddrPort("192.0.2.1:5432"), Remote: netip.AddrPortFrom(netip.MustParseAddr("192.0.2.2"), uint16(40000+i)),
				Cookie: sockdiag.Cookie(5 + i)}})
	}
	return plan
}

// TestAuditNamesTheNamespacesActedIn: a run over every namespace has a group
// for each, most of them with nothing in them; the audit line names the ones
// a destroy was sent in (a kernel's skip of TIME_WAIT too), not every one
// looked at, which would push the ones acted in out of its bounded field.
func TestAuditNamesTheNamespacesActedIn(t *testing.T) {
	results := testPlan().DryRun()
	killed, guarded, timeWait := results[0], results[1], results[2]
	killed.Action = inet.Killed
	guarded.Action, guarded.Reason = inet.Skipped, kill.ReasonSession
	timeWait.Action, timeWait.Reason = inet.Skipped, kill.ReasonTimeWait
	out := socketOutcome{reap.NewReport(false,
		reap.Group{NetNS: strings.Repeat("x", 200)},
		reap.Group{NetNS: "guarded", Results: []kill.Result{guarded}},
		reap.Group{NetNS: "web1", Results: []kill.Result{killed}},
		reap.Group{},
		reap.Group{NetNS: "pid:4711 (nginx)", Results: []kill.Result{guarded, timeWait}},
	)}
	if got, want := out.spaces(), []string{"web1", "pid:4711 (nginx)"}; !slices.Equal(got, want) {
		t.Errorf("spaces %q, want %q", got, want)
	}
}

// TestAuditNamesItsOwnNamespaceByItsID: over every namespace, the one
// tcpreap runs in has a label like the others' ("pid:1 (systemd)"); the
// audit line names it by its identity, as it does without --all-netns.
func TestAuditNamesItsOwnNamespaceByItsID(t *testing.T) {
	results := testPlan().DryRun()[:1]
	results[0].Action = inet.Killed
	out := socketOutcome{reap.NewReport(false,
		reap.Group{NetNS: "pid:1 (systemd)", Here: true, Results: results},
		reap.Group{NetNS: "web1", Results: results},
	)}
	if got, want := out.spaces(), []string{"", "web1"}; !slices.Equal(got, want) {
		t.Errorf("spaces %q, want %q", got, want)
	}
}
