package commission

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/mattn/go-isatty"
)

// How often progress is shown. A bar on a terminal is redrawn ten times
// a second, often enough to look alive over a slow ssh session; a log
// file or pipe gets a line every few seconds, not one per slave id.
const (
	barEvery   = 100 * time.Millisecond
	plainEvery = 5 * time.Second
	barWidth   = 30
)

// progress shows how far a scan has come and when it will end: a bar
// redrawn in place when w is a terminal, plain lines otherwise.
type progress struct {
	w     io.Writer
	bar   bool
	every time.Duration
	total int
	now   func() time.Time

	start, shown time.Time
}

// newProgress returns the progress of a scan of total ids, shown on w.
func newProgress(w io.Writer, total int) *progress {
	p := &progress{w: w, total: total, every: plainEvery, now: time.Now}
	if f, ok := w.(*os.File); ok && isatty.IsTerminal(f.Fd()) {
		p.bar, p.every = true, barEvery
	}
	p.start = p.now()
	p.shown = p.start
	return p
}

// update shows that done ids are probed and found answered, when it is
// time to.
func (p *progress) update(done, found int) {
	now := p.now()
	if now.Sub(p.shown) < p.every {
		return
	}
	p.shown = now
	p.show(done, found, now)
}

// finish shows the last state and ends the bar's line.
func (p *progress) finish(done, found int) {
	p.show(done, found, p.now())
	if p.bar {
		fmt.Fprintln(p.w)
	}
}

func (p *progress) show(done, found int, now time.Time) {
	status := fmt.Sprintf("%d/%d ids, %d found, %s", done, p.total, found,
		p.eta(done, now))
	if !p.bar {
		fmt.Fprintf(p.w, "scan: %s\n", status)
		return
	}
	// \r returns to the line's start and ESC [K clears what a longer
	// status left behind.
	fmt.Fprintf(p.w, "\r%s %s\x1b[K", drawBar(done, p.total, barWidth), status)
}

// eta tells how long the rest takes at the pace so far.
func (p *progress) eta(done int, now time.Time) string {
	elapsed := now.Sub(p.start)
	switch {
	case done >= p.total:
		return "done in " + elapsed.Round(time.Millisecond).String()
	case done == 0:
		return "time left unknown"
	}
	left := elapsed * time.Duration(p.total-done) / time.Duration(done)
	return "about " + left.Round(time.Second).String() + " left"
}

// drawBar draws done of total as a bar of width cells.
func drawBar(done, total, width int) string {
	filled := width
	if total > 0 {
		filled = min(width, width*done/total)
	}
	return "[" + strings.Repeat("#", filled) + strings.Repeat("-", width-filled) + "]"
}
