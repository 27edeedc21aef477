package agent

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/esep-kz/esep/internal/reading"
	"github.com/esep-kz/esep/internal/sim"
	"github.com/esep-kz/esep/internal/testkit"
)

// The energy indexes of two SDM120s, the first swapped for the second:
// the second starts near zero.
var (
	oldMeter = sdmPoints
	newMeter = withPoint(withPoint(sdmPoints, "energy_active_import_kwh", 3.5, "3.50"),
		"energy_reactive_import_kvarh", 0.25, "0.25")
)

// indexes are the cumulative values an SDM120 reading must carry, as
// quantity=decimal.
var (
	oldIndexes = []string{"energy_active_import_kwh=12345.67", "energy_active_export_kwh=0.00",
		"energy_reactive_import_kvarh=321.50", "energy_reactive_export_kvarh=7.25"}
	newIndexes = []string{"energy_active_import_kwh=3.50", "energy_active_export_kwh=0.00",
		"energy_reactive_import_kvarh=0.25", "energy_reactive_export_kvarh=7.25"}
)

func indexes(vs []reading.Value) []string {
	var out []string
	for _, v := range vs {
		out = append(out, string(v.Quantity)+"="+v.Number.StringFixed(v.Places))
	}
	return out
}

// swapMeter restarts srv as another meter on the same address.
func swapMeter(t *testing.T, srv *testkit.ModbusServer, serial uint32, points []sdmPoint) {
	t.Helper()
	if err := srv.SetMap(testkit.RegisterMap{1: sdmUnit(serial, points)}); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	if err := srv.Start(); err != nil {
		t.Fatalf("restart the slave as meter %d: %v", serial, err)
	}
}

// checkReplaced checks that events is exactly one MeterReplaced of m1
// from serial 1111 to 2222, with both meters' indexes.
func checkReplaced(t *testing.T, events []Event, r reading.Reading) {
	t.Helper()
	if len(events) != 1 {
		t.Fatalf("events = %+v, want one meter_replaced", events)
	}
	e := events[0]
	if e.Kind != MeterReplaced || e.Meter != "m1" || e.OldSerial != "1111" ||
		e.NewSerial != "2222" || !e.Time.Equal(r.Time) {
		t.Errorf("event = %s of %q from serial %q to %q at %v; want meter_replaced of m1 "+
			"from 1111 to 2222 at the reading's time %v",
			e.Kind, e.Meter, e.OldSerial, e.NewSerial, e.Time, r.Time)
	}
	if got := indexes(e.OldValues); !slices.Equal(got, oldIndexes) || e.OldTime.IsZero() {
		t.Errorf("old meter's indexes = %v at %v, want %v", got, e.OldTime, oldIndexes)
	}
	if got := indexes(e.NewValues); !slices.Equal(got, newIndexes) {
		t.Errorf("new meter's indexes = %v, want %v", got, newIndexes)
	}
	if r.Serial != "2222" {
		t.Errorf("reading after the swap carries serial %q, want 2222", r.Serial)
	}
}

// TestMeterReplaced swaps the meter behind a slave address while the
// poller runs. Either a poll fails during the swap, or the swap shows
// only as the bus connection opened again.
func TestMeterReplaced(t *testing.T) {
	t.Parallel()
	for _, pollDuringSwap := range []bool{true, false} {
		name := map[bool]string{true: "failed poll", false: "reconnect"}[pollDuringSwap]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			checkMeterReplaced(t, pollDuringSwap)
		})
	}
}

func checkMeterReplaced(t *testing.T, pollDuringSwap bool) {
	srv := testkit.StartModbusTCP(t, testkit.RegisterMap{1: sdmUnit(1111, oldMeter)})
	c := loadTestConfig(t, t.TempDir(), tcpBus(srv.Addr()), 1)
	p, sink := newTestPoller(t, c)

	r, err := p.Poll(t.Context(), c.Meters[0])
	if err != nil || r.Serial != "1111" {
		t.Fatalf("Poll = serial %q, %v; want 1111", r.Serial, err)
	}

	if pollDuringSwap {
		srv.Stop()
		if _, err := p.Poll(t.Context(), c.Meters[0]); err == nil {
			t.Fatalf("Poll of a stopped slave succeeded")
		}
	}
	swapMeter(t, srv, 2222, newMeter)
	// Over a connection the old slave closed, the first request may
	// fail before the line is opened again: poll until a reading.
	for range 3 {
		if r, err = p.Poll(t.Context(), c.Meters[0]); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("Poll of the new meter: %v", err)
	}
	checkReplaced(t, sink.events, r)

	for range 2 {
		r, err := p.Poll(t.Context(), c.Meters[0])
		if err != nil || r.Serial != "2222" {
			t.Fatalf("Poll after the swap = serial %q, %v; want 2222", r.Serial, err)
		}
		checkValues(t, r, newMeter, nil)
	}
	if len(sink.events) != 1 {
		t.Errorf("events after further polls = %+v, want the one replacement", sink.events)
	}
}

