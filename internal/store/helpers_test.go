package store

import (
	"context"
	"path/filepath"
	"testing"
	"time"
	_ "time/tzdata" // Asia/Almaty on hosts without zone files

	"github.com/shopspring/decimal"

	"github.com/esep-kz/esep/internal/reading"
	"github.com/esep-kz/esep/internal/testkit"
	"github.com/esep-kz/esep/internal/wire"
)

// clock is the fixed "now" of test stores.
var clock = time.Date(2026, 3, 1, 6, 0, 0, 0, time.UTC)

// backend makes a fresh database of one dialect and returns its DSN.
type backend struct {
	name string
	dsn  func(t *testing.T) string
}

var backends = []backend{
	{"sqlite", func(t *testing.T) string {
		return "sqlite:" + filepath.Join(t.TempDir(), "esep.db")
	}},
	{"postgres", func(t *testing.T) string { return testkit.StartPostgres(t).DSN() }},
}

// eachBackend runs test once per dialect, each on a fresh database.
func eachBackend(t *testing.T, test func(t *testing.T, dsn string)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { test(t, b.dsn(t)) })
	}
}

// openStore opens dsn with the test clock and closes it when t ends.
func openStore(t *testing.T, dsn string) *Store {
	t.Helper()
	s, err := Open(t.Context(), dsn)
	if err != nil {
		t.Fatalf("Open(%q): %v", dsn, err)
	}
	s.now = func() time.Time { return clock }
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// inventory lists meters of agent, all on one SDM120-like profile.
func inventory(agent string, at time.Time, meters ...string) wire.Inventory {
	inv := wire.Inventory{Agent: agent, Time: at,
		Buses: []wire.BusInfo{{Name: "rs485-1", Transport: "rtu", Baud: 9600}},
		Models: []wire.ModelInfo{{Profile: "sdm120", Maker: "Eastron", Model: "SDM120",
			Kind: "electricity"}},
	}
	for i, m := range meters {
		inv.Meters = append(inv.Meters, wire.MeterInfo{ID: m, Bus: "rs485-1", Slave: i + 1,
			Profile: "sdm120", Interval: time.Hour, Serial: "2145000" + m[len(m)-1:]})
	}
	return inv
}

// withMeters opens a store on dsn whose agent has the meters, approved.
func withMeters(t *testing.T, dsn, agent string, meters ...string) *Store {
	t.Helper()
	s := openStore(t, dsn)
	if err := s.UpsertInventory(t.Context(), inventory(agent, clock, meters...)); err != nil {
		t.Fatal(err)
	}
	for _, m := range meters {
		if err := s.ApproveBinding(t.Context(), agent, m, "test"); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// item is a reading with seq of meter at time (RFC 3339) with one
// energy index.
func item(seq uint64, meter, at, energy string) wire.ReadingItem {
	t, err := time.Parse(time.RFC3339Nano, at)
	if err != nil {
		panic(err)
	}
	n := decimal.RequireFromString(energy)
	v := reading.Value{Quantity: "energy_active_import_kwh", Number: n, Unit: "kWh",
		Quality: reading.Good, Places: max(0, -n.Exponent())}
	return wire.ReadingItem{Seq: seq,
		Reading: reading.Reading{Meter: meter, Time: t, Values: []reading.Value{v}}}
}

// record writes batches in order and fails the test on an error.
func record(t *testing.T, s *Store, agent string, batches ...[]wire.ReadingItem) {
	t.Helper()
	for _, b := range batches {
		if err := s.RecordReadings(t.Context(), agent, b); err != nil {
			t.Fatalf("RecordReadings(%q, %d items): %v", agent, len(b), err)
		}
	}
}

// latestEnergy returns the meter's latest energy index as text and its
// time, or "" when there is none.
func latestEnergy(t *testing.T, s *Store, agent, meter string) (string, string) {
	t.Helper()
	ls, err := s.Latest(context.Background(), agent, meter)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range ls {
		if l.Quantity == "energy_active_import_kwh" {
			return l.Number.StringFixed(l.Places), l.Time.Format(time.RFC3339Nano)
		}
	}
	return "", ""
}
