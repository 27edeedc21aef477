package tsdb

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/esep-kz/esep/internal/wire"
)

// BenchmarkWrite measures readings per second written straight to
// VictoriaMetrics: 8 values a reading, 5000 readings a request, into
// series that exist already, by 1 and by 4 concurrent writers. It is the
// ceiling the ingestor's own benchmark compares itself with.
func BenchmarkWrite(b *testing.B) {
	const meters, perRequest = 5000, 5000
	v := startVictoria(b)
	for _, writers := range []int{1, 4} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			w := newTestWriter(b, v.url, Options{BatchLines: perRequest})
			batches := make([]wire.Batch, writers)
			for i := range batches {
				batches[i] = batchOf(b, fmt.Sprintf("bench-%d", i), meters, 1)
				mustWrite(b, w, batches[i]) // the series exist before the clock starts
			}
			b.ResetTimer()
			start := time.Now()
			n := 0
			for b.Loop() {
				n++
				writeAll(b, w, batches, time.Duration(n)*time.Second)
			}
			took := time.Since(start).Seconds()
			readings := float64(n * writers * meters)
			b.ReportMetric(readings/took, "readings/s")
			b.ReportMetric(readings*float64(len(eight))/took, "values/s")

			// A 204 does not prove storage (VictoriaMetrics drops samples
			// it cannot take silently): one series must hold every write.
			one := fmt.Sprintf(`meter_power_w{agent="bench-%d",meter="apt-000-el"}`, writers-1)
			if got := v.Count(b, one); got != n+1 {
				b.Fatalf("%s holds %d samples, want %d", one, got, n+1)
			}
		})
	}
}

// writeAll writes each batch, moved later by shift, from a goroutine of
// its own, and waits for all of them.
func writeAll(b *testing.B, w *Writer, batches []wire.Batch, shift time.Duration) {
	var wg sync.WaitGroup
	errs := make([]error, len(batches))
	for i, bt := range batches {
		moved := wire.Batch{Agent: bt.Agent, Readings: make([]wire.ReadingItem, len(bt.Readings))}
		for k, it := range bt.Readings {
			it.Time = it.Time.Add(shift)
			moved.Readings[k] = it
		}
		wg.Go(func() { errs[i] = w.Write(context.Background(), moved) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
}