// TestMeterSwappedBetweenPolls swaps the meter behind a slave address
// between two polls while the bus is idle, so that no poll fails and no
// connection is opened again: on RS-485, and behind a TCP gateway that
// keeps its connection (issue 3 item 5). The first poll after the swap
// reports it once, with the old meter's last indexes, and every reading
// from then on carries the new serial.
func TestMeterSwappedBetweenPolls(t *testing.T) {
	t.Parallel()
	buses := []struct {
		name  string
		start func(t *testing.T, units *sim.Units) string // returns the bus YAML
	}{
		{"rtu", func(t *testing.T, units *sim.Units) string {
			return startSimRTU(t, units, time.Second)
		}},
		{"tcp gateway", func(t *testing.T, units *sim.Units) string {
			srv, err := sim.ServeTCP(t.Context(), units, sim.TCPConfig{Addr: "127.0.0.1:0"})
			if err != nil {
				t.Fatalf("ServeTCP: %v", err)
			}
			t.Cleanup(func() { _ = srv.Close() })
			return tcpBus(srv.Addr())
		}},
	}
	for _, bus := range buses {
		t.Run(bus.name, func(t *testing.T) {
			t.Parallel()
			units := sim.NewUnits()
			mustNot(t, units.SetDevice(1, simBank(sdmUnit(1111, oldMeter))))
			c := loadTestConfig(t, t.TempDir(), bus.start(t, units), 1)
			p, sink := newTestPoller(t, c)
			checkSwapBetweenPolls(t, p, c, units, sink)
		})
	}
}

func checkSwapBetweenPolls(t *testing.T, p *ModbusPoller, c *Config, units *sim.Units,
	sink *fakeSink) {
	t.Helper()
	r, err := p.Poll(t.Context(), c.Meters[0])
	if err != nil || r.Serial != "1111" {
		t.Fatalf("Poll = serial %q, %v; want 1111", r.Serial, err)
	}
	reconnects := p.BusStats()["b1"].Reconnects

	mustNot(t, units.SetDevice(1, simBank(sdmUnit(2222, newMeter))))
	var after []reading.Reading
	for i := range 5 {
		r, err := p.Poll(t.Context(), c.Meters[0])
		if err != nil {
			t.Fatalf("poll %d after the swap: %v", i+1, err)
		}
		if r.Serial != "2222" {
			t.Errorf("poll %d after the swap: reading carries serial %q, want 2222", i+1, r.Serial)
		}
		checkValues(t, r, newMeter, nil)
		after = append(after, r)
	}

	if got := p.BusStats()["b1"].Reconnects; got != reconnects {
		t.Errorf("bus opened again %d times during the test; the swap was meant to show "+
			"in the serial alone", got-reconnects)
	}
	checkReplaced(t, sink.events, after[0])
	checkStateFile(t, c.Agent.StateDir, "2222", newIndexes[0])
}

// TestMeterReplacedAcrossRestart swaps the meter while the agent is
// down: the new poller finds the old serial and indexes in the state.
func TestMeterReplacedAcrossRestart(t *testing.T) {
	t.Parallel()
	srv := testkit.StartModbusTCP(t, testkit.RegisterMap{1: sdmUnit(1111, oldMeter)})
	c := loadTestConfig(t, t.TempDir(), tcpBus(srv.Addr()), 1)

	p, _ := newTestPoller(t, c)
	if _, err := p.Poll(t.Context(), c.Meters[0]); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	checkStateFile(t, c.Agent.StateDir, "1111", oldIndexes[0])

	// The same meter after a restart is no replacement.
	p, sink := newTestPoller(t, c)
	if _, err := p.Poll(t.Context(), c.Meters[0]); err != nil || len(sink.events) != 0 {
		t.Fatalf("Poll after a restart = %v with events %+v; want none", err, sink.events)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}

	swapMeter(t, srv, 2222, newMeter)
	p, sink = newTestPoller(t, c)
	r, err := p.Poll(t.Context(), c.Meters[0])
	if err != nil {
		t.Fatal(err)
	}
	checkReplaced(t, sink.events, r)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	checkStateFile(t, c.Agent.StateDir, "2222", newIndexes[0])
}

// checkStateFile checks the state file of meter m1 for its serial and
// its first index, written as quantity=decimal.
func checkStateFile(t *testing.T, dir, serial, index string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Meters map[string]struct {
			Serial string `json:"serial"`
			Values []struct {
				Quantity string `json:"quantity"`
				Value    string `json:"value"`
			} `json:"values"`
		} `json:"meters"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatalf("state file:\n%s\n%v", data, err)
	}
	m := f.Meters["m1"]
	if m.Serial != serial || len(m.Values) == 0 || m.Values[0].Quantity+"="+m.Values[0].Value != index {
		t.Errorf("state file:\n%s\nwant meter m1 with serial %s and first index %s", data, serial, index)
	}
}
