package busbench

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"
)

// The bus benchmarks: 32 apartment meters at three baud rates, each with
// a quick and a slow device turnaround.
const (
	benchUnits = 32
	// benchSilent is the unit made dead for the silent-unit run: one in
	// the middle of the cycle.
	benchSilent = 17
	// benchTimeout is esep's default response timeout, given here to
	// divide the silent unit's cost by; mbpoll gets the same.
	benchTimeout = time.Second
	// benchTarget is the wire time a run covers, at least benchCycles
	// cycles: 2 cycles at 9600 Bd, 9 at 115200 Bd with 5 ms turnaround.
	benchTarget = 3 * time.Second
	benchCycles = 2
	// benchSilentCycles is the cycles of the silent-unit run: each costs
	// a timeout or more, and they differ little.
	benchSilentCycles = 3
)

var benchWires = []Wire{
	{9600, 5 * time.Millisecond}, {9600, 50 * time.Millisecond},
	{19200, 5 * time.Millisecond}, {19200, 50 * time.Millisecond},
	{115200, 5 * time.Millisecond}, {115200, 50 * time.Millisecond},
}

// BenchmarkApartmentBus measures, on one bus per wire, the wire-limit
// ratio of esep's master and of mbpoll, and what one silent unit costs.
// An iteration is a whole measurement of fixed cycle counts; it takes
// seconds, so the default -benchtime runs it once.
func BenchmarkApartmentBus(b *testing.B) {
	mbpoll, err := exec.LookPath("mbpoll")
	if err != nil {
		b.Logf("measuring esep alone: %v (apt-get install mbpoll)", err)
	}

	var results []BusResult
	for _, w := range benchWires {
		b.Run(wireName(w), func(b *testing.B) {
			s := BusSetup{Wire: w, Units: benchUnits, Timeout: benchTimeout, Mbpoll: mbpoll,
				Silent: benchSilent, SilentCycles: benchSilentCycles}
			s.Cycles = w.CyclesFor(ApartmentCycle(benchUnits), benchTarget, benchCycles)
			var res BusResult
			for b.Loop() {
				if res, err = MeasureBus(b.Context(), s); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(res.Esep.Ratio(), "esep-ratio")
			if res.Mbpoll != nil {
				b.ReportMetric(res.Mbpoll.Ratio(), "mbpoll-ratio")
			}
			b.ReportMetric(res.SilentCost(), "silent-timeouts/cycle")
			results = append(results, res)
		})
	}
	if len(results) == 0 {
		return
	}

	WriteBusTable(os.Stdout, results)
	WriteSilentTable(os.Stdout, results)
	report(BusReports(results))
}

// BenchmarkSDM630Plans measures the useful registers per second of one
// Eastron SDM630 read with the planner's plan, the best block plan and
// one request per value.
func BenchmarkSDM630Plans(b *testing.B) {
	p := shippedProfile(b, "eastron-sdm630")
	var results []PlanResult
	for _, w := range []Wire{{9600, 5 * time.Millisecond}, {19200, 5 * time.Millisecond},
		{115200, 5 * time.Millisecond}} {
		b.Run(wireName(w), func(b *testing.B) {
			s := PlanSetup{Wire: w, Profile: p, Target: benchTarget, MinCycles: benchCycles}
			var runs []PlanRun
			var err error
			for b.Loop() {
				if runs, err = MeasurePlans(b.Context(), s); err != nil {
					b.Fatal(err)
				}
			}
			res := PlanResult{Wire: w, Profile: "SDM630", Runs: runs}
			b.ReportMetric(res.find("planner").UsefulPerSecond(), "useful-regs/s")
			b.ReportMetric(res.find("best").UsefulPerSecond(), "best-useful-regs/s")
			results = append(results, res)
		})
	}
	if len(results) == 0 {
		return
	}

	WritePlanTable(os.Stdout, results)
	report(PlanReports(results))
}

func wireName(w Wire) string {
	return fmt.Sprintf("%dBd/%s", w.Baud, w.Turnaround)
}

// report prints lines for .ci/bench to gather into docs/benchmarks.md.
func report(lines []string) {
	for _, l := range lines {
		fmt.Println("REPORT: " + l)
	}
}
