// Package tsdb writes raw meter readings to a time-series database
// through the InfluxDB v2 write API (InfluxDB 2 and 3, VictoriaMetrics).
// docs/tsdb.md describes the line design: one line per reading, tagged
// only by agent and meter, so that a redelivered reading lands on its own
// line again instead of beside it.
package tsdb

import (
	"fmt"
	"strings"
	"time"

	"github.com/influxdata/influxdb-client-go/v2/api/write"

	"github.com/esep-kz/esep/internal/reading"
	"github.com/esep-kz/esep/internal/wire"
)

// Measurement is the measurement of every reading's line. VictoriaMetrics
// names each series measurement_field: meter_voltage_v.
const Measurement = "meter"

// Tag keys of a reading's line. Together with the measurement and the
// timestamp they are the line's identity; nothing that may differ
// between two deliveries of one reading is a tag.
const (
	TagAgent = "agent" // the agent's ID: meter IDs are unique per agent only
	TagMeter = "meter" // the meter's ID at its agent (metering point)
)

// QualitySuffix ends the name of the field that holds a value's quality
// code beside its number: voltage_v_quality. No quantity name ends so,
// since every one ends in its unit.
const QualitySuffix = "_quality"

// FlagPrefix starts the name of the field written for a reading flag:
// flag_clock_unsynced=1i.
const FlagPrefix = "flag_"

// qualityCodes are the numbers a quality field holds. Good has none: its
// field is left out, so the common case costs no sample.
var qualityCodes = map[reading.Quality]int64{
	reading.ClockUnsynced: 1,
	reading.Error:         2,
	reading.OutOfRange:    3,
}

// Points returns the lines of the readings in batches, one per reading,
// in order. It fails with ErrRejected for a reading that line protocol
// cannot carry: an empty or control character in an ID, or no value.
func Points(batches ...wire.Batch) ([]*write.Point, error) {
	var pts []*write.Point
	for _, b := range batches {
		for _, it := range b.Readings {
			p, err := readingPoint(b.Agent, it)
			if err != nil {
				return nil, fmt.Errorf("cannot make the line of meter %q (agent %q, seq %d): %w",
					it.Meter, b.Agent, it.Seq, err)
			}
			pts = append(pts, p)
		}
	}
	return pts, nil
}

// readingPoint makes the line of one reading of agent.
func readingPoint(agent string, it wire.ReadingItem) (*write.Point, error) {
	fields := make([]field, 0, len(it.Values)+len(it.Flags))
	for _, v := range it.Values {
		var err error
		if fields, err = appendValue(fields, v); err != nil {
			return nil, err
		}
	}
	for _, f := range it.Flags {
		fields = append(fields, field{FlagPrefix + f, int64(1)})
	}
	tags := []field{{TagAgent, agent}, {TagMeter, it.Meter}}
	return newPoint(Measurement, tags, fields, it.Time)
}

// appendValue adds a value's fields: its number, when it has one, as the
// nearest float64, and its quality code, unless it is good. A quality
// it does not know is refused rather than stored as good or dropped.
func appendValue(fields []field, v reading.Value) ([]field, error) {
	q := string(v.Quantity)
	if v.Quality == "" || v.HasNumber() { // the zero Quality is Good
		f, _ := v.Number.Float64() // the nearest float64; the exact one is in SQL
		fields = append(fields, field{q, f})
	}
	code, ok := qualityCodes[v.Quality]
	switch {
	case ok:
		fields = append(fields, field{q + QualitySuffix, code})
	case v.Quality != "" && v.Quality != reading.Good:
		return nil, fmt.Errorf("%w: value %s has the unknown quality %q",
			ErrRejected, q, v.Quality)
	}
	return fields, nil
}

// field is a key and its value: a tag (string) or a field (float64,
// int64).
type field struct {
	key   string
	value any
}

// newPoint builds a point, escaping what the client's encoder leaves
// alone (see escapeKey), with its timestamp at.
func newPoint(measurement string, tags, fields []field, at time.Time) (*write.Point, error) {
	if len(fields) == 0 {
		return nil, fmt.Errorf("%w: a reading without values has no line", ErrRejected)
	}
	p := write.NewPointWithMeasurement(measurement)
	for _, t := range tags {
		k, err := escapeKey("tag key", t.key)
		if err != nil {
			return nil, err
		}
		v, err := escapeKey("tag "+t.key, t.value.(string))
		if err != nil {
			return nil, err
		}
		p.AddTag(k, v)
	}
	for _, f := range fields {
		k, err := escapeKey("field key", f.key)
		if err != nil {
			return nil, err
		}
		p.AddField(k, f.value)
	}
	// The client's encoder writes tags in the order given; sorted tags
	// are what InfluxDB recommends and what it would sort them to.
	p.SortTags()
	return p.SetTime(at), nil
}

// escapeKey prepares a tag key, tag value or field key for the client's
// line protocol encoder (github.com/influxdata/line-protocol), which
// escapes spaces, commas and equals signs but not backslashes: "b\" would
// come out as b\ followed by the separator, which the server then reads as
// an escaped space. Doubling each backslash first gives b\\, which both
// InfluxDB and VictoriaMetrics read back as b\.
//
// Control characters are refused: the encoder writes a newline as the two
// characters \n, which the servers keep as a backslash and an n, and a raw
// one would end the line. An empty string is refused because the encoder
// silently drops a tag with an empty value, which would change the line's
// identity.
func escapeKey(what, s string) (string, error) {
	if s == "" {
		return "", fmt.Errorf("%w: %s is empty", ErrRejected, what)
	}
	if i := strings.IndexFunc(s, isControl); i >= 0 {
		return "", fmt.Errorf("%w: %s %q has a control character at byte %d",
			ErrRejected, what, s, i)
	}
	return strings.ReplaceAll(s, `\`, `\\`), nil
}

// isControl reports whether r is a C0 or C1 control character or DEL.
func isControl(r rune) bool {
	return r < 0x20 || r >= 0x7f && r < 0xa0
}
