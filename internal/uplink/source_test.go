package uplink

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/esep-kz/esep/internal/reading"
	"github.com/esep-kz/esep/internal/spool"
	"github.com/esep-kz/esep/internal/wire"
)

// memSource is an in-memory Source with the spool's contract: records
// numbered from 1, pending until acknowledged, held for Lookup until
// forgotten. Unlike the spool it counts every Ack of every record, and
// its history can be cut at will, which the tests of acknowledgement and
// of resend requests need; the tests of delivery use the real spool.
type memSource struct {
	mu        sync.Mutex
	recs      []Record
	acks      []int  // acknowledgements per record, by Seq-1
	first     int    // index of the first record not acknowledged
	forgotten uint64 // records up to this Seq are gone
	notify    chan struct{}
}

func newMemSource() *memSource {
	return &memSource{notify: make(chan struct{}, 1)}
}

// add appends n records of kind, valid in payload schema v1.
func (m *memSource) add(t testing.TB, kind Kind, n int) {
	t.Helper()
	m.mu.Lock()
	first := uint64(len(m.recs) + 1)
	m.mu.Unlock()
	m.addRecords(testRecords(t, kind, first, n)...)
}

// addRecords appends recs as they are, numbering them.
func (m *memSource) addRecords(recs ...Record) {
	m.mu.Lock()
	for _, r := range recs {
		r.Seq = uint64(len(m.recs) + 1)
		m.recs = append(m.recs, r)
		m.acks = append(m.acks, 0)
	}
	m.mu.Unlock()
	select {
	case m.notify <- struct{}{}:
	default:
	}
}

// testRecords makes n records of kind numbered from first: a cold-water
// index (about 140 bytes encoded) or a meter coming back online.
func testRecords(t testing.TB, kind Kind, first uint64, n int) []Record {
	t.Helper()
	recs := make([]Record, n)
	for i := range recs {
		seq := first + uint64(i)
		meter := fmt.Sprintf("apt-%03d-cw", seq%150)
		at := time.Date(2026, 3, 1, 5, 0, 0, 0, time.UTC).Add(time.Duration(seq) * time.Second)
		var data []byte
		var err error
		if kind == KindEvent {
			data, err = wire.EncodeEvent(wire.Event{Kind: wire.MeterOnline, Meter: meter, Time: at})
		} else {
			data, err = wire.EncodeReading(coldWater(t, meter, at, seq))
		}
		if err != nil {
			t.Fatalf("encode record %d: %v", seq, err)
		}
		recs[i] = Record{Seq: seq, Kind: kind, Meter: meter, Time: at, Data: data}
	}
	return recs
}

func coldWater(t testing.TB, meter string, at time.Time, seq uint64) reading.Reading {
	t.Helper()
	v, err := reading.NewValue("volume_m3", decimal.New(int64(100_000+seq), -3), 3)
	if err != nil {
		t.Fatal(err)
	}
	return reading.Reading{Meter: meter, Time: at, Values: []reading.Value{v}}
}

func (m *memSource) Pending(after uint64, limit, maxBytes int) ([]Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Record
	size := 0
	for i := max(m.first, int(after)); i < len(m.recs) && len(out) < limit; i++ {
		if m.acks[i] > 0 {
			continue
		}
		if len(out) > 0 && size+len(m.recs[i].Data) > maxBytes {
			break
		}
		size += len(m.recs[i].Data)
		out = append(out, m.recs[i])
	}
	return out, nil
}

func (m *memSource) Ack(seqs ...uint64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range seqs {
		m.acks[s-1]++
	}
	for m.first < len(m.acks) && m.acks[m.first] > 0 {
		m.first++
	}
	return nil
}

func (m *memSource) Lookup(from, to uint64) ([]Record, []Range, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var held []Record
	var gone []Range
	if from <= m.forgotten {
		gone = append(gone, Range{From: from, To: min(to, m.forgotten)})
	}
	for s := max(from, m.forgotten+1); s <= to && s <= uint64(len(m.recs)); s++ {
		held = append(held, m.recs[s-1])
	}
	return held, gone, nil
}

func (m *memSource) Notify() <-chan struct{} { return m.notify }

// forget drops the history up to seq, as the spool's expiry does.
func (m *memSource) forget(seq uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.forgotten = seq
}

// ackCounts returns how many records there are, how many were
// acknowledged at least once and the Seqs acknowledged more than once.
func (m *memSource) ackCounts() (total, acked int, twice []uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, n := range m.acks {
		if n > 0 {
			acked++
		}
		if n > 1 {
			twice = append(twice, uint64(i+1))
		}
	}
	return len(m.acks), acked, twice
}

func (m *memSource) allAcked() bool {
	total, acked, _ := m.ackCounts()
	return acked == total
}

// openSpool opens a real spool in the test's temporary directory.
func openSpool(t testing.TB) *spool.Spool {
	t.Helper()
	sp, err := spool.Open(t.Context(), filepath.Join(t.TempDir(), "spool.db"),
		spool.Options{MaxBytes: 1 << 30})
	if err != nil {
		t.Fatalf("open spool: %v", err)
	}
	t.Cleanup(func() { sp.Close() })
	return sp
}

// appendSpool appends n readings to sp.
func appendSpool(t testing.TB, sp *spool.Spool, n int) {
	t.Helper()
	recs := testRecords(t, KindReading, sp.Stats().NextSeq, n)
	if _, err := sp.Append(context.Background(), recs...); err != nil {
		t.Fatalf("append %d readings: %v", n, err)
	}
}

// spoolDrained reports whether sp holds nothing pending.
func spoolDrained(sp *spool.Spool) func() bool {
	return func() bool { return sp.Stats().Pending == 0 }
}
