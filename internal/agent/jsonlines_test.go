package agent

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/shopspring/decimal"

	"github.com/esep-kz/esep/internal/reading"
)

func TestJSONLines(t *testing.T) {
	at := time.Date(2026, 3, 1, 15, 15, 0, 412e6, time.FixedZone("UTC+5", 5*3600))
	voltage := reading.Value{Quantity: "voltage_v", Unit: "V", Quality: reading.Good,
		Number: decimal.RequireFromString("230.1"), Places: 2}
	index := func(s string) []reading.Value {
		return []reading.Value{{Quantity: "energy_active_import_kwh", Unit: "kWh",
			Quality: reading.Good, Number: decimal.RequireFromString(s), Places: 2}}
	}
	failed := reading.Value{Quantity: "current_a", Unit: "A", Quality: reading.Error, Places: 3}

	tests := []struct {
		name  string
		write func(*JSONLines)
		want  string
	}{
		{"reading", func(s *JSONLines) {
			s.Reading(reading.Reading{Meter: "m1", Serial: "1111", Time: at,
				Values: []reading.Value{voltage, failed}})
		}, `{"type":"reading","meter":"m1","serial":"1111","time":"2026-03-01T10:15:00.412Z",` +
			`"values":[{"quantity":"voltage_v","value":"230.10","unit":"V","quality":"good"},` +
			`{"quantity":"current_a","unit":"A","quality":"error"}]}`},
		{"offline", func(s *JSONLines) {
			s.Event(Event{Kind: MeterOffline, Meter: "m2", Time: at, Err: errors.New("timeout")})
		}, `{"type":"event","kind":"meter_offline","meter":"m2",` +
			`"time":"2026-03-01T10:15:00.412Z","error":"timeout"}`},
		{"replaced", func(s *JSONLines) {
			s.Event(Event{Kind: MeterReplaced, Meter: "m1", Time: at, OldSerial: "1111",
				NewSerial: "2222", OldValues: index("12345.6"), OldTime: at.Add(-time.Hour),
				NewValues: index("0.01")})
		}, `{"type":"event","kind":"meter_replaced","meter":"m1",` +
			`"time":"2026-03-01T10:15:00.412Z","old_serial":"1111","new_serial":"2222",` +
			`"old_values":[{"quantity":"energy_active_import_kwh","value":"12345.60",` +
			`"unit":"kWh","quality":"good"}],"old_time":"2026-03-01T09:15:00.412Z",` +
			`"new_values":[{"quantity":"energy_active_import_kwh","value":"0.01",` +
			`"unit":"kWh","quality":"good"}]}`},
		{"clock stepped", func(s *JSONLines) {
			s.Event(Event{Kind: ClockStepped, Time: at, Step: -6 * time.Hour})
		}, `{"type":"event","kind":"clock_stepped","time":"2026-03-01T10:15:00.412Z",` +
			`"step":"-6h0m0s"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			tt.write(NewJSONLines(&out, zerolog.Nop()))
			if got := out.String(); got != tt.want+"\n" {
				t.Errorf("line:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

// failingWriter refuses every write, as a closed stdout does.
type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

func TestJSONLinesWriteFailureLogged(t *testing.T) {
	var log bytes.Buffer
	s := NewJSONLines(failingWriter{}, zerolog.New(&log))
	for range 3 {
		s.Reading(reading.Reading{Meter: "m1", Time: time.Now()})
	}
	if n := strings.Count(log.String(), "broken pipe"); n != 1 {
		t.Errorf("log:\n%s\nwant one line about the failed writes, got %d", log.String(), n)
	}
}
