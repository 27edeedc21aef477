package spool

import (
	"slices"
	"testing"
	"time"
)

// pressureSpool fills a spool to its cap with records of one size S:
//
//	seqs 1–3     readings of meter h1 on 1 March, acknowledged (history)
//	seqs 4–197   readings of meter m1 every 15 minutes through 2 and 3
//	             March, local time, and an event at 05:10 on each day
//
// and returns it with S. Thinning works on the local days and hours of
// Asia/Almaty (UTC+5), so local midnight is 19:00 UTC.
func pressureSpool(t *testing.T, onPressure func(Pressure)) (*Spool, int64) {
	t.Helper()
	day1 := time.Date(2026, 3, 2, 0, 0, 0, 0, almaty)
	var recs []Record
	for i := range 192 {
		at := day1.Add(time.Duration(i) * 15 * time.Minute)
		recs = append(recs, reading("m1", at))
		if at.Hour() == 5 && at.Minute() == 0 {
			recs = append(recs, event("m1", at.Add(10*time.Minute)))
		}
	}
	size := recordSize(&recs[0])
	s := openTest(t, testPath(t), Options{MaxBytes: 197 * size, OnPressure: onPressure})

	for i := range 3 {
		mustAppend(t, s, reading("h1", day1.Add(-12*time.Hour+time.Duration(i)*time.Minute)))
	}
	mustAck(t, s, 1, 2, 3)
	mustAppend(t, s, recs...)
	if st := s.Stats(); st.Bytes != 197*size || st.Pending != 194 || st.History != 3 {
		t.Fatalf("filled spool: Stats = %+v, want 194 pending, 3 history, %d bytes", st, 197*size)
	}
	return s, size
}

// label names a record by meter and local time, as the policy sees it.
func label(r Record) string {
	kind := "reading"
	if r.Kind == KindEvent {
		kind = "event"
	}
	return r.Meter + " " + kind + " " + r.Time.In(almaty).Format("Jan 2 15:04")
}

func TestMakeRoom(t *testing.T) {
	tests := []struct {
		name     string
		appended int // records of S bytes appended to the full spool
		want     Pressure
		kept     []string
		gone     []string
	}{
		{name: "history first, oldest acknowledgement first", appended: 2,
			want: Pressure{HistoryDropped: 2},
			kept: []string{"h1 reading Mar 1 12:02", "m1 reading Mar 2 00:15"},
			gone: []string{"h1 reading Mar 1 12:00", "h1 reading Mar 1 12:01"}},
		{name: "then hourly thinning, oldest first", appended: 5,
			want: Pressure{HistoryDropped: 3, Thinned: 2},
			kept: []string{"m1 reading Mar 2 00:00", "m1 reading Mar 2 00:45",
				"m1 reading Mar 2 01:15"},
			gone: []string{"h1 reading Mar 1 12:02", "m1 reading Mar 2 00:15",
				"m1 reading Mar 2 00:30"}},
		{name: "all hourly, then daily thinning", appended: 3 + 144 + 2,
			want: Pressure{HistoryDropped: 3, Thinned: 146},
			kept: []string{"m1 reading Mar 2 00:00", "m1 reading Mar 2 03:00",
				"m1 event Mar 2 05:10", "m1 event Mar 3 05:10", "m1 reading Mar 3 01:00"},
			gone: []string{"m1 reading Mar 2 00:45", "m1 reading Mar 2 01:00",
				"m1 reading Mar 2 02:00", "m1 reading Mar 3 00:15"}},
		{name: "all daily, then the oldest event", appended: 3 + 144 + 46 + 1,
			want: Pressure{HistoryDropped: 3, Thinned: 190, Dropped: 1},
			kept: []string{"m1 reading Mar 2 00:00", "m1 reading Mar 3 00:00",
				"m1 event Mar 3 05:10"},
			gone: []string{"m1 event Mar 2 05:10", "m1 reading Mar 2 23:00",
				"m1 reading Mar 3 01:00"}},
		{name: "closing readings last", appended: 3 + 190 + 3,
			want: Pressure{HistoryDropped: 3, Thinned: 190, Dropped: 3},
			kept: []string{"m1 reading Mar 3 00:00"},
			gone: []string{"m1 event Mar 2 05:10", "m1 event Mar 3 05:10",
				"m1 reading Mar 2 00:00"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var reported []Pressure
			s, size := pressureSpool(t, func(p Pressure) { reported = append(reported, p) })
			var recs []Record
			for i := range tt.appended {
				at := time.Date(2026, 3, 4, 0, 0, 0, 0, almaty).Add(time.Duration(i) * time.Minute)
				recs = append(recs, reading("m9", at))
			}
			mustAppend(t, s, recs...)

			checkPressure(t, s, tt.appended, reported, tt.want)
			if st := s.Stats(); st.Bytes != 197*size {
				t.Errorf("after appending %d: Bytes = %d, want the cap %d",
					tt.appended, st.Bytes, 197*size)
			}
			checkLabels(t, s, tt.kept, tt.gone)

			s = reopen(t, s)
			st := s.Stats()
			got := Pressure{HistoryDropped: st.HistoryDropped, Thinned: st.Thinned,
				Dropped: st.Dropped}
			want := tt.want
			want.Oldest = time.Time{}
			if got != want {
				t.Errorf("counters after reopening = %+v, want %+v", got, want)
			}
		})
	}
}

