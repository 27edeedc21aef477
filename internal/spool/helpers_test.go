package spool

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// almaty is the default zone, loaded as the spool loads it.
var almaty = func() *time.Location {
	loc, err := time.LoadLocation(DefaultZone)
	if err != nil {
		panic(err)
	}
	return loc
}()

// clock is a settable Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *clock { return &clock{t: t} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// testPath returns a spool path in a new temporary directory.
func testPath(t testing.TB) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "spool", "agent.db")
}

// openTest opens the spool at path, logging to the test, and closes it
// at the end of the test.
func openTest(t *testing.T, path string, o Options) *Spool {
	t.Helper()
	if o.MaxBytes == 0 {
		o.MaxBytes = 1 << 20
	}
	o.Log = zerolog.New(zerolog.NewTestWriter(t))
	s, err := Open(context.Background(), path, o)
	if err != nil {
		t.Fatalf("Open(%q): %v", path, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// reopen closes s and opens its file again with the same options.
func reopen(t *testing.T, s *Spool) *Spool {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return openTest(t, s.path, s.o)
}

// reading returns a reading record of meter at t with a payload naming
// both, as wire would encode one.
func reading(meter string, t time.Time) Record {
	return Record{Kind: KindReading, Meter: meter, Time: t,
		Data: fmt.Appendf(nil, `{"meter":%q,"time":%q}`, meter, t.UTC().Format(time.RFC3339))}
}

// event returns an event record of meter at t.
func event(meter string, t time.Time) Record {
	r := reading(meter, t)
	r.Kind = KindEvent
	return r
}

// mustAppend appends recs and returns their seqs.
func mustAppend(t *testing.T, s *Spool, recs ...Record) []uint64 {
	t.Helper()
	seqs, err := s.Append(context.Background(), recs...)
	if err != nil {
		t.Fatalf("Append of %d records: %v", len(recs), err)
	}
	if len(seqs) != len(recs) {
		t.Fatalf("Append of %d records returned %d seqs", len(recs), len(seqs))
	}
	return seqs
}

// mustAck acknowledges seqs and waits for the commit that moves them.
func mustAck(t *testing.T, s *Spool, seqs ...uint64) {
	t.Helper()
	if err := s.Ack(seqs...); err != nil {
		t.Fatalf("Ack(%v): %v", seqs, err)
	}
	waitCommitted(t, s)
}

// waitCommitted waits until the work handed to the committer so far,
// acknowledgements included, is committed.
func waitCommitted(t testing.TB, s *Spool) {
	t.Helper()
	req := &appendReq{ctx: context.Background(), done: make(chan struct{})}
	if err := s.enqueue(req, nil); err != nil {
		t.Fatalf("cannot wait for the committer: %v", err)
	}
	<-req.done
	if req.err != nil {
		t.Fatalf("commit: %v", req.err)
	}
}

// seqsOf returns the seqs of recs.
func seqsOf(recs []Record) []uint64 {
	out := make([]uint64, len(recs))
	for i, r := range recs {
		out[i] = r.Seq
	}
	return out
}

// span returns from, from+1, … to.
func span(from, to uint64) []uint64 {
	var out []uint64
	for s := from; s <= to; s++ {
		out = append(out, s)
	}
	return out
}

// mustPending returns the seqs of all pending records.
func mustPending(t *testing.T, s *Spool) []uint64 {
	t.Helper()
	recs, err := s.Pending(0, 0, 0)
	if err != nil {
		t.Fatalf("Pending: %v", err)
	}
	return seqsOf(recs)
}

// checkSeqs fails the test when got and want differ.
func checkSeqs(t *testing.T, what string, got, want []uint64) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s: got seqs %v, want %v", what, got, want)
	}
}
