package sim

import (
	"fmt"
	"math"
	"time"
)

// Clock tells the simulated time at which meters take their values. A
// meter's values are a function of that time alone, so a test that
// sets the time reads exactly what it set.
type Clock interface {
	Now() time.Time
}

// maxTimeScale bounds ScaledClock's rate: a day in under a second is more
// than any demo needs.
const maxTimeScale = 100_000

// ScaledClock is simulated time that starts at a given instant and runs
// a fixed number of times as fast as the wall clock: 1 is real time,
// 1440 a day in a minute. It is safe for concurrent use.
type ScaledClock struct {
	start time.Time // simulated time when the clock was made
	wall  time.Time // wall time then, with its monotonic reading
	scale float64
}

// NewScaledClock returns a clock that reads start now and advances scale
// simulated seconds a second.
func NewScaledClock(start time.Time, scale float64) (*ScaledClock, error) {
	if !(scale > 0 && scale <= maxTimeScale) {
		return nil, fmt.Errorf("cannot run a clock %v times as fast as real time "+
			"(allowed: above 0 up to %d): %w", scale, maxTimeScale, ErrInvalidConfig)
	}
	return &ScaledClock{start: start, wall: time.Now(), scale: scale}, nil
}

// Now returns the simulated time. It counts in seconds, not in a
// Duration, which a fast clock would overflow within a day of running.
func (c *ScaledClock) Now() time.Time {
	sec, frac := math.Modf(time.Since(c.wall).Seconds() * c.scale)
	ns := int64(c.start.Nanosecond()) + int64(frac*float64(time.Second))
	return time.Unix(c.start.Unix()+int64(sec), ns).In(c.start.Location())
}

// Start returns the simulated time the clock started at.
func (c *ScaledClock) Start() time.Time { return c.start }

// Scale returns how many simulated seconds pass in a second.
func (c *ScaledClock) Scale() float64 { return c.scale }
