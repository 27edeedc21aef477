package spool

import (
	"slices"
	"testing"
	"time"
)

func TestHistoryExpiry(t *testing.T) {
	clk := newClock(t0)
	s := openTest(t, testPath(t), Options{History: time.Hour, Now: clk.Now})
	mustAppend(t, s, reading("m1", t0), reading("m1", t0.Add(time.Minute)),
		reading("m1", t0.Add(2*time.Minute)))
	mustAck(t, s, 1)
	clk.Add(30 * time.Minute)
	mustAck(t, s, 2)

	steps := []struct {
		name    string
		wait    time.Duration
		reopen  bool
		history int
		gone    []Range
	}{
		{name: "both within the hour", wait: 29 * time.Minute, history: 2},
		{name: "first expired, pruned by an Append", wait: 2 * time.Minute, history: 1,
			gone: []Range{{1, 1}}},
		{name: "second expired, pruned by Open", wait: 30 * time.Minute, reopen: true,
			history: 0, gone: []Range{{1, 2}}},
	}
	for _, st := range steps {
		clk.Add(st.wait)
		if st.reopen {
			s = reopen(t, s)
		} else {
			mustAppend(t, s, event("", clk.Now()))
		}
		if got := s.Stats().History; got != st.history {
			t.Errorf("%s: History = %d, want %d", st.name, got, st.history)
		}
		_, gone, err := s.Lookup(1, 3)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(gone, st.gone) {
			t.Errorf("%s: Lookup(1, 3) gone = %v, want %v", st.name, gone, st.gone)
		}
	}
	if st := s.Stats(); st.HistoryDropped != 0 {
		t.Errorf("expiry counted as early removal: HistoryDropped = %d, want 0", st.HistoryDropped)
	}
}

func TestLookup(t *testing.T) {
	clk := newClock(t0)
	s := openTest(t, testPath(t), Options{History: time.Hour, Now: clk.Now})
	for i := range 10 {
		mustAppend(t, s, reading("m1", t0.Add(time.Duration(i)*time.Minute)))
	}
	mustAck(t, s, 1, 2, 3, 7) // expire below
	clk.Add(2 * time.Hour)
	mustAck(t, s, 4, 8) // kept as history
	// Held now: 4 and 8 as history, 5, 6, 9, 10 pending.

	tests := []struct {
		name     string
		from, to uint64
		held     []uint64
		gone     []Range
	}{
		{name: "everything", from: 1, to: 10, held: []uint64{4, 5, 6, 8, 9, 10},
			gone: []Range{{1, 3}, {7, 7}}},
		{name: "inside a gap", from: 2, to: 3, gone: []Range{{2, 3}}},
		{name: "pending and history", from: 4, to: 6, held: []uint64{4, 5, 6}},
		{name: "gap in the middle", from: 6, to: 8, held: []uint64{6, 8}, gone: []Range{{7, 7}}},
		{name: "zero is never given", from: 0, to: 1, gone: []Range{{1, 1}}},
		{name: "not given yet", from: 9, to: 100, held: []uint64{9, 10}},
		{name: "all in the future", from: 11, to: 20},
		{name: "reversed", from: 5, to: 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			held, gone, err := s.Lookup(tt.from, tt.to)
			if err != nil {
				t.Fatal(err)
			}
			checkSeqs(t, "held", seqsOf(held), tt.held)
			if !slices.Equal(gone, tt.gone) {
				t.Errorf("Lookup(%d, %d) gone = %v, want %v", tt.from, tt.to, gone, tt.gone)
			}
		})
	}
}
