package tsdb

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/esep-kz/esep/internal/reading"
	"github.com/esep-kz/esep/internal/wire"
)

// t0 is the time of the first test reading: a 15-minute slot, UTC.
var t0 = time.Date(2026, 3, 1, 5, 15, 0, 412_000_000, time.UTC)

// eight are the quantities of a three-phase electricity reading, with a
// number pattern each; %d takes the reading's index.
var eight = []struct {
	q      reading.Quantity
	unit   string
	format string
}{
	{"energy_active_import_kwh", "kWh", "12345.%03d"},
	{"energy_active_export_kwh", "kWh", "9999999999.%03d"}, // near the range's top
	{"voltage_l1_v", "V", "230.%02d"},
	{"voltage_l2_v", "V", "229.%02d"},
	{"voltage_l3_v", "V", "231.%02d"},
	{"current_l1_a", "A", "-%d.125"},
	{"power_w", "W", "%d"},
	{"power_factor", "", "0.9%02d"},
}

// batchOf returns one batch of agent with a reading of each of meters at
// each of times slots from t0, 15 minutes apart, 8 values each, seqs
// from 1.
func batchOf(t testing.TB, agent string, meters, times int) wire.Batch {
	t.Helper()
	b := wire.Batch{Agent: agent, Sent: t0}
	for i := range times {
		for m := range meters {
			b.Readings = append(b.Readings, wire.ReadingItem{
				Seq:     uint64(len(b.Readings) + 1),
				Reading: readingOf(t, fmt.Sprintf("apt-%03d-el", m), i, i*meters+m),
			})
		}
	}
	return b
}

// readingOf returns the reading of meter in slot i, its numbers from k.
func readingOf(t testing.TB, meter string, i, k int) reading.Reading {
	t.Helper()
	r := reading.Reading{Meter: meter, Time: t0.Add(time.Duration(i) * 15 * time.Minute)}
	for _, e := range eight {
		n := decimal.RequireFromString(fmt.Sprintf(e.format, k%100))
		r.Values = append(r.Values, reading.Value{Quantity: e.q, Number: n, Unit: e.unit,
			Quality: reading.Good, Places: max(0, -n.Exponent())})
	}
	return r
}

// newTestWriter returns a Writer to serverURL with fast retries, closed
// when the test ends.
func newTestWriter(t testing.TB, serverURL string, o Options) *Writer {
	t.Helper()
	if o.MinBackoff == 0 {
		o.MinBackoff, o.MaxBackoff = 20*time.Millisecond, 200*time.Millisecond
	}
	w, err := NewWriter(context.Background(), serverURL, "esep", "raw", "", o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	return w
}

// mustWrite writes batches and fails the test on an error.
func mustWrite(t testing.TB, w *Writer, batches ...wire.Batch) {
	t.Helper()
	if err := w.Write(context.Background(), batches...); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// wantErrIs checks that err wraps target.
func wantErrIs(t testing.TB, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("got error %v, want one wrapping %v", err, target)
	}
}