// checkPressure compares what OnPressure reported, and the counters,
// with want, and the reported Oldest with the oldest pending record.
func checkPressure(t *testing.T, s *Spool, appended int, reported []Pressure, want Pressure) {
	t.Helper()
	if len(reported) != 1 {
		t.Fatalf("appending %d to a full spool: OnPressure called %d times, want once",
			appended, len(reported))
	}
	got := reported[0]
	want.Oldest = s.Stats().OldestPending
	if got != want {
		t.Errorf("appending %d to a full spool: Pressure = %+v, want %+v", appended, got, want)
	}
	st := s.Stats()
	if st.HistoryDropped != want.HistoryDropped || st.Thinned != want.Thinned ||
		st.Dropped != want.Dropped {
		t.Errorf("appending %d: Stats counters = %+v, want those of %+v", appended, st, want)
	}
}

// checkLabels checks that the records kept, pending or history, include
// every label of kept and none of gone.
func checkLabels(t *testing.T, s *Spool, kept, gone []string) {
	t.Helper()
	held, _, err := s.Lookup(1, s.Stats().NextSeq)
	if err != nil {
		t.Fatal(err)
	}
	var have []string
	for _, r := range held {
		have = append(have, label(r))
	}
	for _, l := range kept {
		if !slices.Contains(have, l) {
			t.Errorf("%s was removed, want it kept", l)
		}
	}
	for _, l := range gone {
		if slices.Contains(have, l) {
			t.Errorf("%s was kept, want it removed", l)
		}
	}
}

// TestMakeRoomSteps appends one record at a time to a full spool and
// checks each Append removes only what it must: one record of its size.
// Each comes from a meter of its own, so that none of them becomes a
// candidate for thinning itself.
func TestMakeRoomSteps(t *testing.T) {
	var reported []Pressure
	s, _ := pressureSpool(t, func(p Pressure) { reported = append(reported, p) })
	for i := range 196 {
		meter := string([]byte{'a' + byte(i/26), 'a' + byte(i%26)}) // as long as "m1"
		mustAppend(t, s, reading(meter, time.Date(2026, 3, 4, 0, 0, 0, 0, almaty)))
	}
	var sum Pressure
	for i, p := range reported {
		if n := p.HistoryDropped + p.Thinned + p.Dropped; n != 1 {
			t.Errorf("Append %d to the full spool removed %d records, want 1: %+v", i+1, n, p)
		}
		sum.HistoryDropped += p.HistoryDropped
		sum.Thinned += p.Thinned
		sum.Dropped += p.Dropped
	}
	want := Pressure{HistoryDropped: 3, Thinned: 190, Dropped: 3}
	if len(reported) != 196 || sum != want {
		t.Errorf("196 single Appends: %d reports summing to %+v, want 196 summing to %+v",
			len(reported), sum, want)
	}
	checkLabels(t, s, []string{"m1 reading Mar 3 00:00"}, []string{"m1 reading Mar 2 00:00"})
}
