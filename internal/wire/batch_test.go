package wire

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/esep-kz/esep/internal/reading"
)

// sent is when the test batches are made, a few seconds after the slot.
var sent = at.Add(17 * time.Second)

// TestReadingsBatchSize checks the budget: a batch of 50 flats'
// meters (the SDM120 profile, 11 values each) fits in 4 KB on the wire.
func TestReadingsBatchSize(t *testing.T) {
	items := sdm120Batch(t, 50, 1001)
	body, err := ReadingsBatch("bldg-0042", sent, items)
	if err != nil {
		t.Fatal(err)
	}
	plainSize := len(gunzip(t, body))
	t.Logf("50 SDM120 readings: %d bytes gzip, %d bytes JSON", len(body), plainSize)
	if len(body) > 4096 {
		t.Errorf("batch of 50 readings is %d bytes, want at most 4096", len(body))
	}
	if !bytes.HasPrefix(body, gzipMagic) {
		t.Errorf("batch starts % x, want the gzip magic % x", body[:2], gzipMagic)
	}
	b, err := DecodeReadings(body)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Readings) != 50 || b.Readings[49].Meter != "apt-050-el" {
		t.Errorf("decoded %d readings, last %q; want 50, last apt-050-el",
			len(b.Readings), b.Readings[len(b.Readings)-1].Meter)
	}
}

func TestReadingsBatchRoundTrip(t *testing.T) {
	r := reading.Reading{Meter: "apt-007-el", Serial: "21450077", Time: at, Values: []reading.Value{
		value(t, "energy_active_import_kwh", "12345.678", 3),
		{Quantity: "current_a", Unit: "A", Quality: reading.Error},
	}}
	data, err := EncodeReading(r, FlagClockUnsynced)
	if err != nil {
		t.Fatal(err)
	}
	body, err := ReadingsBatch("bldg-0042", sent, []Item{{Seq: 9, Data: data}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := DecodeReadings(body)
	if err != nil {
		t.Fatal(err)
	}
	if b.Agent != "bldg-0042" || !b.Sent.Equal(sent) || len(b.Readings) != 1 {
		t.Fatalf("got batch %+v, want agent bldg-0042, sent %s, one reading", b, sent)
	}
	got := b.Readings[0]
	if got.Seq != 9 || got.Meter != r.Meter || got.Serial != r.Serial ||
		!got.Time.Equal(at) || len(got.Flags) != 1 || got.Flags[0] != FlagClockUnsynced {
		t.Errorf("got %+v, want seq 9 and the head of %+v with flag clock_unsynced", got, r)
	}
	if n := got.Values[0].Number.StringFixed(got.Values[0].Places); n != "12345.678" {
		t.Errorf("got index %s, want 12345.678", n)
	}
	if v := got.Values[1]; v.Quality != reading.Error || v.HasNumber() {
		t.Errorf("got %v, want an error value without number", v)
	}
}

func TestEventsBatchRoundTrip(t *testing.T) {
	items := []Item{
		{Seq: 3, Data: mustEvent(t, Event{Kind: MeterOffline, Meter: "apt-002-el", Time: at,
			Error: "no reply from slave 2"})},
		{Seq: 5, Data: mustEvent(t, Event{Kind: BusUp, Bus: "rs485-1", Time: at})},
	}
	body, err := EventsBatch("bldg-0042", sent, items)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.HasPrefix(body, gzipMagic) {
		t.Errorf("events batch is gzip, want plain JSON")
	}
	b, err := DecodeEvents(body)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Events) != 2 || b.Events[0].Seq != 3 || b.Events[1].Kind != BusUp ||
		b.Events[0].Error != "no reply from slave 2" {
		t.Errorf("got %+v, want seq 3 meter_offline with its error, then bus_up", b.Events)
	}
}

func mustEvent(t testing.TB, e Event) []byte {
	t.Helper()
	data, err := EncodeEvent(e)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestBatchRefuses(t *testing.T) {
	good := sdm120Batch(t, 2, 1)
	event := mustEvent(t, Event{Kind: BusUp, Bus: "rs485-1", Time: at})
	tests := []struct {
		name    string
		agent   string
		items   []Item
		item    bool   // whether the error is an ItemError
		wantSeq uint64 // its seq
		want    string
	}{
		{"no items", "bldg-1", nil, false, 0, "items: a batch has at least one item"},
		{"bad agent", "bldg/1", good, false, 0, `agent: "bldg/1" is not an ID`},
		{"seq 0", "bldg-1", []Item{{0, good[0].Data}}, true, 0,
			"items[0].seq: must be at least 1"},
		{"seq twice", "bldg-1", []Item{{4, good[0].Data}, {4, good[1].Data}}, true, 4,
			"items[1].seq: 4 appears twice"},
		{"not JSON", "bldg-1", []Item{{7, []byte("{]")}}, true, 7, "items[0]"},
		{"event as reading", "bldg-1", []Item{{8, event}}, true, 8, `unknown field "kind"`},
		{"seq inside", "bldg-1", []Item{{9, []byte(`{"seq":9,` + string(good[0].Data[1:]))}},
			true, 9, "items[0].seq: a record's data has no seq"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadingsBatch(tt.agent, sent, tt.items)
			wantErr(t, err, tt.want, "cannot encode readings batch")
			var ie *ItemError
			if got := errors.As(err, &ie); got != tt.item || got && ie.Seq != tt.wantSeq {
				t.Errorf("got %#v, want ItemError %v with seq %d", err, tt.item, tt.wantSeq)
			}
		})
	}
}
