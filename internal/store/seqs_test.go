package store

import (
	"slices"
	"testing"
	"time"

	"github.com/esep-kz/esep/internal/wire"
)

// seqRange lists the seqs from to to.
func seqRange(from, to uint64) []uint64 {
	var out []uint64
	for q := from; q <= to; q++ {
		out = append(out, q)
	}
	return out
}

func TestGaps(t *testing.T) {
	type gap struct {
		from, to uint64
		outcome  GapOutcome
	}
	tests := []struct {
		name       string
		batches    [][]uint64
		wantRanges []wire.Range
		wantGaps   []gap
	}{
		{"no gap", [][]uint64{seqRange(1, 10), seqRange(11, 20)},
			[]wire.Range{{From: 1, To: 20}}, nil},
		{"gap opens", [][]uint64{seqRange(1, 10), seqRange(15, 20)},
			[]wire.Range{{From: 1, To: 10}, {From: 15, To: 20}}, []gap{{11, 14, ""}}},
		{"gap fills", [][]uint64{seqRange(1, 10), seqRange(15, 20), seqRange(11, 14)},
			[]wire.Range{{From: 1, To: 20}}, []gap{{11, 14, GapFilled}}},
		{"part filled stays open", [][]uint64{seqRange(1, 10), seqRange(15, 20), {12}},
			[]wire.Range{{From: 1, To: 10}, {From: 12, To: 12}, {From: 15, To: 20}},
			[]gap{{11, 14, ""}}},
		{"filled piece by piece", [][]uint64{seqRange(1, 10), seqRange(15, 20), {12},
			{11, 13}, {14}}, []wire.Range{{From: 1, To: 20}}, []gap{{11, 14, GapFilled}}},
		{"out of order in one batch", [][]uint64{{5, 3, 1, 2, 4}},
			[]wire.Range{{From: 1, To: 5}}, nil},
		{"redelivered overlap", [][]uint64{seqRange(1, 10), seqRange(5, 12), seqRange(20, 21)},
			[]wire.Range{{From: 1, To: 12}, {From: 20, To: 21}}, []gap{{13, 19, ""}}},
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					s := openStore(t, b.dsn(t))
					for _, seqs := range tt.batches {
						if err := s.RecordSeqs(t.Context(), "bldg-1", seqs); err != nil {
							t.Fatalf("RecordSeqs(%v): %v", seqs, err)
						}
					}
					wantRanges(t, s, "bldg-1", tt.wantRanges)

					gs, err := s.AllGaps(t.Context(), "bldg-1")
					if err != nil {
						t.Fatal(err)
					}
					var got []gap
					for _, g := range gs {
						got = append(got, gap{g.Range.From, g.Range.To, g.Outcome})
					}
					if !slices.Equal(got, tt.wantGaps) {
						t.Errorf("batches %v: got gaps %v, want %v", tt.batches, got, tt.wantGaps)
					}
				})
			}
		})
	}
}

func TestGapsFromReadings(t *testing.T) {
	eachBackend(t, func(t *testing.T, dsn string) {
		s := withMeters(t, dsn, "bldg-1", "apt-1")
		record(t, s, "bldg-1",
			[]wire.ReadingItem{item(1, "apt-1", "2026-03-01T05:00:00Z", "1")},
			[]wire.ReadingItem{item(4, "apt-1", "2026-03-01T08:00:00Z", "4")})
		wantOpenGaps(t, s, clock, []wire.Range{{From: 2, To: 3}})
	})
}

func TestGapResendAndOutcome(t *testing.T) {
	eachBackend(t, func(t *testing.T, dsn string) {
		ctx := t.Context()
		s := openStore(t, dsn)
		for _, seqs := range [][]uint64{{1}, {5}, {9}} { // gaps 2-4 and 6-8
			if err := s.RecordSeqs(ctx, "bldg-1", seqs); err != nil {
				t.Fatal(err)
			}
		}
		wantOpenGaps(t, s, clock.Add(-time.Second), nil) // not old enough yet
		wantOpenGaps(t, s, clock, []wire.Range{{From: 2, To: 4}, {From: 6, To: 8}})

		s.now = func() time.Time { return clock.Add(time.Minute) }
		if err := s.MarkResendRequested(ctx, "bldg-1", 2); err != nil {
			t.Fatal(err)
		}
		if err := s.MarkGapOutcome(ctx, "bldg-1", 6, GapGone); err != nil {
			t.Fatal(err)
		}
		gs, err := s.Gaps(ctx, "", clock)
		if err != nil || len(gs) != 1 || !gs[0].Resend.Equal(clock.Add(time.Minute)) {
			t.Errorf("got open gaps %+v (%v), want 2-4 with a resend at %s", gs, err,
				clock.Add(time.Minute))
		}

		// A gone gap is not opened again by the next batch.
		if err := s.RecordSeqs(ctx, "bldg-1", []uint64{10}); err != nil {
			t.Fatal(err)
		}
		wantOpenGaps(t, s, clock.Add(time.Hour), []wire.Range{{From: 2, To: 4}})

		for _, first := range []uint64{3, 0} {
			if err := s.MarkResendRequested(ctx, "bldg-1", first); err == nil {
				t.Errorf("MarkResendRequested(gap %d): got no error, want ErrNotFound", first)
			}
		}
	})
}

func wantOpenGaps(t *testing.T, s *Store, before time.Time, want []wire.Range) {
	t.Helper()
	gs, err := s.Gaps(t.Context(), "bldg-1", before)
	if err != nil {
		t.Fatal(err)
	}
	var got []wire.Range
	for _, g := range gs {
		got = append(got, g.Range)
	}
	if !slices.Equal(got, want) {
		t.Errorf("open gaps seen by %s: got %v, want %v", before, got, want)
	}
}

func wantRanges(t *testing.T, s *Store, agent string, want []wire.Range) {
	t.Helper()
	got, err := s.Ranges(t.Context(), agent)
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("ranges of %s: got %v (%v), want %v", agent, got, err, want)
	}
}
