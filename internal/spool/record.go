package spool

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"time"
)

// Kind tells readings, which may be thinned under pressure, from events,
// which are only dropped as a last resort.
type Kind uint8

// The kinds of record.
const (
	KindReading Kind = 1 // one poll of one meter
	KindEvent   Kind = 2 // an agent or meter event
)

// Record is one item the agent must deliver.
type Record struct {
	// Seq is set by Append: 1, 2, 3, … increasing, never reused, also
	// across restarts.
	Seq  uint64
	Kind Kind
	// Meter is the meter ID; "" for an agent-level event.
	Meter string
	// Time is the reading's or event's time; thinning works on it.
	// Records come back from the spool with it in UTC.
	Time time.Time
	// Data is the item as internal/wire encoded it; opaque to the spool.
	Data []byte
}

// Range is an inclusive range of sequence numbers.
type Range struct{ From, To uint64 }

// The encoded record, the value under its 8-byte big-endian seq key:
//
//	off  size  field
//	0    1     format, recordFormat
//	1    1     kind
//	2    8     time, Unix nanoseconds, big endian
//	10   8     acknowledgement time, Unix nanoseconds; 0 while pending
//	18   2     meter length n
//	20   n     meter
//	20+n m     data
//	end  4     CRC-32C (Castagnoli) of all the bytes before it
//
// bbolt checksums its meta pages only; the CRC catches a record page
// that flash or a bad sector has damaged.
const (
	recordFormat = 1
	headerLen    = 20
	crcLen       = 4
	keyLen       = 8
)

// recordOverhead is what a record costs beside its meter and data: key,
// header and CRC.
const recordOverhead = keyLen + headerLen + crcLen

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// recordSize is the logical size of r, counted against Options.MaxBytes.
func recordSize(r *Record) int64 {
	return int64(recordOverhead + len(r.Meter) + len(r.Data))
}

// checkRecord tells whether r can be encoded.
func checkRecord(r *Record) error {
	switch {
	case r.Kind != KindReading && r.Kind != KindEvent:
		return fmt.Errorf("kind %d: %w", r.Kind, ErrBadRecord)
	case r.Time.IsZero() || !time.Unix(0, r.Time.UnixNano()).Equal(r.Time):
		return fmt.Errorf("time %s: %w", r.Time, ErrBadRecord)
	case len(r.Meter) > math.MaxUint16:
		return fmt.Errorf("meter ID of %d bytes: %w", len(r.Meter), ErrBadRecord)
	}
	return nil
}

// seqKey is the bbolt key of seq: big endian, so keys sort as numbers.
func seqKey(seq uint64) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, keyLen), seq)
}

// encodeRecord encodes r, checked by checkRecord, with its
// acknowledgement time (0 while pending).
func encodeRecord(r *Record, ack int64) []byte {
	b := make([]byte, 0, headerLen+len(r.Meter)+len(r.Data)+crcLen)
	b = append(b, recordFormat, byte(r.Kind))
	b = binary.BigEndian.AppendUint64(b, uint64(r.Time.UnixNano()))
	b = binary.BigEndian.AppendUint64(b, uint64(ack))
	b = binary.BigEndian.AppendUint16(b, uint16(len(r.Meter)))
	b = append(b, r.Meter...)
	b = append(b, r.Data...)
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// decodeRecord decodes the value of seq's key. The record's Data is a
// copy: bbolt's bytes are only valid within their transaction.
func decodeRecord(seq uint64, b []byte) (r Record, ack int64, err error) {
	if len(b) < headerLen+crcLen {
		return r, 0, fmt.Errorf("record %d of %d bytes: %w", seq, len(b), ErrCorrupt)
	}
	body, sum := b[:len(b)-crcLen], binary.BigEndian.Uint32(b[len(b)-crcLen:])
	if crc32.Checksum(body, castagnoli) != sum {
		return r, 0, fmt.Errorf("record %d: checksum mismatch: %w", seq, ErrCorrupt)
	}
	if body[0] != recordFormat {
		return r, 0, fmt.Errorf("record %d: format %d: %w", seq, body[0], ErrCorrupt)
	}

	r = Record{Seq: seq, Kind: Kind(body[1]),
		Time: time.Unix(0, int64(binary.BigEndian.Uint64(body[2:]))).UTC()}
	ack = int64(binary.BigEndian.Uint64(body[10:]))
	n := int(binary.BigEndian.Uint16(body[18:]))
	if headerLen+n > len(body) {
		return r, 0, fmt.Errorf("record %d: meter ID of %d bytes: %w", seq, n, ErrCorrupt)
	}
	if r.Kind != KindReading && r.Kind != KindEvent {
		return r, 0, fmt.Errorf("record %d: kind %d: %w", seq, r.Kind, ErrCorrupt)
	}
	r.Meter = string(body[headerLen : headerLen+n])
	r.Data = append([]byte{}, body[headerLen+n:]...)
	return r, ack, nil
}

// decodeUint is the decoder of the meta values, all 8-byte big endian.
func decodeUint(name string, b []byte) (uint64, error) {
	if len(b) != 8 {
		return 0, fmt.Errorf("meta %q of %d bytes: %w", name, len(b), ErrCorrupt)
	}
	return binary.BigEndian.Uint64(b), nil
}
