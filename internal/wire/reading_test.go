package wire

import (
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/esep-kz/esep/internal/reading"
)

func TestEncodeReading(t *testing.T) {
	pf := value(t, "power_factor", "0.9791", 3)
	tests := []struct {
		name  string
		value reading.Value
		flags []string
		want  string // the value as written
	}{
		{"index keeps its places", value(t, "energy_active_import_kwh", "12345.678", 3), nil,
			`{"quantity":"energy_active_import_kwh","number":"12345.678","unit":"kWh",` +
				`"quality":"good"}`},
		{"trailing zeros kept", value(t, "voltage_v", "230.1", 2), nil,
			`{"quantity":"voltage_v","number":"230.10","unit":"V","quality":"good"}`},
		{"rounded at resolution", pf, nil,
			`{"quantity":"power_factor","number":"0.979","unit":"","quality":"good"}`},
		{"error has no number", reading.Value{Quantity: "current_a", Unit: "A",
			Number: decimal.RequireFromString("5"), Quality: reading.Error}, nil,
			`{"quantity":"current_a","unit":"A","quality":"error"}`},
		{"out of range has no number", value(t, "voltage_v", "2e7", 2), nil,
			`{"quantity":"voltage_v","unit":"V","quality":"out_of_range"}`},
		{"zero quality is good", reading.Value{Quantity: "frequency_hz", Unit: "Hz",
			Number: decimal.RequireFromString("50"), Places: 2}, nil,
			`{"quantity":"frequency_hz","number":"50.00","unit":"Hz","quality":"good"}`},
		{"flag", value(t, "volume_m3", "12.345", 3), []string{FlagClockUnsynced},
			`"flags":["clock_unsynced"]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := reading.Reading{Meter: "apt-001-wc", Time: at, Values: []reading.Value{tt.value}}
			got, err := EncodeReading(r, tt.flags...)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(got), tt.want) {
				t.Errorf("EncodeReading(%v) = %s, want it to contain %s", tt.value, got, tt.want)
			}
			if !strings.Contains(string(got), `"time":"2026-03-01T05:15:00.412Z"`) {
				t.Errorf("EncodeReading = %s, want time 2026-03-01T05:15:00.412Z", got)
			}
		})
	}
}

func TestEncodeReadingRefuses(t *testing.T) {
	v := value(t, "voltage_v", "230.1", 2)
	almaty := time.FixedZone("UTC+5", 5*3600)
	tests := []struct {
		name  string
		r     reading.Reading
		flags []string
		want  string
	}{
		{"no meter", reading.Reading{Time: at, Values: []reading.Value{v}}, nil,
			"meter: missing"},
		{"meter in a topic's way", reading.Reading{Meter: "apt/1", Time: at,
			Values: []reading.Value{v}}, nil, `meter: "apt/1" is not an ID`},
		{"no time", reading.Reading{Meter: "m1", Values: []reading.Value{v}}, nil,
			"time: time is not set"},
		{"no values", reading.Reading{Meter: "m1", Time: at}, nil, "values: a reading has"},
		{"unknown quantity", reading.Reading{Meter: "m1", Time: at, Values: []reading.Value{
			{Quantity: "volts", Unit: "V", Number: decimal.NewFromInt(1)}}}, nil,
			`values[0].quantity: quantity "volts" is not in the vocabulary`},
		{"wrong unit", reading.Reading{Meter: "m1", Time: at, Values: []reading.Value{
			{Quantity: "voltage_v", Unit: "kV", Number: decimal.NewFromInt(1)}}}, nil,
			`values[0].unit: "kV" is not the unit of voltage_v`},
		{"quantity twice", reading.Reading{Meter: "m1", Time: at,
			Values: []reading.Value{v, v}}, nil, `values[1].quantity: "voltage_v" appears twice`},
		{"unknown flag", reading.Reading{Meter: "m1", Time: at.In(almaty),
			Values: []reading.Value{v}}, []string{"estimated"}, `flags: "estimated"`},
		{"serial with control bytes", reading.Reading{Meter: "m1", Serial: "21\x00\x07",
			Time: at, Values: []reading.Value{v}}, nil, "serial: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := EncodeReading(tt.r, tt.flags...)
			wantErr(t, err, "cannot encode reading of meter", tt.want)
		})
	}
}

// TestEncodeReadingUTC checks that a time in another zone is written as
// the same instant in UTC, with milliseconds cut, never rounded up into
// the next slot.
func TestEncodeReadingUTC(t *testing.T) {
	almaty := time.FixedZone("UTC+5", 5*3600)
	when := time.Date(2026, 3, 1, 10, 29, 59, 999_999_999, almaty)
	r := reading.Reading{Meter: "m1", Time: when,
		Values: []reading.Value{value(t, "voltage_v", "230.1", 2)}}
	got, err := EncodeReading(r)
	if err != nil {
		t.Fatal(err)
	}
	if want := `"time":"2026-03-01T05:29:59.999Z"`; !strings.Contains(string(got), want) {
		t.Errorf("EncodeReading(time %s) = %s, want %s", when, got, want)
	}
}
