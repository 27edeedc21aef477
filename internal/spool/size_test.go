package spool

import (
	"fmt"
	"os"
	"testing"
	"time"
)

// TestFileSizeAtCap runs a spool at its cap, delivering and in an
// outage, and checks the bbolt file against the package doc's figure.
func TestFileSizeAtCap(t *testing.T) {
	const maxBytes = 4 << 20
	tests := []struct {
		name    string
		ackEach bool // acknowledge every poll: history fills the cap
	}{
		{name: "delivering, history at the cap", ackEach: true},
		{name: "outage, thinning at the cap"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTest(t, testPath(t), Options{MaxBytes: maxBytes})
			polls := 3 * maxBytes / (250 * 160) // three caps' worth
			at := time.Date(2026, 3, 1, 0, 0, 0, 0, almaty)
			for range polls {
				seqs := mustAppend(t, s, poll(250, at)...)
				if tt.ackEach {
					if err := s.Ack(seqs...); err != nil {
						t.Fatal(err)
					}
				}
				at = at.Add(15 * time.Minute)
			}
			waitCommitted(t, s)

			fi, err := os.Stat(s.Path())
			if err != nil {
				t.Fatal(err)
			}
			ratio := float64(fi.Size()) / maxBytes
			t.Logf("%s: file %d bytes for %d logical (cap %d): %.2f times the cap",
				tt.name, fi.Size(), s.Stats().Bytes, maxBytes, ratio)
			if ratio > 2.5 {
				t.Errorf("file is %.2f times MaxBytes, the package doc promises under 2.5", ratio)
			}
		})
	}
}

// poll returns one poll of n meters at t, each reading with 120 bytes
// of data, about what internal/wire makes of an electricity meter.
func poll(n int, t time.Time) []Record {
	recs := make([]Record, n)
	for i := range recs {
		data := fmt.Appendf(nil, `{"m":"apt-%03d-el","t":%d,"v":[`, i, t.Unix())
		for len(data) < 119 {
			data = append(data, '1')
		}
		recs[i] = Record{Kind: KindReading, Meter: fmt.Sprintf("apt-%03d-el", i), Time: t,
			Data: append(data, '}')}
	}
	return recs
}
