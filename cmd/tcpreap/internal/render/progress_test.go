package render

import (
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a buffer the bar's goroutine and the test share.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestProgress(t *testing.T) {
	old := progressAfter
	progressAfter = 50 * time.Millisecond
	defer func() { progressAfter = old }()

	var quick syncBuffer
	p := StartProgress(&quick, 1000, "")
	p.Add(1000)
	p.Finish()
	time.Sleep(100 * time.Millisecond)
	if quick.String() != "" {
		t.Errorf("a run shorter than %v showed %q", progressAfter, quick.String())
	}

	var slow syncBuffer
	p = StartProgress(&slow, 1000, "")
	p.Add(300)
	time.Sleep(200 * time.Millisecond)
	p.Add(300)
	p.Finish()
	if out := slow.String(); !strings.Contains(out, "destroying") || !strings.Contains(out, "/1000") {
		t.Errorf("the bar of a long run: %q", out)
	}
	if StartProgress(nil, 10, "") != nil {
		t.Error("no terminal, and a bar")
	}
	var none *Progress
	none.Finish() // a run without a bar
}

// stoppedTerminal is a terminal stopped with ^S: a write waits until
// release is closed.
type stoppedTerminal struct{ release chan struct{} }

func (w stoppedTerminal) Write(p []byte) (int, error) {
	<-w.release
	return len(p), nil
}

// TestProgressNotHeldByTheTerminal: the bar of a terminal that does not
// take its writes (stopped with ^S) holds neither the destroys that count
// their progress (Add) nor the end of the run (Finish), after which the
// audit line is written.
func TestProgressNotHeldByTheTerminal(t *testing.T) {
	old := progressAfter
	progressAfter = 10 * time.Millisecond
	defer func() { progressAfter = old }()
	term := stoppedTerminal{release: make(chan struct{})}
	defer close(term.release)
	p := StartProgress(term, 1000, "")
	time.Sleep(50 * time.Millisecond) // the bar is shown, its write waits
	done := make(chan struct{})
	go func() {
		for range 10 {
			p.Add(100)
			time.Sleep(20 * time.Millisecond)
		}
		p.Finish()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		t.Fatal("Add and Finish wait on a terminal that does not take the bar")
	}
}
