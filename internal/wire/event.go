package wire

import (
	"fmt"
	"slices"
	"time"

	"github.com/esep-kz/esep/internal/reading"
)

// Event kinds, as they are written in logs and on the wire.
const (
	// MeterOffline: a meter has failed enough polls in a row to be taken
	// for dead; Error holds the last failure.
	MeterOffline = "meter_offline"
	// MeterOnline: an offline meter answers again.
	MeterOnline = "meter_online"
	// MeterReplaced: a metering point answers with another serial; its
	// index starts anew, which is no consumption.
	MeterReplaced = "meter_replaced"
	// ClockStepped: the agent's wall clock jumped by Step; times may
	// repeat across it.
	ClockStepped = "clock_stepped"
	// ClockUnsynced: the agent's clock is not known to be right; its
	// readings carry FlagClockUnsynced until it is.
	ClockUnsynced = "clock_unsynced"
	// ClockSynced: the agent's clock is right again, after ClockUnsynced;
	// readings carry no flag from then on.
	ClockSynced = "clock_synced"
	// SpoolPressure: the spool was full and had to remove records to
	// take new ones; the counts say what went.
	SpoolPressure = "spool_pressure"
	// BusDown: a field bus cannot be opened or reached; Error says why.
	BusDown = "bus_down"
	// BusUp: a bus that was down works again.
	BusUp = "bus_up"
)

// Event is one agent or meter event, in the terms of the wire. Each kind
// uses some of the fields (see kindFields and docs/mqtt.md) and leaves
// the others zero; EncodeEvent refuses a field that its kind does not
// have, so that the centre never has to guess which one counts.
type Event struct {
	Kind  string    // one of the kinds above
	Meter string    // meter ID, for the meter kinds
	Bus   string    // bus name, for BusDown and BusUp
	Time  time.Time // when the agent saw the change, UTC
	// Error is the failure behind MeterOffline, BusDown or
	// ClockUnsynced; EncodeEvent cuts it to 512 characters.
	Error string

	// Step is how far the wall clock moved, for ClockStepped: negative
	// when it went back. The wire keeps milliseconds.
	Step time.Duration

	// For MeterReplaced: the serials of the meter that was at the
	// metering point and of the one there now; the values last read from
	// the old meter, and when; the first read from the new one.
	OldSerial, NewSerial string
	OldValues            []reading.Value
	OldTime              time.Time
	NewValues            []reading.Value

	// For SpoolPressure: what the spool removed to make room (acknowledged
	// records kept for resend, unsent readings thinned to hourly or daily,
	// unsent records dropped outright), and the time of the oldest unsent
	// record it still holds (zero when none).
	HistoryDropped, Thinned, Dropped uint64
	Oldest                           time.Time
}

// EventItem is one event of a decoded batch.
type EventItem struct {
	Seq uint64 // the agent's sequence number
	Event
}

// kindRule lists the fields of an event kind by their JSON names,
// besides kind, seq and time, which every event has.
type kindRule struct {
	required []string
	optional []string
}

// kindFields says which fields each kind of event has.
var kindFields = map[string]kindRule{
	MeterOffline: {required: []string{"meter"}, optional: []string{"error"}},
	MeterOnline:  {required: []string{"meter"}},
	MeterReplaced: {required: []string{"meter", "old_serial", "new_serial"},
		optional: []string{"old_time", "old_values", "new_values"}},
	ClockStepped:  {required: []string{"step_ms"}},
	ClockUnsynced: {optional: []string{"error"}},
	ClockSynced:   {},
	SpoolPressure: {required: []string{"history_dropped", "thinned", "dropped"},
		optional: []string{"oldest"}},
	BusDown: {required: []string{"bus"}, optional: []string{"error"}},
	BusUp:   {required: []string{"bus"}},
}

// maxStepMS bounds a clock step to a hundred years, which keeps it far
// from overflowing a time.Duration.
const maxStepMS = 100 * 366 * 24 * 3600 * 1000

// checkKindFields checks that an event of kind has exactly the fields
// its rule allows; has reports whether a field is present.
func checkKindFields(kind string, has func(string) bool, all []string) error {
	rule, ok := kindFields[kind]
	if !ok {
		return invalid("kind", "%q is not an event kind of schema v1", kind)
	}
	for _, f := range rule.required {
		if !has(f) {
			return invalid(f, "missing for kind %s", kind)
		}
	}
	for _, f := range all {
		if has(f) && !slices.Contains(rule.required, f) && !slices.Contains(rule.optional, f) {
			return invalid(f, "is not a field of kind %s", kind)
		}
	}
	if kind == MeterReplaced && has("old_values") && !has("old_time") {
		return invalid("old_time", "missing, though old_values are given")
	}
	return nil
}

// EncodeEvent returns e in its wire form: the Data of a spool record of
// an event, which EventsBatch later puts in a batch with its sequence
// number. It fails for an event the centre would refuse, naming the
// field; the check is DecodeEvents' own, so what it encodes decodes.
func EncodeEvent(e Event) ([]byte, error) {
	data, err := encodeEvent(e)
	if err == nil {
		_, err = decodeEvent(data, false)
	}
	if err != nil {
		return nil, fmt.Errorf("cannot encode event %q: %w", e.Kind, err)
	}
	return data, nil
}
