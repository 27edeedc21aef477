package wire

import (
	"encoding/json"
	"reflect"
	"strings"
	"time"

	"github.com/esep-kz/esep/internal/reading"
)

// eventJSON is one event on the wire; in a batch it also has seq:
//
//	{"seq":18,"kind":"meter_offline","meter":"apt-002-el",
//	 "time":"2026-03-01T10:30:01.002Z","error":"no reply from slave 2"}
//
// Keys: kind (the event kind), meter (meter ID), bus (bus name), time
// (when the agent saw it), error (the failure, at most 512 characters),
// step_ms (clock step in milliseconds, negative when back), old_serial
// and new_serial, old_time, old_values and new_values (values as in a
// reading), history_dropped, thinned and dropped (counts of records the
// spool removed), oldest (time of the oldest unsent record kept).
type eventJSON struct {
	Seq            *uint64           `json:"seq,omitempty"`
	Kind           string            `json:"kind"`
	Meter          string            `json:"meter,omitempty"`
	Bus            string            `json:"bus,omitempty"`
	Time           string            `json:"time"`
	Error          string            `json:"error,omitempty"`
	StepMS         int64             `json:"step_ms,omitempty"`
	OldSerial      string            `json:"old_serial,omitempty"`
	NewSerial      string            `json:"new_serial,omitempty"`
	OldTime        string            `json:"old_time,omitempty"`
	OldValues      []json.RawMessage `json:"old_values,omitempty"`
	NewValues      []json.RawMessage `json:"new_values,omitempty"`
	HistoryDropped *uint64           `json:"history_dropped,omitempty"`
	Thinned        *uint64           `json:"thinned,omitempty"`
	Dropped        *uint64           `json:"dropped,omitempty"`
	Oldest         string            `json:"oldest,omitempty"`
}

// eventKeys are the JSON names of eventJSON's fields but seq, kind and
// time, which every event has.
var eventKeys = func() []string {
	var keys []string
	t := reflect.TypeFor[eventJSON]()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "seq" && name != "kind" && name != "time" {
			keys = append(keys, name)
		}
	}
	return keys
}()

// encodeEvent writes e as JSON; times and values are checked here, the
// rest by decodeEvent.
func encodeEvent(e Event) ([]byte, error) {
	j := eventJSON{Kind: e.Kind, Meter: e.Meter, Bus: e.Bus, Error: clipText(e.Error),
		StepMS: e.Step.Milliseconds(), OldSerial: e.OldSerial, NewSerial: e.NewSerial}
	var err error
	if j.Time, err = formatTime("time", e.Time); err != nil {
		return nil, err
	}
	if j.OldTime, err = formatOptTime("old_time", e.OldTime); err != nil {
		return nil, err
	}
	if j.Oldest, err = formatOptTime("oldest", e.Oldest); err != nil {
		return nil, err
	}
	if j.OldValues, err = rawValues("old_values", e.OldValues); err != nil {
		return nil, err
	}
	if j.NewValues, err = rawValues("new_values", e.NewValues); err != nil {
		return nil, err
	}
	if e.Kind == SpoolPressure {
		j.HistoryDropped, j.Thinned, j.Dropped = &e.HistoryDropped, &e.Thinned, &e.Dropped
	}
	return marshal(j)
}

// formatOptTime is formatTime for a time that may be left out.
func formatOptTime(field string, t time.Time) (string, error) {
	if t.IsZero() {
		return "", nil
	}
	return formatTime(field, t)
}

// rawValues encodes values for an event; none gives nil, left out.
func rawValues(field string, vs []reading.Value) ([]json.RawMessage, error) {
	js, err := encodeValues(field, vs)
	if err != nil || len(js) == 0 {
		return nil, err
	}
	out := make([]json.RawMessage, len(js))
	for i, j := range js {
		if out[i], err = marshal(j); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// decodeEvent reads one event; inBatch says whether it must carry a seq
// (in a batch) or must not (a record's Data).
func decodeEvent(doc []byte, inBatch bool) (EventItem, error) {
	var j eventJSON
	if err := decodeStrict(doc, &j); err != nil {
		return EventItem{}, err
	}
	var present map[string]json.RawMessage
	if err := json.Unmarshal(doc, &present); err != nil {
		return EventItem{}, invalid("", "%v", err)
	}
	seq, err := checkSeq(j.Seq, inBatch)
	if err != nil {
		return EventItem{}, err
	}
	if j.Kind == "" {
		return EventItem{}, invalid("kind", "missing")
	}
	has := func(key string) bool { _, ok := present[key]; return ok }
	if err := checkKindFields(j.Kind, has, eventKeys); err != nil {
		return EventItem{}, err
	}
	e, err := eventFromJSON(j, has)
	if err != nil {
		return EventItem{}, err
	}
	return EventItem{Seq: seq, Event: e}, nil
}

// eventFromJSON checks the value of each field present and converts it.
func eventFromJSON(j eventJSON, has func(string) bool) (Event, error) {
	e := Event{Kind: j.Kind, Meter: j.Meter, Bus: j.Bus, Error: j.Error,
		Step:      time.Duration(j.StepMS) * time.Millisecond,
		OldSerial: j.OldSerial, NewSerial: j.NewSerial}
	var err error
	if e.Time, err = parseTime("time", j.Time); err != nil {
		return Event{}, err
	}
	checks := []struct {
		key   string
		check func() error
	}{
		{"meter", func() error { return checkID("meter", j.Meter) }},
		{"bus", func() error { return checkID("bus", j.Bus) }},
		{"error", func() error { return checkError(j.Error) }},
		{"step_ms", func() error { return checkStep(j.StepMS) }},
		{"old_serial", func() error { return checkPrintable("old_serial", j.OldSerial) }},
		{"new_serial", func() error { return checkNewSerial(j.OldSerial, j.NewSerial) }},
		{"old_time", func() (err error) { e.OldTime, err = parseTime("old_time", j.OldTime); return }},
		{"oldest", func() (err error) { e.Oldest, err = parseTime("oldest", j.Oldest); return }},
		{"old_values", func() (err error) {
			e.OldValues, err = eventValues("old_values", j.OldValues)
			return
		}},
		{"new_values", func() (err error) {
			e.NewValues, err = eventValues("new_values", j.NewValues)
			return
		}},
	}
	for _, c := range checks {
		if !has(c.key) {
			continue
		}
		if err := c.check(); err != nil {
			return Event{}, err
		}
	}
	e.HistoryDropped, e.Thinned, e.Dropped = deref(j.HistoryDropped), deref(j.Thinned),
		deref(j.Dropped)
	return e, nil
}

func checkError(s string) error {
	if s == "" {
		return invalid("error", "empty; leave it out instead")
	}
	return checkText("error", s)
}

func checkNewSerial(old, new string) error {
	if new == old {
		return invalid("new_serial", "%q is the old serial too; that is no replacement", new)
	}
	return checkPrintable("new_serial", new)
}

func checkStep(ms int64) error {
	if ms == 0 || ms > maxStepMS || ms < -maxStepMS {
		return invalid("step_ms", "%d is not a clock step (non-zero, within 100 years)", ms)
	}
	return nil
}

// eventValues reads the values of a meter_replaced event.
func eventValues(field string, raw []json.RawMessage) ([]reading.Value, error) {
	if len(raw) == 0 {
		return nil, invalid(field, "empty; leave it out instead")
	}
	return decodeValues(field, raw)
}

func deref(p *uint64) uint64 {
	if p == nil {
		return 0
	}
	return *p
}
