package uplink

import (
	"math/rand/v2"
	"time"
)

// backoff spaces connection attempts. The n-th wait in a row is drawn
// uniformly from [d/2, d], where d = min·2ⁿ capped at max: it grows fast
// enough that a modem down for hours dials a few times an hour, and the
// random half keeps the agents of a whole city, cut off by one outage,
// from reconnecting to the centre in lockstep when it ends.
type backoff struct {
	min, max time.Duration
	next     time.Duration // d of the coming wait; 0 before the first
	rand     func(n int64) int64
}

func newBackoff(min, max time.Duration) *backoff {
	return &backoff{min: min, max: max, rand: rand.Int64N}
}

// wait returns the next wait and doubles the one after it.
func (b *backoff) wait() time.Duration {
	if b.next == 0 {
		b.next = b.min
	}
	d := b.next
	b.next = min(2*d, b.max)

	half := d / 2
	return d - half + time.Duration(b.rand(int64(half)+1))
}

// reset starts the waits from min again, after a connection held.
func (b *backoff) reset() { b.next = 0 }
