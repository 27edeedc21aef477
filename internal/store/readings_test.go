package store

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/esep-kz/esep/internal/wire"
)

func TestRecordReadings(t *testing.T) {
	a1 := item(1, "apt-1", "2026-03-01T05:00:00.412Z", "100.5")
	a2 := item(2, "apt-1", "2026-03-01T06:00:00.000Z", "101.25")
	tests := []struct {
		name       string
		batches    [][]wire.ReadingItem
		wantNumber string
		wantTime   string
		wantCounts []DayCount
	}{
		{"one batch", [][]wire.ReadingItem{{a1, a2}},
			"101.25", "2026-03-01T06:00:00Z", []DayCount{{"2026-03-01", 2}}},
		{"batch written twice counts once", [][]wire.ReadingItem{{a1, a2}, {a1, a2}},
			"101.25", "2026-03-01T06:00:00Z", []DayCount{{"2026-03-01", 2}}},
		{"older never overwrites newer", [][]wire.ReadingItem{{a2}, {a1}},
			"101.25", "2026-03-01T06:00:00Z", []DayCount{{"2026-03-01", 2}}},
		{"exact decimal round trip", [][]wire.ReadingItem{
			{item(1, "apt-1", "2026-03-01T05:00:00Z", "12345.678")}},
			"12345.678", "2026-03-01T05:00:00Z", []DayCount{{"2026-03-01", 1}}},
		{"trailing zero kept", [][]wire.ReadingItem{
			{item(1, "apt-1", "2026-03-01T05:00:00Z", "230.10")}},
			"230.10", "2026-03-01T05:00:00Z", []DayCount{{"2026-03-01", 1}}},
		{"twelve places", [][]wire.ReadingItem{
			{item(1, "apt-1", "2026-03-01T05:00:00Z", "0.000000000001")}},
			"0.000000000001", "2026-03-01T05:00:00Z", []DayCount{{"2026-03-01", 1}}},
		// Local midnight in Asia/Almaty (UTC+5) is 19:00 UTC.
		{"days are local", [][]wire.ReadingItem{{
			item(1, "apt-1", "2026-03-01T18:59:59.999Z", "1"),
			item(2, "apt-1", "2026-03-01T19:00:00Z", "2")}},
			"2", "2026-03-01T19:00:00Z", []DayCount{{"2026-03-01", 1}, {"2026-03-02", 1}}},
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					s := withMeters(t, b.dsn(t), "bldg-1", "apt-1")
					record(t, s, "bldg-1", tt.batches...)
					wantLatest(t, s, "apt-1", tt.wantNumber, tt.wantTime)
					wantCounts(t, s, "apt-1", tt.wantCounts)
				})
			}
		})
	}
}

func TestValueWithoutNumberIsKept(t *testing.T) {
	eachBackend(t, func(t *testing.T, dsn string) {
		s := withMeters(t, dsn, "bldg-1", "apt-1")
		it := item(1, "apt-1", "2026-03-01T05:00:00Z", "1")
		it.Values[0].Quality = "error"
		record(t, s, "bldg-1", []wire.ReadingItem{it})

		ls, err := s.Latest(t.Context(), "bldg-1", "apt-1")
		if err != nil || len(ls) != 1 || ls[0].Quality != "error" || !ls[0].Number.IsZero() {
			t.Errorf("got latest %+v (%v), want one error value without number", ls, err)
		}
	})
}

func TestConcurrentDuplicateWriters(t *testing.T) {
	const writers, batches, perBatch = 4, 10, 5
	meters := []string{"apt-1", "apt-2", "apt-3", "apt-4", "apt-5"}
	// Batch b holds hour b's reading of every meter: 50 readings, seqs 1-50.
	var all [][]wire.ReadingItem
	for b := range batches {
		var batch []wire.ReadingItem
		for i, m := range meters[:perBatch] {
			at := fmt.Sprintf("2026-03-01T%02d:00:00Z", b)
			batch = append(batch, item(uint64(b*perBatch+i+1), m, at, fmt.Sprintf("%d.5", b)))
		}
		all = append(all, batch)
	}

	eachBackend(t, func(t *testing.T, dsn string) {
		first := withMeters(t, dsn, "bldg-1", meters...)
		stores := []*Store{first}
		for range writers - 1 { // one Store per writer, as replicas have
			stores = append(stores, openStore(t, dsn))
		}

		var wg sync.WaitGroup
		errs := make(chan error, writers*batches)
		for _, s := range stores {
			wg.Go(func() {
				for _, b := range all {
					errs <- s.RecordReadings(t.Context(), "bldg-1", b)
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}

		for _, m := range meters {
			wantLatest(t, first, m, "9.5", "2026-03-01T09:00:00Z")
			// Hours 0-9 UTC are 05:00-14:00 local, all on 1 March.
			wantCounts(t, first, m, []DayCount{{"2026-03-01", batches}})
		}
		wantRanges(t, first, "bldg-1", []wire.Range{{From: 1, To: batches * perBatch}})
	})
}

func wantLatest(t *testing.T, s *Store, meter, number, at string) {
	t.Helper()
	gotNumber, gotTime := latestEnergy(t, s, "bldg-1", meter)
	if gotNumber != number || gotTime != at {
		t.Errorf("latest of %s: got %q at %s, want %q at %s", meter, gotNumber, gotTime,
			number, at)
	}
}

func wantCounts(t *testing.T, s *Store, meter string, want []DayCount) {
	t.Helper()
	got, err := s.DayCounts(t.Context(), "bldg-1", meter)
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("day counts of %s: got %v (%v), want %v", meter, got, err, want)
	}
}
