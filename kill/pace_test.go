package kill_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tcpreap/tcpreap/inet"
	"github.com/tcpreap/tcpreap/kill"
	"github.com/tcpreap/tcpreap/sockdiag"
)

func TestParseRate(t *testing.T) {
	for word, want := range map[string]kill.Rate{
		"100/s": {100, time.Second}, "30/m": {30, time.Minute}, "500/h": {500, time.Hour},
		" 1/s ": {1, time.Second}, "1000000/s": {1_000_000, time.Second},
	} {
		got, err := kill.ParseRate(word)
		if err != nil || got != want {
			t.Errorf("ParseRate(%q) = %v, %v; want %v", word, got, err, want)
		}
		if err == nil && got.String() != strings.TrimSpace(word) {
			t.Errorf("Rate %v says itself %q, want %q", got, got.String(), strings.TrimSpace(word))
		}
	}
	for word, says := range map[string]string{
		"0": "a rate of 0", "0/s": "a rate of 0", "5": "5/s, 5/m or 5/h", "abc": "not a rate", "1.5/s": "not a rate",
		"-1/s": "not a rate", "5/d": "not a rate", "5/S": "not a rate", "": "not a rate", "1000001/s": "at most 1000000/s",
		"99999999999999999999/s": "at most", "5 /s": "not a rate",
	} {
		if _, err := kill.ParseRate(word); err == nil || !strings.Contains(err.Error(), says) {
			t.Errorf("ParseRate(%q): %v; want an error that says %q", word, err, says)
		}
	}
}

func TestParseSpread(t *testing.T) {
	for word, want := range map[string]time.Duration{"10m": 10 * time.Minute, "90s": 90 * time.Second, "1h30m": 90 * time.Minute, "24h": 24 * time.Hour} {
		if got, err := kill.ParseSpread(word); err != nil || got != want {
			t.Errorf("ParseSpread(%q) = %v, %v; want %v", word, got, err, want)
		}
	}
	for word, says := range map[string]string{"0s": "above zero", "-5m": "above zero", "10": "give a unit", "25h": "at most 24h", "soon": "not a duration", "": "not a duration"} {
		if _, err := kill.ParseSpread(word); err == nil || !strings.Contains(err.Error(), says) {
			t.Errorf("ParseSpread(%q): %v; want an error that says %q", word, err, says)
		}
	}
}

// pacedKernel is an Engine that records when each batch of destroys came,
// and whose sockets a test may change between batches (between).
type pacedKernel struct {
	mu      sync.Mutex
	now     map[sockdiag.Cookie]sockdiag.Socket
	start   time.Time
	at      []time.Duration
	sent    [][]sockdiag.Cookie
	between func(batch int)
}

func newPacedKernel(targets []sockdiag.Socket) *pacedKernel {
	k := &pacedKernel{now: map[sockdiag.Cookie]sockdiag.Socket{}, start: time.Now()}
	for _, s := range targets {
		k.now[s.ID.Cookie] = s
	}
	return k
}

func (*pacedKernel) Name() string { return "diag" }

func (k *pacedKernel) Destroy(_ context.Context, targets []sockdiag.Socket, progress func(int)) []error {
	k.mu.Lock()
	errs := make([]error, len(targets))
	var cookies []sockdiag.Cookie
	for i, s := range targets {
		cookies = append(cookies, s.ID.Cookie)
		if _, ok := k.now[s.ID.Cookie]; !ok {
			errs[i] = sockdiag.ErrGone
		}
		delete(k.now, s.ID.Cookie)
	}
	k.at = append(k.at, time.Since(k.start))
	k.sent = append(k.sent, cookies)
	n := len(k.sent)
	k.mu.Unlock()
	if progress != nil {
		progress(len(targets))
	}
	if k.between != nil {
		k.between(n)
	}
	return errs
}

func (k *pacedKernel) Lookup(_ context.Context, targets []sockdiag.Socket) []sockdiag.Seen {
	k.mu.Lock()
	defer k.mu.Unlock()
	seen := make([]sockdiag.Seen, len(targets))
	for i, s := range targets {
		seen[i].Now, seen[i].Present = k.now[s.ID.Cookie]
	}
	return seen
}

func (*pacedKernel) Doubtful(context.Context, *sockdiag.Socket, error) bool { return false }

func targets(n int) []sockdiag.Socket {
	var out []sockdiag.Socket
	for i := range n {
		out = append(out, socket(sockdiag.Established, uint16(40000+i), sockdiag.Cookie(1+i)))
	}
	return out
}

