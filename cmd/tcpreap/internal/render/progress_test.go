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
	p := StartProgress(&quick, 1000)
	p.Add(1000)
	p.Finish()
	time.Sleep(100 * time.Millisecond)
	if quick.String() != "" {
		t.Errorf("a run shorter than %v showed %q", progressAfter, quick.String())
	}

	var slow syncBuffer
	p = StartProgress(&slow, 1000)
	p.Add(300)
	time.Sleep(200 * time.Millisecond)
	p.Add(300)
	p.Finish()
	if out := slow.String(); !strings.Contains(out, "destroying") || !strings.Contains(out, "/1000") {
		t.Errorf("the bar of a long run: %q", out)
	}
	if StartProgress(nil, 10) != nil {
		t.Error("no terminal, and a bar")
	}
	var none *Progress
	none.Finish() // a run without a bar
}
