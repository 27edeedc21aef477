package agent

import (
	"runtime/debug"
	"sync"
	"time"

	"github.com/esep-kz/esep/internal/reading"
)

// releaseFloor is the earliest time a set clock can read when the binary
// carries no commit time (go run, go test, a build outside git): no
// esep was built before it.
var releaseFloor = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

// ClockFloor returns the earliest time the agent's clock can read once
// it is set: the time of the commit the binary was built from, or
// releaseFloor without it. A box without a battery-backed clock boots
// in 1970 or 2000 and keeps that time until NTP reaches it, which over a
// GSM uplink may take hours; readings stamped meanwhile carry dates
// that never happened.
func ClockFloor() time.Time {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return releaseFloor
	}
	for _, s := range bi.Settings {
		if s.Key != "vcs.time" {
			continue
		}
		if t, err := time.Parse(time.RFC3339, s.Value); err == nil && t.After(releaseFloor) {
			return t
		}
	}
	return releaseFloor
}

// clockCheck flags readings stamped by a clock that reads before the
// floor, and tells when the clock goes below or back above it.
type clockCheck struct {
	floor time.Time

	mu       sync.Mutex // buses answer in parallel
	unsynced bool
}

// flag marks r's numbers ClockUnsynced when now is before the floor,
// and returns the kind of event to emit for a change: ClockUnsynced when
// the clock went below the floor, ClockSynced when it came back above,
// or 0.
func (c *clockCheck) flag(r *reading.Reading, now time.Time) EventKind {
	c.mu.Lock()
	defer c.mu.Unlock()

	below := now.Before(c.floor)
	if below {
		for i := range r.Values {
			if r.Values[i].Quality == reading.Good {
				r.Values[i].Quality = reading.ClockUnsynced
			}
		}
	}
	switch {
	case below == c.unsynced:
		return 0
	case below:
		c.unsynced = true
		return ClockUnsynced
	default:
		c.unsynced = false
		return ClockSynced
	}
}
