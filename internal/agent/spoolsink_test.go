package agent

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/shopspring/decimal"

	"github.com/esep-kz/esep/internal/reading"
	"github.com/esep-kz/esep/internal/spool"
	"github.com/esep-kz/esep/internal/wire"
)

func openTestSpool(t *testing.T) *spool.Spool {
	t.Helper()
	sp, err := spool.Open(t.Context(), t.TempDir()+"/spool.db",
		spool.Options{MaxBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sp.Close() })
	return sp
}

// TestSpoolSink spools readings and every kind of event the agent emits,
// and decodes them back as the uplink's batches carry them.
func TestSpoolSink(t *testing.T) {
	at := time.Date(2026, 3, 1, 10, 15, 0, 0, time.UTC)
	index := []reading.Value{{Quantity: "energy_active_import_kwh", Unit: "kWh",
		Quality: reading.Good, Number: decimal.RequireFromString("12345.67"), Places: 2}}
	unsynced := []reading.Value{index[0]}
	unsynced[0].Quality = reading.ClockUnsynced

	sp := openTestSpool(t)
	s := NewSpoolSink(sp, zerolog.Nop())
	s.Reading(reading.Reading{Meter: "m1", Serial: "1111", Time: at, Values: index})
	s.Reading(reading.Reading{Meter: "m2", Serial: "bad\x01serial", Time: at, Values: index})
	s.Reading(reading.Reading{Meter: "m3", Time: at, Values: unsynced})
	events := []Event{
		{Kind: MeterOffline, Meter: "m1", Time: at, Err: errors.New("no reply")},
		{Kind: MeterOnline, Meter: "m1", Time: at},
		{Kind: MeterReplaced, Meter: "m1", Time: at, OldSerial: "1111", NewSerial: "2222",
			OldValues: index, OldTime: at.Add(-time.Hour), NewValues: index},
		{Kind: ClockStepped, Time: at, Step: -6 * time.Hour},
		{Kind: ClockUnsynced, Time: at},
		{Kind: ClockSynced, Time: at},
		{Kind: BusDown, Bus: "riser-1", Time: at, Err: errors.New("no such device")},
		{Kind: BusUp, Bus: "riser-1", Time: at},
	}
	for _, e := range events {
		s.Event(e)
	}
	if n, err := s.Failures(); n != 0 {
		t.Fatalf("%d records not spooled: %v", n, err)
	}

	recs, err := sp.Pending(0, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var readings, evs []wire.Item
	for _, r := range recs {
		it := wire.Item{Seq: r.Seq, Data: r.Data}
		if r.Kind == spool.KindReading {
			readings = append(readings, it)
		} else {
			evs = append(evs, it)
		}
	}
	rb, err := wire.ReadingsBatch("bldg-1", at, readings)
	if err != nil {
		t.Fatalf("ReadingsBatch: %v", err)
	}
	got, err := wire.DecodeReadings(rb)
	if err != nil || len(got.Readings) != 3 {
		t.Fatalf("DecodeReadings = %d readings, %v; want 3", len(got.Readings), err)
	}
	if r := got.Readings[1]; r.Meter != "m2" || r.Serial != "" {
		t.Errorf("reading of a garbled serial = %+v, want m2 spooled without it", r)
	}
	if f := got.Readings[2].Flags; len(f) != 1 || f[0] != wire.FlagClockUnsynced {
		t.Errorf("flags of an unsynced reading = %q, want clock_unsynced", f)
	}
	eb, err := wire.EventsBatch("bldg-1", at, evs)
	if err != nil {
		t.Fatalf("EventsBatch: %v", err)
	}
	de, err := wire.DecodeEvents(eb)
	if err != nil || len(de.Events) != len(events) {
		t.Fatalf("DecodeEvents = %+v, %v; want %d events", de, err, len(events))
	}
}

// TestSpoolSinkLoss checks that a record the spool refuses is counted
// and its reason kept, for the health check.
func TestSpoolSinkLoss(t *testing.T) {
	sp := openTestSpool(t)
	s := NewSpoolSink(sp, zerolog.Nop())
	if err := sp.Close(); err != nil {
		t.Fatal(err)
	}
	s.Reading(reading.Reading{Meter: "m1", Time: time.Now()})
	if n, err := s.Failures(); n != 1 || err == nil {
		t.Errorf("Failures() = %d, %v; want 1 and the reason", n, err)
	}
}

func TestByteSize(t *testing.T) {
	tests := []struct {
		in      string
		want    ByteSize
		wantErr bool
	}{
		{"1048576", 1 << 20, false}, {"64MiB", 64 << 20, false}, {"2 GiB", 2 << 30, false},
		{"512KiB", 512 << 10, false}, {"10B", 10, false},
		{"64MB", 0, true}, {"-1", 0, true}, {"lots", 0, true}, {"1.5GiB", 0, true},
	}
	for _, tt := range tests {
		got, err := parseByteSize(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("parseByteSize(%q) = %v, %v; want %v, error %v", tt.in, got, err,
				tt.want, tt.wantErr)
		}
	}
	if s := ByteSize(64 << 20).String(); s != "64MiB" {
		t.Errorf("String() = %q, want 64MiB", s)
	}
}

// TestSpoolDefaultSize checks that the default cap holds 14 days of the
// configured meters' readings.
func TestSpoolDefaultSize(t *testing.T) {
	c := loadTestConfig(t, t.TempDir(), "transport: tcp\n    address: 127.0.0.1:502", 1, 2)
	for i := range c.Meters {
		c.Meters[i].Interval = 15 * time.Minute
	}
	c.Spool.MaxSize = 0
	c.setSpoolSize()
	one := sampleReadingSize("m1", c.Profiles()["eastron-sdm120"])
	want := max(ByteSize(2*96*spoolDays*one), minSpoolSize)
	if c.Spool.MaxSize != want || one < 300 {
		t.Errorf("default spool size %s (a reading %d bytes), want %s", c.Spool.MaxSize, one, want)
	}
}

// TestSpoolSizeError checks that a bad spool size is placed at its field
// and does not hide the problems after it.
func TestSpoolSizeError(t *testing.T) {
	body := `agent: {id: a1}
buses:
  - {name: b1, transport: tcp, address: 127.0.0.1:502}
meters:
  - {id: m1, bus: b1, slave: 1, profile: eastron-sdm120}
spool:
  max_size: 64XB
  history: -1h
health:
  listen: nowhere
`
	path := t.TempDir() + "/agent.yaml"
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := LoadConfig(path)
	for _, want := range []string{`agent.yaml:7:3: spool.max_size: "64XB" is not a size`,
		`agent.yaml:8:3: spool.history: -1h0m0s is outside`,
		`agent.yaml:10:3: health.listen: "nowhere" is not host:port`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("LoadConfig = %v, want it to contain %q", err, want)
		}
	}
}

