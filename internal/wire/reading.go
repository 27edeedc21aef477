package wire

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/esep-kz/esep/internal/reading"
)

// Flags a reading may carry as a whole, beside its values' qualities.
const (
	// FlagClockUnsynced marks a reading stamped while the agent's clock
	// was not known to be synchronised: its time may be off.
	FlagClockUnsynced = "clock_unsynced"
)

// flags are the reading flags schema v1 knows.
var flags = []string{FlagClockUnsynced}

// readingJSON is one reading on the wire; in a batch it also has seq:
//
//	{"seq":17,"meter":"apt-001-el","serial":"39051234",
//	 "time":"2026-03-01T10:15:00.412Z","flags":["clock_unsynced"],
//	 "values":[{"quantity":"voltage_v","number":"230.10","unit":"V","quality":"good"}]}
//
// seq is the agent's sequence number, meter the metering point's ID at
// the agent, serial the number read from the meter (absent when its
// profile reads none), time when the poll completed, flags the reading's
// flags (absent when none).
type readingJSON struct {
	Seq    *uint64           `json:"seq,omitempty"`
	Meter  string            `json:"meter"`
	Serial *string           `json:"serial,omitempty"`
	Time   string            `json:"time"`
	Flags  []string          `json:"flags,omitempty"`
	Values []json.RawMessage `json:"values"`
}

// EncodeReading returns r in its wire form, with the reading flags
// given (FlagClockUnsynced): the Data of a spool record of a reading,
// which ReadingsBatch later puts in a batch with its sequence number.
// Each number is written at its value's resolution (Places). It fails
// for a reading the centre would refuse, naming the field.
func EncodeReading(r reading.Reading, flags ...string) ([]byte, error) {
	data, err := encodeReading(r, flags)
	if err != nil {
		return nil, fmt.Errorf("cannot encode reading of meter %q: %w", r.Meter, err)
	}
	return data, nil
}

func encodeReading(r reading.Reading, flags []string) ([]byte, error) {
	if len(flags) == 0 {
		flags = nil // left out, not written as []
	}
	if err := checkReadingHead(r.Meter, r.Serial, flags); err != nil {
		return nil, err
	}
	t, err := formatTime("time", r.Time)
	if err != nil {
		return nil, err
	}
	if len(r.Values) == 0 {
		return nil, invalid("values", "a reading has at least one value")
	}
	vs, err := encodeValues("values", r.Values)
	if err != nil {
		return nil, err
	}
	return marshal(struct {
		Meter  string      `json:"meter"`
		Serial string      `json:"serial,omitempty"`
		Time   string      `json:"time"`
		Flags  []string    `json:"flags,omitempty"`
		Values []valueJSON `json:"values"`
	}{r.Meter, r.Serial, t, flags, vs})
}

// checkReadingHead checks what a reading has beside its time and values.
func checkReadingHead(meter, serial string, fs []string) error {
	if err := checkID("meter", meter); err != nil {
		return err
	}
	if serial != "" {
		if err := checkPrintable("serial", serial); err != nil {
			return err
		}
	}
	return checkFlags(fs)
}

// checkFlags accepts known flags, each at most once.
func checkFlags(fs []string) error {
	for i, f := range fs {
		if !slices.Contains(flags, f) {
			return invalid("flags", "%q is not a reading flag (known: %v)", f, flags)
		}
		if slices.Contains(fs[:i], f) {
			return invalid("flags", "%q appears twice", f)
		}
	}
	return nil
}

// ReadingItem is one reading of a decoded batch.
type ReadingItem struct {
	Seq   uint64   // the agent's sequence number
	Flags []string // reading flags, nil when none
	reading.Reading
}

// decodeReading reads one reading; inBatch says whether it must carry a
// seq (in a batch) or must not (a record's Data).
func decodeReading(doc []byte, inBatch bool) (ReadingItem, error) {
	var j readingJSON
	if err := decodeStrict(doc, &j); err != nil {
		return ReadingItem{}, err
	}
	var it ReadingItem
	seq, err := checkSeq(j.Seq, inBatch)
	if err != nil {
		return ReadingItem{}, err
	}
	it.Seq = seq
	serial, err := optSerial(j.Serial)
	if err != nil {
		return ReadingItem{}, err
	}
	if j.Flags != nil && len(j.Flags) == 0 {
		return ReadingItem{}, invalid("flags", "empty; leave it out instead")
	}
	if err := checkReadingHead(j.Meter, serial, j.Flags); err != nil {
		return ReadingItem{}, err
	}
	if it.Time, err = parseTime("time", j.Time); err != nil {
		return ReadingItem{}, err
	}
	if len(j.Values) == 0 {
		return ReadingItem{}, invalid("values", "missing or empty")
	}
	if it.Values, err = decodeValues("values", j.Values); err != nil {
		return ReadingItem{}, err
	}
	it.Meter, it.Serial, it.Flags = j.Meter, serial, j.Flags
	return it, nil
}

// optSerial returns a serial that may be left out but not empty.
func optSerial(s *string) (string, error) {
	if s == nil {
		return "", nil
	}
	if err := checkPrintable("serial", *s); err != nil {
		return "", err
	}
	return *s, nil
}

// checkSeq checks an item's seq: at least 1 in a batch, absent in the
// Data of a record, where the spool has not numbered it yet.
func checkSeq(seq *uint64, inBatch bool) (uint64, error) {
	switch {
	case !inBatch && seq != nil:
		return 0, invalid("seq", "a record's data has no seq; the batch adds it")
	case !inBatch:
		return 0, nil
	case seq == nil:
		return 0, invalid("seq", "missing")
	case *seq == 0:
		return 0, invalid("seq", "must be at least 1")
	}
	return *seq, nil
}
