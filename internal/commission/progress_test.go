package commission

import (
	"bytes"
	"testing"
	"time"
)

// fakeClock is a clock a test moves by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time       { return c.t }
func (c *fakeClock) move(d time.Duration) { c.t = c.t.Add(d) }

// testProgress returns the progress of a scan of 100 ids on a buffer,
// timed by a fake clock.
func testProgress(bar bool) (*progress, *bytes.Buffer, *fakeClock) {
	var buf bytes.Buffer
	clock := &fakeClock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	p := &progress{w: &buf, bar: bar, every: plainEvery, total: 100, now: clock.now,
		start: clock.t, shown: clock.t}
	if bar {
		p.every = barEvery
	}
	return p, &buf, clock
}

// TestProgressPlain steps a scan of 100 ids at one id a second: a pipe
// gets a line every 5 seconds with the time left, and one at the end.
func TestProgressPlain(t *testing.T) {
	p, buf, clock := testProgress(false)
	for done := 1; done <= 10; done++ {
		clock.move(time.Second)
		p.update(done, done/4)
	}
	p.finish(10, 2)

	want := "scan: 5/100 ids, 1 found, about 1m35s left\n" +
		"scan: 10/100 ids, 2 found, about 1m30s left\n" +
		"scan: 10/100 ids, 2 found, about 1m30s left\n"
	if buf.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", buf.String(), want)
	}
}

// TestProgressBar draws the bar in place, at most every barEvery, and
// ends its line when the scan ends.
func TestProgressBar(t *testing.T) {
	p, buf, clock := testProgress(true)
	clock.move(50 * time.Millisecond)
	p.update(1, 0) // too soon to draw
	clock.move(50 * time.Millisecond)
	p.update(2, 0)
	clock.move(4900 * time.Millisecond)
	p.finish(100, 3)

	want := "\r[------------------------------] 2/100 ids, 0 found, about 5s left\x1b[K" +
		"\r[##############################] 100/100 ids, 3 found, done in 5s\x1b[K\n"
	if buf.String() != want {
		t.Errorf("got:\n%q\nwant:\n%q", buf.String(), want)
	}
}

func TestDrawBar(t *testing.T) {
	tests := []struct {
		name        string
		done, total int
		want        string
	}{
		{"none", 0, 247, "[----------]"},
		{"a third", 82, 247, "[###-------]"},
		{"all", 247, 247, "[##########]"},
		{"nothing to do", 0, 0, "[##########]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := drawBar(tt.done, tt.total, 10); got != tt.want {
				t.Errorf("drawBar(%d, %d, 10) = %q, want %q", tt.done, tt.total, got, tt.want)
			}
		})
	}
}
