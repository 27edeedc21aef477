package busbench

import (
	"slices"
	"testing"
	"time"

	"github.com/esep-kz/esep/drivers/modbus"
	"github.com/esep-kz/esep/internal/testkit"
)

// wireSlack is how far the computed wire time may be from the
// simulator's: both sum the same integer nanoseconds, so it is a guard
// against rounding only.
const wireSlack = time.Microsecond

// TestMeasureBus runs esep's master over two units for two cycles, then
// with one unit silent, and checks the counts the figures rest on. It
// never checks a speed.
func TestMeasureBus(t *testing.T) {
	t.Parallel()
	s := BusSetup{Wire: Wire{Baud: 115200, Turnaround: 5 * time.Millisecond}, Units: 2,
		Cycles: 2, Timeout: 100 * time.Millisecond, Silent: 2, SilentCycles: 2}
	res, err := MeasureBus(t.Context(), s)
	if err != nil {
		t.Fatal(err)
	}

	checkRun(t, "all answering", res.Esep, s.Units*s.Cycles)
	if res.Silent == nil {
		t.Fatal("no run with a silent unit")
	}
	silent := *res.Silent
	if silent.Served != s.SilentCycles || silent.Requests != s.Units*s.SilentCycles {
		t.Errorf("silent unit: %d of %d reads answered, want %d of %d",
			silent.Served, silent.Requests, s.SilentCycles, s.Units*s.SilentCycles)
	}
	checkWire(t, "silent unit", silent)
}

// TestMeasureBusMbpoll runs mbpoll on the bus as the benchmark does. It
// does not ask for zero silent-interval violations: libmodbus sends the
// next request as soon as it has a reply.
func TestMeasureBusMbpoll(t *testing.T) {
	t.Parallel()
	mbpoll := testkit.LookBinary(t, "mbpoll", "mbpoll")
	s := BusSetup{Wire: Wire{Baud: 115200, Turnaround: 5 * time.Millisecond}, Units: 2,
		Cycles: 2, Timeout: time.Second, Mbpoll: mbpoll}
	res, err := MeasureBus(t.Context(), s)
	if err != nil {
		t.Fatal(err)
	}
	if res.Mbpoll == nil {
		t.Fatal("mbpoll did not run")
	}
	m := *res.Mbpoll
	if m.Served != s.Units*s.Cycles || m.Requests != m.Served {
		t.Errorf("mbpoll: %d of %d reads answered, want %d", m.Served, m.Requests,
			s.Units*s.Cycles)
	}
	checkWire(t, "mbpoll", m)
	t.Logf("mbpoll broke t3.5 before %d of %d requests", m.Violations, m.Requests)
}

// TestMeasurePlans reads one SDM630 with each plan for a cycle.
func TestMeasurePlans(t *testing.T) {
	t.Parallel()
	p := shippedProfile(t, "eastron-sdm630")
	runs, err := MeasurePlans(t.Context(), PlanSetup{Wire: Wire{Baud: 115200}, Profile: p,
		MinCycles: 1})
	if err != nil {
		t.Fatal(err)
	}

	names := make([]string, 0, len(runs))
	for _, r := range runs {
		names = append(names, r.Name)
		checkRun(t, r.Name+" plan", r.Run, len(r.Cycle))
	}
	if want := []string{"planner", "best", "naive"}; !slices.Equal(names, want) {
		t.Errorf("plans %q, want %q", names, want)
	}
}

// checkRun checks that every read of run was answered, that the computed
// wire time is the simulator's, and that the master kept t3.5.
func checkRun(t *testing.T, what string, run Run, reads int) {
	t.Helper()
	if run.Served != reads || run.Requests != reads {
		t.Errorf("%s: %d of %d reads answered, want all %d", what, run.Served, run.Requests,
			reads)
	}
	checkWire(t, what, run)
	if run.Violations != 0 || run.Collisions != 0 {
		t.Errorf("%s: %d silent-interval violations and %d collisions, want none",
			what, run.Violations, run.Collisions)
	}
}

func checkWire(t *testing.T, what string, run Run) {
	t.Helper()
	if d := run.SimWire - run.Wire; d < -wireSlack || d > wireSlack {
		t.Errorf("%s: computed wire time %s, the simulator's %s", what, run.Wire, run.SimWire)
	}
	if run.SimServed != uint64(run.Served) {
		t.Errorf("%s: the simulator sent %d replies, the master took %d", what,
			run.SimServed, run.Served)
	}
}

func shippedProfile(t testing.TB, name string) *modbus.Profile {
	t.Helper()
	ps, err := modbus.ShippedProfiles()
	if err != nil {
		t.Fatal(err)
	}
	p, err := ps.Get(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestBestPlan(t *testing.T) {
	t.Parallel()
	reg := func(addr, count uint16) modbus.Need {
		return modbus.Need{Func: 4, Addr: addr, Count: count}
	}
	block := func(addr, count uint16) modbus.Block {
		return modbus.Block{Func: 4, Addr: addr, Count: count}
	}
	tests := []struct {
		name  string
		needs []modbus.Need
		size  int
		want  []modbus.Block
	}{
		{"one block", []modbus.Need{reg(0, 2), reg(4, 2)}, 10, []modbus.Block{block(0, 6)}},
		{"split at the size", []modbus.Need{reg(0, 2), reg(4, 2), reg(8, 2)}, 6,
			[]modbus.Block{block(0, 6), block(8, 2)}},
		// Two requests either way: filling the first as far as it goes
		// reads 10+2 registers, ending it after the first need 2+6.
		{"fewest registers among fewest requests",
			[]modbus.Need{reg(0, 2), reg(8, 2), reg(12, 2)}, 10,
			[]modbus.Block{block(0, 2), block(8, 6)}},
		{"unsorted and overlapping", []modbus.Need{reg(4, 4), reg(0, 2), reg(5, 1)}, 125,
			[]modbus.Block{block(0, 8)}},
		{"tables apart", []modbus.Need{reg(0, 2), {Func: 3, Addr: 2, Count: 2}}, 125,
			[]modbus.Block{{Func: 3, Addr: 2, Count: 2}, block(0, 2)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := BestPlan(tc.needs, tc.size)
			if !slices.EqualFunc(got, tc.want, sameBlock) {
				t.Errorf("BestPlan(%v, %d) = %v, want %v", tc.needs, tc.size, got, tc.want)
			}
		})
	}
}

func sameBlock(a, b modbus.Block) bool {
	return a.Func == b.Func && a.Addr == b.Addr && a.Count == b.Count
}

func TestParseMbpoll(t *testing.T) {
	t.Parallel()
	like := Request{Func: modbus.FuncInput, Addr: 0, Count: 2}
	out := "-- Polling slave 1...\n[0]: \t256\n[1]: \t257\n" +
		"-- Polling slave 2...\n" + // no reply
		"-- Polling slave 3...\n[0]: \t768\n[1]: \t769\n"
	served, sent, err := parseMbpoll([]byte(out), like)
	if err != nil {
		t.Fatal(err)
	}
	var units []byte
	for _, r := range served {
		units = append(units, r.Unit)
	}
	if sent != 3 || !slices.Equal(units, []byte{1, 3}) {
		t.Errorf("parse %q: %d sent, units %v answered; want 3 sent, units [1 3]",
			out, sent, units)
	}

	wrong := "-- Polling slave 1...\n[0]: \t256\n[1]: \t999\n"
	if _, _, err := parseMbpoll([]byte(wrong), like); err == nil {
		t.Errorf("parse %q: no error for a wrong value", wrong)
	}
}
