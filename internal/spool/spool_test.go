package spool

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

func TestRoundTrip(t *testing.T) {
	s := openTest(t, testPath(t), Options{})
	in := []Record{reading("apt-001-el", t0), event("", t0.Add(time.Second)),
		reading("apt-002-wa", t0.Add(time.Minute))}
	checkSeqs(t, "Append", mustAppend(t, s, in...), []uint64{1, 2, 3})

	got, err := s.Pending(0, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(in) {
		t.Fatalf("Pending returned %d records, want %d", len(got), len(in))
	}
	for i, r := range got {
		want := in[i]
		if r.Seq != uint64(i+1) || r.Kind != want.Kind || r.Meter != want.Meter ||
			!r.Time.Equal(want.Time) || r.Time.Location() != time.UTC ||
			!bytes.Equal(r.Data, want.Data) {
			t.Errorf("record %d read back = %+v, want %+v with seq %d, time in UTC",
				i, r, want, i+1)
		}
	}

	mustAck(t, s, 2)
	checkSeqs(t, "Pending after Ack(2)", mustPending(t, s), []uint64{1, 3})
	held, gone, err := s.Lookup(1, 3)
	if err != nil {
		t.Fatal(err)
	}
	checkSeqs(t, "Lookup(1, 3) held", seqsOf(held), []uint64{1, 2, 3})
	if len(gone) != 0 {
		t.Errorf("Lookup(1, 3) gone = %v, want none", gone)
	}
	st := s.Stats()
	if st.Pending != 2 || st.History != 1 || st.NextSeq != 4 || !st.OldestPending.Equal(t0) {
		t.Errorf("Stats = %+v, want 2 pending, 1 history, next seq 4, oldest %s", st, t0)
	}
	if want := recordSize(&in[0]) + recordSize(&in[2]); st.PendingBytes != want {
		t.Errorf("PendingBytes = %d, want %d", st.PendingBytes, want)
	}
}

// TestAckHidesAtOnce checks that an acknowledged record leaves Pending
// before its move to history is committed.
func TestAckHidesAtOnce(t *testing.T) {
	s := openTest(t, testPath(t), Options{})
	mustAppend(t, s, reading("m1", t0), reading("m1", t0.Add(time.Minute)))
	if err := s.Ack(1); err != nil {
		t.Fatal(err)
	}
	checkSeqs(t, "Pending right after Ack(1)", mustPending(t, s), []uint64{2})
	mustAck(t, s, 1, 1, 99) // again, and one never given: ignored
	checkSeqs(t, "Pending after the commit", mustPending(t, s), []uint64{2})
}

func TestSeqAcrossReopen(t *testing.T) {
	tests := []struct {
		name    string
		appends int
		acked   int // of the first records
		history time.Duration
		wait    time.Duration // clock moved before reopening
		want    uint64
	}{
		{name: "empty", want: 1},
		{name: "pending", appends: 5, want: 6},
		{name: "all acked", appends: 5, acked: 5, want: 6},
		{name: "all acked and expired", appends: 5, acked: 5, history: time.Hour,
			wait: 2 * time.Hour, want: 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newClock(t0)
			s := openTest(t, testPath(t), Options{History: tt.history, Now: clk.Now})
			for i := range tt.appends {
				mustAppend(t, s, reading("m1", t0.Add(time.Duration(i)*time.Minute)))
			}
			if tt.acked > 0 {
				mustAck(t, s, span(1, uint64(tt.acked))...)
			}
			clk.Add(tt.wait)

			s = reopen(t, s)
			if got := s.Stats().NextSeq; got != tt.want {
				t.Errorf("after %d appends, %d acked, reopen: NextSeq = %d, want %d",
					tt.appends, tt.acked, got, tt.want)
			}
			checkSeqs(t, "next Append", mustAppend(t, s, reading("m2", t0)), []uint64{tt.want})
		})
	}
}

func TestPendingLimits(t *testing.T) {
	s := openTest(t, testPath(t), Options{})
	for i := range 10 {
		mustAppend(t, s, reading("m1", t0.Add(time.Duration(i)*time.Minute)))
	}
	mustAck(t, s, 4, 5)
	dataLen := len(reading("m1", t0).Data)

	tests := []struct {
		name          string
		after         uint64
		max, maxBytes int
		want          []uint64
	}{
		{name: "all", want: []uint64{1, 2, 3, 6, 7, 8, 9, 10}},
		{name: "after skips acked", after: 3, want: []uint64{6, 7, 8, 9, 10}},
		{name: "max", after: 1, max: 3, want: []uint64{2, 3, 6}},
		{name: "max bytes", maxBytes: 2*dataLen + 1, want: []uint64{1, 2}},
		{name: "max bytes below one record", after: 6, maxBytes: 1, want: []uint64{7}},
		{name: "both", after: 2, max: 2, maxBytes: 3 * dataLen, want: []uint64{3, 6}},
		{name: "past the end", after: 10},
		{name: "largest after", after: ^uint64(0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, err := s.Pending(tt.after, tt.max, tt.maxBytes)
			if err != nil {
				t.Fatal(err)
			}
			checkSeqs(t, "Pending", seqsOf(recs), tt.want)
		})
	}
}

