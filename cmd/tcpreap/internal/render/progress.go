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

// finishWait is how long Finish waits for the bar to be taken off the
// terminal: one stopped with ^S takes no write, and the run must go on to
// its report and its audit line.
const finishWait = 250 * time.Millisecond

// A Progress is the bar of a long destroy on a terminal: done/total, rate,
// time left. It appears only after progressAfter, so a short run shows
// none. It is drawn by a goroutine of its own, so that a terminal that
// does not take its writes (stopped with ^S) holds neither the destroys
// that count their progress nor the end of the run.
type Progress struct {
	mu    sync.Mutex
	done  int
	total int
	w     io.Writer
	stop  context.CancelFunc
	drawn chan struct{} // closed when the bar is off the terminal
	what  string        // "destroying", "destroying at 100/s"
}

// StartProgress returns a Progress for total targets on w; nil w: none.
// pace, when not "", is the pace of a paced run ("at 100/s", PacePhrase),
// which the bar shows.
func StartProgress(w io.Writer, total int, pace string) *Progress {
	if w == nil {
		return nil
	}
	ctx, stop := context.WithCancel(context.Background())
	p := &Progress{total: total, w: w, stop: stop, drawn: make(chan struct{}), what: "destroying"}
	if pace != "" {
		p.what += " " + pace
	}
	go p.draw(ctx, progressAfter)
	return p
}

// draw shows the bar after a while, redraws it as the count moves, and
// takes it off when the run ends.
func (p *Progress) draw(ctx context.Context, after time.Duration) {
	defer close(p.drawn)
	select {
	case <-time.After(after):
	case <-ctx.Done():
		return
	}
	bar := progressbar.NewOptions(p.total, progressbar.OptionSetWriter(p.w), progressbar.OptionSetDescription(p.what),
		progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString("sockets"),
		progressbar.OptionSetWidth(30), progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionClearOnFinish())
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		p.mu.Lock()
		done := p.done
		p.mu.Unlock()
		_ = bar.Set(min(done, p.total)) // a plan file's target found gone settles too
		select {
		case <-ctx.Done():
			_ = bar.Finish()
			return
		case <-tick.C:
		}
	}
}

// Add counts n more targets settled.
func (p *Progress) Add(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done += n
}

// Finish takes the bar off the terminal, before the report, waiting at
// most finishWait; a nil Progress has none to take.
func (p *Progress) Finish() {
	if p == nil {
		return
	}
	p.stop()
	select {
	case <-p.drawn:
	case <-time.After(finishWait):
	}
}
