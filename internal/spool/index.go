package spool

import (
	"cmp"
	"slices"
	"time"
)

// entry is what the index keeps of a pending record: enough to choose
// what to thin or drop without reading the file.
type entry struct {
	time  int64 // record time, Unix nanoseconds
	seq   uint64
	size  uint32 // recordSize
	meter uint32 // index into index.names
	kind  Kind
	dead  bool // acknowledged or removed; compacted away later
}

// histEntry is an acknowledged record kept for resend requests.
type histEntry struct {
	ack  int64 // acknowledgement time, Unix nanoseconds
	seq  uint64
	size uint32
}

// index is the spool's memory of what the file holds: the pending
// records in time order, the history in acknowledgement order, and the
// counters. It is owned by the committer goroutine and changed only
// within a transaction; a failed commit reloads it from the file.
type index struct {
	pend  []entry // by (time, seq)
	head  int     // no live entry before it
	dead  int     // dead entries in pend
	count int     // live entries in pend
	bytes int64   // of the live entries

	hist      []histEntry // by acknowledgement, oldest first from histHead
	histHead  int
	histBytes int64

	meters map[string]uint32
	names  []string

	nextSeq                       uint64
	thinned, dropped, histDropped uint64
}

func newIndex() *index {
	return &index{meters: map[string]uint32{}, nextSeq: 1}
}

func compareEntry(a entry, time int64, seq uint64) int {
	return cmp.Or(cmp.Compare(a.time, time), cmp.Compare(a.seq, seq))
}

// meterID interns a meter ID: the index keeps a number per entry.
func (x *index) meterID(meter string) uint32 {
	id, ok := x.meters[meter]
	if !ok {
		id = uint32(len(x.names))
		x.meters[meter] = id
		x.names = append(x.names, meter)
	}
	return id
}

// add puts a pending record in its place by time. Records mostly come in
// time order, so the place is at or near the end.
func (x *index) add(r *Record) {
	e := entry{time: r.Time.UnixNano(), seq: r.Seq, size: uint32(recordSize(r)),
		meter: x.meterID(r.Meter), kind: r.Kind}
	i, _ := slices.BinarySearchFunc(x.pend, e, func(a, b entry) int {
		return compareEntry(a, b.time, b.seq)
	})
	x.pend = slices.Insert(x.pend, i, e)
	x.head = min(x.head, i)
	x.count++
	x.bytes += int64(e.size)
}

// find returns the live entry of the record of seq at time t, or nil.
func (x *index) find(t int64, seq uint64) *entry {
	i, ok := slices.BinarySearchFunc(x.pend, t, func(a entry, t int64) int {
		return compareEntry(a, t, seq)
	})
	if !ok || x.pend[i].dead {
		return nil
	}
	return &x.pend[i]
}

// kill marks e, a live entry, as gone from the pending set.
func (x *index) kill(e *entry) {
	e.dead = true
	x.dead++
	x.count--
	x.bytes -= int64(e.size)
}

// compact drops dead entries once they are half the slice, so that the
// cost is spread over as many removals as it moves entries.
func (x *index) compact() {
	if x.dead < 1024 || x.dead < len(x.pend)/2 {
		return
	}
	x.pend = slices.DeleteFunc(x.pend, func(e entry) bool { return e.dead })
	x.pend = slices.Clip(x.pend)
	x.head, x.dead = 0, 0
}

// oldest returns the time of the oldest pending record, or the zero time.
func (x *index) oldest() time.Time {
	for x.head < len(x.pend) && x.pend[x.head].dead {
		x.head++
	}
	if x.head == len(x.pend) {
		return time.Time{}
	}
	return time.Unix(0, x.pend[x.head].time).UTC()
}

// addHistory appends an acknowledged record; acknowledgements come in
// time order, but for a clock stepped back, which only delays a prune.
func (x *index) addHistory(h histEntry) {
	x.hist = append(x.hist, h)
	x.histBytes += int64(h.size)
}

// oldestHistory returns the oldest acknowledged record, if any.
func (x *index) oldestHistory() (histEntry, bool) {
	if x.histHead == len(x.hist) {
		return histEntry{}, false
	}
	return x.hist[x.histHead], true
}

// popHistory forgets the oldest acknowledged record.
func (x *index) popHistory() {
	x.histBytes -= int64(x.hist[x.histHead].size)
	x.histHead++
	if x.histHead >= 1024 && x.histHead >= len(x.hist)/2 {
		x.hist = slices.Clone(x.hist[x.histHead:])
		x.histHead = 0
	}
}

// historyLen is the number of acknowledged records kept.
func (x *index) historyLen() int { return len(x.hist) - x.histHead }

// total is the logical bytes of everything kept.
func (x *index) total() int64 { return x.bytes + x.histBytes }

// sortHistory orders the history loaded from the file by acknowledgement.
func (x *index) sortHistory() {
	slices.SortFunc(x.hist, func(a, b histEntry) int {
		return cmp.Or(cmp.Compare(a.ack, b.ack), cmp.Compare(a.seq, b.seq))
	})
}

// sortEntries orders pending entries by (time, seq).
func sortEntries(es []entry) {
	slices.SortFunc(es, func(a, b entry) int { return compareEntry(a, b.time, b.seq) })
}
