package store

import (
	"bytes"
	"testing"
)

func TestQuarantineKeepsRawBytes(t *testing.T) {
	// The gzip magic, a NUL and bytes that are not UTF-8: a text column
	// would refuse or alter them.
	raw := []byte{0x1f, 0x8b, 0x08, 0x00, 0xff, 0xfe, 'x', 0x00}
	eachBackend(t, func(t *testing.T, dsn string) {
		s := openStore(t, dsn)
		topic := "esep/v1/bldg-1/readings"
		for range 2 { // the broker redelivers the refused message
			if err := s.Quarantine(t.Context(), "bldg-1", topic, "bad gzip", raw, clock); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Quarantine(t.Context(), "bldg-1", topic, "empty", nil, clock); err != nil {
			t.Fatal(err)
		}

		qs, err := s.QuarantineList(t.Context(), 10)
		if err != nil {
			t.Fatal(err)
		}
		var got *Quarantined
		for i := range qs {
			if qs[i].Reason == "bad gzip" {
				got = &qs[i]
			}
		}
		if len(qs) != 2 || got == nil {
			t.Fatalf("got %d quarantined messages %+v, want 2, one of them bad gzip", len(qs), qs)
		}
		if !bytes.Equal(got.Payload, raw) || got.Count != 2 || got.Topic != topic ||
			!got.Received.Equal(clock) {
			t.Errorf("got %+v, want payload % x, twice, on %s at %s", *got, raw, topic, clock)
		}
	})
}