// TestPacedBatches: a rate and a spread send the targets in batches of
// 100 ms, each batch when it is due, so that the run takes as long as the
// pace says.
func TestPacedBatches(t *testing.T) {
	for _, pace := range []kill.Pace{{Rate: kill.Rate{N: 20, Per: time.Second}}, {Spread: 300 * time.Millisecond}} {
		plan := &kill.Plan{Targets: targets(6)}
		k := newPacedKernel(plan.Targets)
		settled := 0
		var mu sync.Mutex
		results := plan.ExecuteWith(t.Context(), k, kill.Options{Pacer: pace.Start(6), Progress: func(n int) { mu.Lock(); settled += n; mu.Unlock() }})
		if s := inet.Summarize(results); s.Killed != 6 || settled != 6 {
			t.Errorf("%v: summary %+v, progress %d; want 6 killed", pace, s, settled)
		}
		// 50 ms a target: two a batch, at 0, 100 and 200 ms.
		if len(k.sent) != 3 {
			t.Fatalf("%v: batches %v, want 3 of 2", pace, k.sent)
		}
		// Never before it is due; how late a loaded machine wakes the pacer
		// is not the pacer's to promise.
		for i, at := range k.at {
			due := time.Duration(i) * 100 * time.Millisecond
			if len(k.sent[i]) != 2 || at < due {
				t.Errorf("%v: batch %d of %d targets at %v, want 2, not before %v", pace, i, len(k.sent[i]), at, due)
			}
		}
	}
}

// TestPacedRecheck: a target that becomes another socket with its cookie
// while a paced run waits (here a LISTEN socket) is looked up just before
// its batch and kept back, not destroyed; one that closed answers gone.
func TestPacedRecheck(t *testing.T) {
	plan := &kill.Plan{Targets: targets(4), Skipped: []kill.Skip{{Socket: listener(9), Reason: kill.ReasonListen}}}
	k := newPacedKernel(plan.Targets)
	k.between = func(batch int) {
		if batch == 1 {
			k.mu.Lock()
			now := k.now[3]
			now.State = sockdiag.Listen
			k.now[3] = now
			delete(k.now, 4)
			k.mu.Unlock()
		}
	}
	pace := kill.Pace{Rate: kill.Rate{N: 20, Per: time.Second}} // two a batch
	results := plan.ExecuteWith(t.Context(), k, kill.Options{Pacer: pace.Start(4)})
	want := []struct {
		cookie sockdiag.Cookie
		action inet.Action
		reason kill.Reason
	}{{1, inet.Killed, kill.NoReason}, {2, inet.Killed, kill.NoReason}, {4, inet.Gone, kill.NoReason}, {3, inet.Skipped, kill.ReasonChanged}, {9, inet.Skipped, kill.ReasonListen}}
	if len(results) != len(want) {
		t.Fatalf("%d results, want %d", len(results), len(want))
	}
	for i, w := range want {
		r := results[i]
		if r.Socket.ID.Cookie != w.cookie || r.Action != w.action || r.Reason != w.reason {
			t.Errorf("result %d: cookie %d %v %v, want cookie %d %v %v", i, r.Socket.ID.Cookie, r.Action, r.Reason, w.cookie, w.action, w.reason)
		}
	}
	if results[3].Socket.State != sockdiag.Listen {
		t.Errorf("the changed socket is reported as %v, want as it is now (listen)", results[3].Socket.State)
	}
	for _, batch := range k.sent {
		for _, c := range batch {
			if c == 3 {
				t.Error("the socket that became a listener was sent a destroy")
			}
		}
	}
}

// TestPacedInterrupt: an interrupt while a paced run waits stops it at
// once: what was sent is reported, the rest failed, not attempted, with
// the interrupt's cause.
func TestPacedInterrupt(t *testing.T) {
	plan := &kill.Plan{Targets: targets(6)}
	k := newPacedKernel(plan.Targets)
	interrupt := errors.New("interrupted")
	ctx, cancel := context.WithCancelCause(t.Context())
	k.between = func(int) { cancel(interrupt) }
	pace := kill.Pace{Rate: kill.Rate{N: 2, Per: time.Second}} // one every 500 ms
	start := time.Now()
	results := plan.ExecuteWith(ctx, k, kill.Options{Pacer: pace.Start(6)})
	if took := time.Since(start); took > 200*time.Millisecond {
		t.Errorf("the interrupted run took %v, want it to stop at once", took)
	}
	if len(k.sent) != 1 || len(results) != 6 || results[0].Action != inet.Killed {
		t.Fatalf("batches %v, %d results; want the first target sent and killed", k.sent, len(results))
	}
	for _, r := range results[1:] {
		if r.Action != inet.Failed || !errors.Is(r.Err, sockdiag.ErrNotAttempted) || !errors.Is(r.Err, interrupt) {
			t.Errorf("cookie %d: %v %v, want failed, not attempted: interrupted", r.Socket.ID.Cookie, r.Action, r.Err)
		}
	}
}

// TestPaceStart: no pace, or nothing to pace, is no Pacer.
func TestPaceStart(t *testing.T) {
	if (kill.Pace{}).Start(10) != nil || (kill.Pace{Spread: time.Minute}).Start(0) != nil {
		t.Error("a Pacer for no pace or no targets")
	}
}