func TestAppendRefused(t *testing.T) {
	tests := []struct {
		name string
		rec  Record
		want error
	}{
		{name: "unknown kind", rec: Record{Kind: 7, Meter: "m1", Time: t0}, want: ErrBadRecord},
		{name: "no time", rec: Record{Kind: KindReading, Meter: "m1"}, want: ErrBadRecord},
		{name: "time past 2262", rec: Record{Kind: KindEvent, Time: t0.AddDate(300, 0, 0)},
			want: ErrBadRecord},
		{name: "meter ID too long", rec: Record{Kind: KindEvent, Time: t0,
			Meter: strings.Repeat("m", 1<<16)}, want: ErrBadRecord},
		{name: "larger than the cap", rec: Record{Kind: KindEvent, Time: t0,
			Data: make([]byte, 1000)}, want: ErrTooLarge},
	}
	s := openTest(t, testPath(t), Options{MaxBytes: 1000})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Append(context.Background(), reading("ok", t0), tt.rec)
			if !errors.Is(err, tt.want) {
				t.Errorf("Append(%s) error = %v, want %v", tt.name, err, tt.want)
			}
		})
	}
	if n := s.Stats().NextSeq; n != 1 {
		t.Errorf("refused Appends used seqs: NextSeq = %d, want 1", n)
	}
}

func TestClosed(t *testing.T) {
	s := openTest(t, testPath(t), Options{})
	mustAppend(t, s, reading("m1", t0))
	if err := s.Ack(1); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v, want nil", err)
	}
	if _, err := s.Append(context.Background(), reading("m1", t0)); !errors.Is(err, ErrClosed) {
		t.Errorf("Append after Close: %v, want ErrClosed", err)
	}
	if err := s.Ack(1); !errors.Is(err, ErrClosed) {
		t.Errorf("Ack after Close: %v, want ErrClosed", err)
	}
	if _, err := s.Pending(0, 0, 0); !errors.Is(err, ErrClosed) {
		t.Errorf("Pending after Close: %v, want ErrClosed", err)
	}

	s = openTest(t, s.path, s.o)
	if st := s.Stats(); st.Pending != 0 || st.History != 1 {
		t.Errorf("the Ack before Close was not committed: Stats = %+v", st)
	}
}

func TestAppendCancelled(t *testing.T) {
	s := openTest(t, testPath(t), Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Append(ctx, reading("m1", t0)); !errors.Is(err, context.Canceled) {
		t.Errorf("Append with a cancelled context: %v, want context.Canceled", err)
	}
}

// TestConcurrentAppend appends from many goroutines, as the buses do,
// and checks that every record got its own seq and is kept.
func TestConcurrentAppend(t *testing.T) {
	const goroutines, each = 16, 50
	s := openTest(t, testPath(t), Options{})
	var mu sync.Mutex
	seen := map[uint64]bool{}
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				seqs, err := s.Append(context.Background(),
					reading("m", t0.Add(time.Duration(g*each+i)*time.Second)))
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if seen[seqs[0]] {
					t.Errorf("seq %d given twice", seqs[0])
				}
				seen[seqs[0]] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	checkSeqs(t, "Pending", mustPending(t, s), span(1, goroutines*each))
}

func TestNotify(t *testing.T) {
	s := openTest(t, testPath(t), Options{})
	select {
	case <-s.Notify():
		t.Fatal("Notify fired before any Append")
	default:
	}
	mustAppend(t, s, reading("m1", t0))
	mustAppend(t, s, reading("m1", t0))
	select {
	case <-s.Notify():
	default:
		t.Fatal("Notify did not fire after Append")
	}
	select {
	case <-s.Notify():
		t.Fatal("Notify held more than one wake-up")
	default:
	}
}

func TestOpenUnreadable(t *testing.T) {
	marker := []byte("MARKER-0123456789")
	tests := []struct {
		name    string
		prepare func(t *testing.T, path string)
		want    error // nil: any error naming the path
	}{
		{name: "not a bbolt file", prepare: func(t *testing.T, path string) {
			writeFile(t, path, bytes.Repeat([]byte("not a spool "), 2000))
		}},
		{name: "record damaged", want: ErrCorrupt, prepare: func(t *testing.T, path string) {
			s := openTest(t, path, Options{})
			mustAppend(t, s, Record{Kind: KindReading, Meter: "m1", Time: t0, Data: marker})
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			i := bytes.Index(b, marker)
			if i < 0 {
				t.Fatalf("record data not found in %s", path)
			}
			b[i] ^= 0xff
			writeFile(t, path, b)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := testPath(t)
			tt.prepare(t, path)
			before, _ := os.ReadFile(path)

			_, err := Open(context.Background(), path, Options{MaxBytes: 1 << 20})
			if err == nil || !strings.Contains(err.Error(), path) {
				t.Fatalf("Open of a file %s: error %v, want one naming %q", tt.name, err, path)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("Open of a file %s: error %v, want %v", tt.name, err, tt.want)
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
				t.Errorf("Open changed the unreadable file")
			}
		})
	}
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(strings.TrimSuffix(path, "/agent.db"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestOpenOptions(t *testing.T) {
	if _, err := Open(context.Background(), testPath(t), Options{}); err == nil {
		t.Errorf("Open with MaxBytes 0 succeeded, want an error")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Open(ctx, testPath(t), Options{MaxBytes: 1}); !errors.Is(err, context.Canceled) {
		t.Errorf("Open with a cancelled context: %v, want context.Canceled", err)
	}
}
