package spool

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"testing"
	"time"
)

func TestRecordEncoding(t *testing.T) {
	tests := []struct {
		name string
		rec  Record
		ack  int64
	}{
		{name: "reading", rec: reading("apt-001-el", t0)},
		{name: "agent event, no data", rec: Record{Kind: KindEvent, Time: t0}},
		{name: "acknowledged", rec: event("m1", t0), ack: t0.Add(time.Second).UnixNano()},
		{name: "before 1970", rec: reading("m1", time.Date(1969, 12, 31, 23, 0, 0, 5, time.UTC))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := encodeRecord(&tt.rec, tt.ack)
			if int64(len(b)+keyLen) != recordSize(&tt.rec) {
				t.Errorf("encoded %d bytes and a key, recordSize says %d",
					len(b), recordSize(&tt.rec))
			}
			got, ack, err := decodeRecord(42, b)
			if err != nil {
				t.Fatalf("decodeRecord(encodeRecord(%+v)): %v", tt.rec, err)
			}
			if got.Seq != 42 || got.Kind != tt.rec.Kind || got.Meter != tt.rec.Meter ||
				!got.Time.Equal(tt.rec.Time) || !bytes.Equal(got.Data, tt.rec.Data) ||
				ack != tt.ack {
				t.Errorf("decoded %+v, ack %d; want %+v, ack %d", got, ack, tt.rec, tt.ack)
			}
		})
	}
}

func TestRecordDamaged(t *testing.T) {
	good := encodeRecord(new(reading("m1", t0)), 0)
	tests := []struct {
		name string
		b    []byte
	}{
		{name: "empty"},
		{name: "cut short", b: good[:10]},
		{name: "a bit flipped", b: flip(good, 12)},
		{name: "checksum flipped", b: flip(good, len(good)-1)},
		{name: "meter longer than the record",
			b: withCRC(append(bytes.Clone(good[:18]), 0xff, 0xff))},
		{name: "unknown kind", b: withCRC(append([]byte{recordFormat, 9}, good[2:len(good)-4]...))},
		{name: "unknown format", b: withCRC(append([]byte{2}, good[1:len(good)-4]...))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if r, _, err := decodeRecord(1, tt.b); !errors.Is(err, ErrCorrupt) {
				t.Errorf("decodeRecord(%x) = %+v, %v; want ErrCorrupt", tt.b, r, err)
			}
		})
	}
}

func flip(b []byte, i int) []byte {
	b = bytes.Clone(b)
	b[i] ^= 0x01
	return b
}

// withCRC appends the checksum to a record body.
func withCRC(body []byte) []byte {
	return binary.BigEndian.AppendUint32(body, crc32.Checksum(body, castagnoli))
}

// FuzzDecodeRecord checks that any bytes read from the file either fail
// to decode with ErrCorrupt or decode to a record that encodes back to
// the same bytes.
func FuzzDecodeRecord(f *testing.F) {
	f.Add(encodeRecord(new(reading("apt-001-el", t0)), 0))
	f.Add(encodeRecord(&Record{Kind: KindEvent, Time: t0}, t0.UnixNano()))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, ack, err := decodeRecord(7, b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("decodeRecord(%x) error %v, want ErrCorrupt", b, err)
			}
			return
		}
		if err := checkRecord(&r); err != nil {
			t.Fatalf("decodeRecord(%x) = %+v, which cannot be spooled: %v", b, r, err)
		}
		if again := encodeRecord(&r, ack); !bytes.Equal(again, b) {
			t.Fatalf("decodeRecord(%x) = %+v; encodes back to %x", b, r, again)
		}
	})
}
