package uplink

import "time"

// throttle lets one log line through per period and counts the others;
// a line with another message than the last one always goes through,
// because a changed cause is news to whoever reads the log.
type throttle struct {
	last       time.Time
	lastMsg    string
	suppressed int
}

// allow reports whether a line with msg may be logged at now and, if
// so, how many were held back since the last one. A now before the last
// line means the wall clock stepped back, and lets a line through.
func (t *throttle) allow(now time.Time, every time.Duration, msg string) (int, bool) {
	d := now.Sub(t.last)
	if msg == t.lastMsg && !t.last.IsZero() && d >= 0 && d < every {
		t.suppressed++
		return 0, false
	}
	n := t.suppressed
	t.last, t.lastMsg, t.suppressed = now, msg, 0
	return n, true
}
