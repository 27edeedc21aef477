package spool

import (
	"fmt"
	"math"
	"time"
)

// Pressure is what one Append removed to make room for its records.
type Pressure struct {
	HistoryDropped uint64    // acknowledged records removed early
	Thinned        uint64    // unsent readings removed by hourly or daily thinning
	Dropped        uint64    // unsent records removed outright (last resort)
	Oldest         time.Time // time of the oldest unsent record kept
}

// any tells whether anything was removed.
func (p Pressure) any() bool { return p.HistoryDropped+p.Thinned+p.Dropped > 0 }

// stage is one step of making room among the pending records, after
// the history is gone (see the package doc for the order).
type stage struct {
	// period is the length in seconds of the local period, an hour or a
	// day, in which the first reading of each meter is told apart; 0
	// when the stage does not need to know.
	period int64
	// pick tells whether a record of kind k is removed; first is whether
	// a reading is its meter's first in the period.
	pick func(k Kind, first bool) bool
	thin bool // removals count as thinned, else as dropped
}

const (
	hour = 3600
	day  = 24 * hour
)

var stages = []stage{
	{period: hour, pick: thinnable, thin: true},
	{period: day, pick: thinnable, thin: true},
	{period: day, pick: notClosing},
	{pick: func(Kind, bool) bool { return true }},
}

// thinnable picks the readings after a meter's first of a period.
func thinnable(k Kind, first bool) bool { return k == KindReading && !first }

// notClosing picks everything but the first reading of each meter's day:
// events and, had thinning not removed them all, other readings.
func notClosing(k Kind, first bool) bool { return k != KindReading || !first }

// makeRoom removes kept records until need more bytes fit, and counts
// what it removed in p and in the index.
func (w *txn) makeRoom(need int64, p *Pressure) error {
	freed, err := w.dropHistory(need)
	if err != nil {
		return err
	}
	p.HistoryDropped += freed.n
	need -= freed.bytes

	for _, st := range stages {
		if need <= 0 {
			break
		}
		freed, err := w.removePending(st, need)
		if err != nil {
			return err
		}
		if st.thin {
			p.Thinned += freed.n
			w.x.thinned += freed.n
		} else {
			p.Dropped += freed.n
			w.x.dropped += freed.n
		}
		need -= freed.bytes
	}
	if need > 0 {
		// Append checks that its records fit in an empty spool.
		return fmt.Errorf("%d bytes short after removing every record: %w", need, ErrTooLarge)
	}
	return nil
}

// freed is what a step removed.
type freed struct {
	n     uint64
	bytes int64
}

// dropHistory removes acknowledged records, oldest acknowledgement first,
// until need bytes are freed or none are left.
func (w *txn) dropHistory(need int64) (freed, error) {
	var f freed
	for f.bytes < need {
		h, ok := w.x.oldestHistory()
		if !ok {
			break
		}
		if err := w.history.Delete(seqKey(h.seq)); err != nil {
			return f, fmt.Errorf("cannot delete record %d: %w", h.seq, err)
		}
		w.x.popHistory()
		f.n++
		f.bytes += int64(h.size)
	}
	w.x.histDropped += f.n
	return f, nil
}

// removePending removes the pending records st picks, oldest first, until
// need bytes are freed or none are left. In time order the readings of
// one local period come together, so a meter's first in its period is
// the first one met after the period changes.
func (w *txn) removePending(st stage, need int64) (freed, error) {
	var f freed
	x := w.x
	seen := map[uint32]bool{}
	cur := int64(math.MinInt64)

	for i := x.head; i < len(x.pend) && f.bytes < need; i++ {
		e := &x.pend[i]
		if e.dead {
			continue
		}
		first := false
		if st.period > 0 && e.kind == KindReading {
			if k := w.period(e.time, st.period); k != cur {
				clear(seen)
				cur = k
			}
			first = !seen[e.meter]
			seen[e.meter] = true
		}
		if !st.pick(e.kind, first) {
			continue
		}

		if err := w.pending.Delete(seqKey(e.seq)); err != nil {
			return f, fmt.Errorf("cannot delete record %d: %w", e.seq, err)
		}
		f.n++
		f.bytes += int64(e.size)
		x.kill(e)
	}
	return f, nil
}

// period numbers the local period of length seconds that holds t, Unix
// nanoseconds: local wall-clock seconds divided by the length. Under a
// daylight-saving fall back the repeated hour follows the first, so the
// readings of a period still come together in time order.
func (w *txn) period(t, length int64) int64 {
	lt := time.Unix(0, t).In(w.s.loc)
	_, off := lt.Zone()
	s := lt.Unix() + int64(off)
	q := s / length
	if s%length < 0 {
		q--
	}
	return q
}
