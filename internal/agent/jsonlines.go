package agent

import (
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/shopspring/decimal"

	"github.com/esep-kz/esep/internal/logging"
	"github.com/esep-kz/esep/internal/reading"
)

// jsonValue is a reading.Value as the agent writes it. The number is a
// decimal string at the value's resolution ("230.10"), so that no JSON
// reader turns an index into a binary float on the way; a value with no
// number has none, only its quality.
type jsonValue struct {
	Quantity reading.Quantity `json:"quantity"`
	Value    string           `json:"value,omitempty"`
	Unit     string           `json:"unit,omitempty"`
	Quality  reading.Quality  `json:"quality"`
}

func toJSONValues(vs []reading.Value) []jsonValue {
	out := make([]jsonValue, 0, len(vs))
	for _, v := range vs {
		j := jsonValue{Quantity: v.Quantity, Unit: v.Unit, Quality: v.Quality}
		if v.HasNumber() {
			j.Value = v.Number.StringFixed(v.Places)
		}
		out = append(out, j)
	}
	return out
}

// fromJSONValues reverses toJSONValues; a number's places are those its
// string was written with.
func fromJSONValues(js []jsonValue) ([]reading.Value, error) {
	out := make([]reading.Value, 0, len(js))
	for _, j := range js {
		v := reading.Value{Quantity: j.Quantity, Unit: j.Unit, Quality: j.Quality}
		if j.Value != "" {
			n, err := decimal.NewFromString(j.Value)
			if err != nil {
				return nil, fmt.Errorf("value of %q: %w", j.Quantity, err)
			}
			v.Number, v.Places = n, max(0, -n.Exponent())
		}
		out = append(out, v)
	}
	return out, nil
}

// jsonReading is the line of one reading.
type jsonReading struct {
	Type   string      `json:"type"` // "reading"
	Meter  string      `json:"meter"`
	Serial string      `json:"serial,omitempty"`
	Time   time.Time   `json:"time"`
	Values []jsonValue `json:"values"`
}

// jsonEvent is the line of one event; the old_ and new_ fields are set
// for meter_replaced only, step for clock_stepped only, and meter for all
// but clock_stepped.
type jsonEvent struct {
	Type      string      `json:"type"` // "event"
	Kind      string      `json:"kind"`
	Meter     string      `json:"meter,omitempty"`
	Time      time.Time   `json:"time"`
	Step      string      `json:"step,omitempty"` // Go duration: "-6h0m0s"
	Error     string      `json:"error,omitempty"`
	OldSerial string      `json:"old_serial,omitempty"`
	NewSerial string      `json:"new_serial,omitempty"`
	OldValues []jsonValue `json:"old_values,omitempty"`
	OldTime   time.Time   `json:"old_time,omitzero"`
	NewValues []jsonValue `json:"new_values,omitempty"`
}

// JSONLines is a Sink that writes each reading and each event to a
// stream as one JSON object on one line, times in UTC (RFC 3339):
//
//	{"type":"reading","meter":"apt-001-el","serial":"12345678",
//	 "time":"2026-03-01T10:15:00.412Z","values":[
//	 {"quantity":"voltage_v","value":"230.10","unit":"V","quality":"good"},
//	 {"quantity":"current_a","unit":"A","quality":"error"}]}
//	{"type":"event","kind":"meter_offline","meter":"apt-002-el",
//	 "time":"...","error":"..."}
//	{"type":"event","kind":"meter_replaced","meter":"apt-001-el","time":"...",
//	 "old_serial":"12345678","new_serial":"87654321","old_values":[...],
//	 "old_time":"...","new_values":[...]}
//	{"type":"event","kind":"clock_stepped","time":"...","step":"-6h0m0s"}
//
// JSONLines is the sink of an agent without an uplink section: for
// commissioning and trying the agent out. Nothing is spooled, so a
// reading written to a closed stream is lost; an agent in service has an
// uplink, whose SpoolSink keeps every reading until the broker has it.
type JSONLines struct {
	log zerolog.Logger

	mu      sync.Mutex // one line at a time, and guards failLog
	enc     *json.Encoder
	failLog throttle
}

// NewJSONLines returns a sink writing to w; failed writes are logged to
// log, at most one line a minute.
func NewJSONLines(w io.Writer, log zerolog.Logger) *JSONLines {
	return &JSONLines{enc: json.NewEncoder(w),
		log: log.With().Str(logging.Component, "sink").Logger()}
}

// Reading implements Sink.
func (s *JSONLines) Reading(r reading.Reading) {
	s.write(r.Meter, jsonReading{Type: "reading", Meter: r.Meter, Serial: r.Serial,
		Time: r.Time.UTC(), Values: toJSONValues(r.Values)})
}

// Event implements Sink.
func (s *JSONLines) Event(e Event) {
	j := jsonEvent{Type: "event", Kind: e.Kind.String(), Meter: e.Meter, Time: e.Time.UTC(),
		OldSerial: e.OldSerial, NewSerial: e.NewSerial, OldTime: e.OldTime.UTC()}
	if e.Err != nil {
		j.Error = e.Err.Error()
	}
	if e.Step != 0 {
		j.Step = e.Step.String()
	}
	if e.Kind == MeterReplaced {
		j.OldValues, j.NewValues = toJSONValues(e.OldValues), toJSONValues(e.NewValues)
	}
	s.write(e.Meter, j)
}

// failLogEvery spaces the lines about a stream that refuses writes.
const failLogEvery = time.Minute

func (s *JSONLines) write(meter string, v any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	// Encode writes the line with one Write call, newline included.
	err := s.enc.Encode(v)
	if err == nil {
		return
	}
	if n, ok := s.failLog.allow(time.Now(), failLogEvery); ok {
		s.log.Error().Err(err).Str(logging.Meter, meter).Int(logging.Suppressed, n).
			Msg("cannot write a line to the output; it is lost")
	}
}
