package render

import (
	"context"
	"io"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
)

// progressAfter is how long a destroy runs before it shows a progress bar.
var progressAfter = time.Second

// A Progress is the bar of a long destroy on a terminal: done/total, rate,
// time left. It appears only after progressAfter, so a short run shows
// none.
type Progress struct {
	mu    sync.Mutex
	bar   *progressbar.ProgressBar
	done  int
	total int
	w     io.Writer
	stop  context.CancelFunc
}

// StartProgress returns a Progress for total targets on w; nil w: none.
func StartProgress(w io.Writer, total int) *Progress {
	if w == nil {
		return nil
	}
	p := &Progress{total: total, w: w}
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

// Add counts n more targets settled.
func (p *Progress) Add(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done += n
	if p.bar != nil {
		_ = p.bar.Set(p.done)
	}
}

// Finish takes the bar off the terminal, before the report; a nil Progress
// has none to take.
func (p *Progress) Finish() {
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
