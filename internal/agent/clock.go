package agent

import (
	"context"
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
// than after a whole interval.
const maxWait = time.Minute

// sleepUntil waits until c reads t or later. It reports false when ctx
// is cancelled first.
func sleepUntil(ctx context.Context, c Clock, t time.Time) bool {
	for ctx.Err() == nil {
		d := t.Sub(c.Now())
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

// later returns the later of a and b.
func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
