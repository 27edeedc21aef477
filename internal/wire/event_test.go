package wire

import (
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/esep-kz/esep/internal/reading"
)

// events returns one event of each kind, with times at milliseconds so
// that they survive the wire unchanged.
func events(t testing.TB) []Event {
	old := []reading.Value{value(t, "energy_active_import_kwh", "20211.37", 2)}
	fresh := []reading.Value{value(t, "energy_active_import_kwh", "0.42", 2),
		{Quantity: "voltage_v", Unit: "V", Quality: reading.Error}}
	return []Event{
		{Kind: MeterOffline, Meter: "apt-002-el", Time: at,
			Error: "read input registers 30001+80 of slave 2: timeout after 1s"},
		{Kind: MeterOnline, Meter: "apt-002-el", Time: at},
		{Kind: MeterReplaced, Meter: "apt-003-el", Time: at, OldSerial: "21450003",
			NewSerial: "23990117", OldValues: old, OldTime: at.Add(-15 * time.Minute),
			NewValues: fresh},
		{Kind: MeterReplaced, Meter: "apt-004-el", Time: at, OldSerial: "A1", NewSerial: "A2"},
		{Kind: ClockStepped, Time: at, Step: -6 * time.Hour},
		{Kind: ClockUnsynced, Time: at, Error: "no NTP answer for 2h0m0s"},
		{Kind: ClockUnsynced, Time: at},
		{Kind: ClockSynced, Time: at},
		{Kind: SpoolPressure, Time: at, HistoryDropped: 1200, Thinned: 300, Dropped: 0,
			Oldest: at.Add(-72 * time.Hour)},
		{Kind: SpoolPressure, Time: at, Dropped: 5},
		{Kind: BusDown, Bus: "rs485-1", Time: at, Error: "open /dev/ttyS1: no such device"},
		{Kind: BusUp, Bus: "rs485-1", Time: at},
	}
}

func TestEventRoundTrip(t *testing.T) {
	for i, e := range events(t) {
		t.Run(fmt.Sprintf("%d-%s", i, e.Kind), func(t *testing.T) {
			data := mustEvent(t, e)
			body, err := EventsBatch("bldg-0042", sent, []Item{{Seq: 40, Data: data}})
			if err != nil {
				t.Fatal(err)
			}
			b, err := DecodeEvents(body)
			if err != nil {
				t.Fatalf("DecodeEvents(%s): %v", body, err)
			}
			got, want := fmt.Sprintf("%+v", b.Events[0].Event), fmt.Sprintf("%+v", e)
			if got != want || b.Events[0].Seq != 40 {
				t.Errorf("event %s\ncame back as %s, seq %d\nwant        %s, seq 40",
					data, got, b.Events[0].Seq, want)
			}
		})
	}
}

func TestEncodeEventRefuses(t *testing.T) {
	tests := []struct {
		name string
		e    Event
		want string
	}{
		{"no kind", Event{Meter: "m1", Time: at}, "kind: missing"},
		{"unknown kind", Event{Kind: "meter_on_fire", Meter: "m1", Time: at},
			`kind: "meter_on_fire" is not an event kind`},
		{"no time", Event{Kind: MeterOnline, Meter: "m1"}, "time: time is not set"},
		{"field of another kind", Event{Kind: MeterOnline, Meter: "m1", Time: at,
			Error: "x"}, "error: is not a field of kind meter_online"},
		{"clock step names a meter", Event{Kind: ClockStepped, Meter: "m1", Time: at,
			Step: time.Hour}, "meter: is not a field of kind clock_stepped"},
		{"clock step of nothing", Event{Kind: ClockStepped, Time: at, Step: time.Microsecond},
			"step_ms: missing for kind clock_stepped"},
		{"replacement without serial", Event{Kind: MeterReplaced, Meter: "m1", Time: at,
			OldSerial: "1"}, "new_serial: missing"},
		{"replacement by itself", Event{Kind: MeterReplaced, Meter: "m1", Time: at,
			OldSerial: "1", NewSerial: "1"}, `new_serial: "1" is the old serial too`},
		{"old values without time", Event{Kind: MeterReplaced, Meter: "m1", Time: at,
			OldSerial: "1", NewSerial: "2",
			OldValues: []reading.Value{value(t, "volume_m3", "1.000", 3)}},
			"old_time: missing, though old_values are given"},
		{"bus down without bus", Event{Kind: BusDown, Time: at}, "bus: missing"},
		{"bad value", Event{Kind: MeterReplaced, Meter: "m1", Time: at, OldSerial: "1",
			NewSerial: "2", NewValues: []reading.Value{{Quantity: "volume_l", Unit: "l"}}},
			"new_values[0].quantity"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := EncodeEvent(tt.e)
			wantErr(t, err, "cannot encode event", tt.want)
		})
	}
}

// TestEventErrorText checks that a long or broken error text is cut to
// fit rather than failing the event, which would lose it.
func TestEventErrorText(t *testing.T) {
	tests := []struct {
		name string
		text string
		want string // the text that comes back, or its start
	}{
		{"short", "timeout <nil>", "timeout <nil>"},
		{"long", strings.Repeat("é", 2000), strings.Repeat("é", maxText-1) + "…"},
		{"broken UTF-8", "bad \xff byte", "bad ? byte"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := Event{Kind: BusDown, Bus: "rs485-1", Time: at, Error: tt.text}
			body, err := EventsBatch("b1", sent, []Item{{Seq: 1, Data: mustEvent(t, e)}})
			if err != nil {
				t.Fatal(err)
			}
			b, err := DecodeEvents(body)
			if err != nil {
				t.Fatal(err)
			}
			got := b.Events[0].Error
			if got != tt.want || utf8.RuneCountInString(got) > maxText {
				t.Errorf("error text %q came back as %q, want %q", tt.text, got, tt.want)
			}
		})
	}
}
