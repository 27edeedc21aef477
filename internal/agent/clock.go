package agent

import (
	"context"
	"sync"
	"time"
)

// Clock tells the time and waits. The scheduler reads time only through a
// Clock so that tests can drive it with a fake one instead of the wall.
type Clock interface {
	// Now returns the current wall-clock time.
	Now() time.Time
	// NewTimer returns a timer that fires once, d from now; a d of zero
	// or less fires at once.
	NewTimer(d time.Duration) Timer
}

// Timer is a one-shot timer made by a Clock.
type Timer interface {
	// C delivers the time the timer fired, once.
	C() <-chan time.Time
	// Stop prevents the timer from firing and reports whether it did so;
	// false means the timer had already fired or been stopped.
	Stop() bool
}

// systemClock is the Clock of the machine, used when Options.Clock is nil.
type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func (systemClock) NewTimer(d time.Duration) Timer {
	return systemTimer{time.NewTimer(d)}
}

type systemTimer struct{ t *time.Timer }

func (t systemTimer) C() <-chan time.Time { return t.t.C }
func (t systemTimer) Stop() bool          { return t.t.Stop() }

// Slots are counted from local midnight in elapsed time, so every 15m
// falls on :00, :15, :30 and :45 of the local clock, and a 24h interval
// on local midnight. On a day that a daylight saving change makes 23 or
// 25 hours long, the slot that would cross midnight is cut short there,
// which keeps every day starting on a slot. Kazakhstan keeps no DST
// since 2005, so there this never happens.

// slotStart returns the start of the slot of length every that holds t.
func slotStart(t time.Time, every time.Duration, loc *time.Location) time.Time {
	midnight := localMidnight(t, loc, 0)
	return midnight.Add(t.Sub(midnight).Truncate(every))
}

// slotAfter returns the start of the first slot that begins after t.
func slotAfter(t time.Time, every time.Duration, loc *time.Location) time.Time {
	next := slotStart(t, every, loc).Add(every)
	if m := localMidnight(t, loc, 1); next.After(m) {
		return m
	}
	return next
}

// slotAtOrAfter returns t when a slot begins at t, else slotAfter(t).
func slotAtOrAfter(t time.Time, every time.Duration, loc *time.Location) time.Time {
	if s := slotStart(t, every, loc); s.Equal(t) {
		return s
	}
	return slotAfter(t, every, loc)
}

// slotsBetween is how many slots of length every begin in [from, to).
// It counts in elapsed time, so it is off by one at most across a DST
// change (see above), which only matters to the counters.
func slotsBetween(from, to time.Time, every time.Duration) uint64 {
	if !to.After(from) {
		return 0
	}
	return uint64((to.Sub(from) + every - 1) / every)
}

// localMidnight returns the start of the local day of t in loc, moved by
// days days.
func localMidnight(t time.Time, loc *time.Location, days int) time.Time {
	y, m, d := t.In(loc).Date()
	return time.Date(y, m, d+days, 0, 0, 0, 0, loc)
}

// maxWait bounds one timer. Timers run on the monotonic clock but slots
// are set on the wall clock, so a step of the wall clock (NTP correcting
// a box that booted with a wrong time) is noticed within a minute rather
// than after a whole interval: a step forward by sleepUntil itself, and a
// step back by the stepWatch that the scheduler reads the clock through.
const maxWait = time.Minute

// sleepUntil waits until c reads until() or later. It asks until again
// after every timer, after reading c, so that a target which a step of
// the clock moved is waited for rather than the old one. It reports
// false when ctx is cancelled first.
func sleepUntil(ctx context.Context, c Clock, until func() time.Time) bool {
	for ctx.Err() == nil {
		now := c.Now()
		d := until().Sub(now)
		if d <= 0 {
			return true
		}

		timer := c.NewTimer(min(d, maxWait))
		select {
		case <-ctx.Done():
			timer.Stop()
			return false
		case <-timer.C():
		}
	}
	return false
}

// stepTolerance is how far the wall clock may move against the time
// elapsed before it counts as stepped. A kernel that inserts a leap
// second by repeating one goes back a second at most, NTP slews far less
// than that in a minute, and a wait that long longer costs no slot.
const stepTolerance = time.Second

// monotonic is a Clock that tells the time elapsed apart from the wall
// clock. The system clock does, through Go's monotonic reading; a test
// clock counts what it lets pass, and not its steps.
type monotonic interface {
	// Mono returns the time elapsed since some fixed moment, which no
	// step of the wall clock moves.
	Mono() time.Duration
}

// processStart anchors systemClock.Mono; it carries a monotonic reading.
var processStart = time.Now()

// Mono implements monotonic, from Go's monotonic reading.
func (systemClock) Mono() time.Duration { return time.Since(processStart) }

// stepWatch reads a Clock and notices when the wall clock is stepped:
// back, on a box whose clock ran ahead and was corrected by NTP, or
// forward, on one that booted with a wrong time or came back from
// suspend. Every bus reads the clock through the same watch, so a step
// is seen once, by the first reader, whatever the number of buses. It is
// safe for concurrent use.
type stepWatch struct {
	clock Clock

	mu       sync.Mutex // orders the readings: a late caller never sees an old one
	last     time.Time  // the latest reading
	lastMono time.Duration
	steps    int // steps seen so far
}

// now reads the clock. It returns how many steps have been seen so far,
// and how far this reading stepped, negative when back, if it was the
// one that saw a step, else 0.
//
// The step is the wall clock's elapsed time less the time really elapsed,
// which a monotonic Clock tells exactly. A Clock that is not monotonic,
// or times without monotonic readings, show only a step back, as time
// running backwards, and that step short by the time since the last
// reading: a minute at most while the bus waits (maxWait).
func (w *stepWatch) now() (now time.Time, steps int, step time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	now = w.clock.Now()
	mc, isMono := w.clock.(monotonic)
	var mono time.Duration
	if isMono {
		mono = mc.Mono()
	}

	if !w.last.IsZero() {
		wall := now.Round(0).Sub(w.last.Round(0)) // Round(0) drops the monotonic reading
		elapsed := max(now.Sub(w.last), 0)
		if isMono {
			elapsed = mono - w.lastMono
		}
		if d := wall - elapsed; d < -stepTolerance || isMono && d > stepTolerance {
			w.steps++
			step = d
		}
	}
	w.last, w.lastMono = now, mono
	return now, w.steps, step
}

// later returns the later of a and b.
func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
