package main

import (
	"context"
	goio "io"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
)

// progressAfter is how long a destroy runs before it shows a progress bar.
var progressAfter = time.Second

// A progress is the bar of a long destroy on a terminal: done/total, rate,
// time left. It appears only after progressAfter, so a short run shows
// none.
type progress struct {
	mu    sync.Mutex
	bar   *progressbar.ProgressBar
	done  int
	total int
	w     goio.Writer
	stop  context.CancelFunc
}

// startProgress returns a progress for total targets on w; nil w: none.
func startProgress(w goio.Writer, total int) *progress {
	if w == nil {
		return nil
	}
	p := &progress{total: total, w: w}
	ctx, stop := context.WithCancel(context.Background())
	p.stop = stop
	after := progressAfter
	go func() {
		select {
		case <-time.After(after):
		case <-ctx.Done():
			return
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		if ctx.Err() != nil {
			return
		}
		p.bar = progressbar.NewOptions(p.total, progressbar.OptionSetWriter(p.w), progressbar.OptionSetDescription("destroying"),
			progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString("sockets"),
			progressbar.OptionSetWidth(30), progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionClearOnFinish())
		_ = p.bar.Set(p.done)
	}()
	return p
}

// add counts n more targets settled.
func (p *progress) add(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done += n
	if p.bar != nil {
		_ = p.bar.Set(p.done)
	}
}

// finish takes the bar off the terminal, before the report.
func (p *progress) finish() {
	if p == nil {
		return
	}
	p.stop()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		_ = p.bar.Finish()
	}
}