// TestSpoolPressureSettles fills a small spool with events while its
// pressure reports are wired back into it, as the agent does: the
// reports must not feed themselves, so the spool settles once appends
// stop. (Unspaced, each report made room for itself by dropping a record
// and reported that, for ever.)
func TestSpoolPressureSettles(t *testing.T) {
	var sink *SpoolSink
	sp, err := spool.Open(t.Context(), t.TempDir()+"/spool.db", spool.Options{MaxBytes: 3000,
		OnPressure: func(p spool.Pressure) { sink.Pressure(p) }})
	if err != nil {
		t.Fatal(err)
	}
	sink = NewSpoolSink(sp, zerolog.Nop())
	at := time.Now().UTC()
	for range 40 {
		sink.Event(Event{Kind: BusDown, Bus: "riser-1", Time: at, Err: errors.New("no device")})
	}
	sink.Close()
	before := sp.Stats().NextSeq
	time.Sleep(200 * time.Millisecond)
	sink.Close()
	if after := sp.Stats().NextSeq; after != before {
		t.Errorf("spool went on numbering records after the appends: %d, then %d", before, after)
	}
	if err := sp.Close(); err != nil {
		t.Fatal(err)
	}
	if n, err := sink.Failures(); n != 0 {
		t.Errorf("%d records lost: %v", n, err)
	}
}

// TestGarbledIdentity checks that serials and models a meter garbles
// (0xFF registers, another code page) still leave in events and the
// inventory, made printable, rather than stopping them.
func TestGarbledIdentity(t *testing.T) {
	at := time.Date(2026, 3, 1, 10, 15, 0, 0, time.UTC)
	sp := openTestSpool(t)
	s := NewSpoolSink(sp, zerolog.Nop())
	s.Event(Event{Kind: MeterReplaced, Meter: "m1", Time: at, OldSerial: "1111",
		NewSerial: "22\xff22"})
	if n, err := s.Failures(); n != 0 {
		t.Errorf("replacement with a garbled serial lost: %v", err)
	}

	c := loadTestConfig(t, t.TempDir(), "transport: tcp\n    address: 127.0.0.1:502", 1)
	state, err := OpenState(t.TempDir(), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if err := state.Put("m1", MeterRecord{Serial: "12345678", Model: "B23\x01112-100"},
		true); err != nil {
		t.Fatal(err)
	}
	if _, err := inventory(c, state, at); err != nil {
		t.Errorf("inventory with a garbled model: %v", err)
	}
	if got := printable("B23\x01\xd0\x9a"); got != "B23???" {
		t.Errorf("printable = %q, want B23???", got)
	}
}

func TestSpoolSizeTooSmall(t *testing.T) {
	body := `agent: {id: a1}
buses:
  - {name: b1, transport: tcp, address: 127.0.0.1:502}
meters:
  - {id: m1, bus: b1, slave: 1, profile: eastron-sdm120}
spool: {max_size: 100B}
`
	path := t.TempDir() + "/agent.yaml"
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := LoadConfig(path)
	want := "spool.max_size: 100B is outside 1MiB..64GiB"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("LoadConfig = %v, want it to contain %q", err, want)
	}
}
