package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/esep-kz/esep/internal/sim"
)

// printSummary tells a person where each bus is and what answers on it.
// A bus line ends with " on " and the device or address, for scripts.
func printSummary(w io.Writer, s *sim.Simulation) error {
	clock := s.Clock()
	fmt.Fprintf(w, "esep-sim: simulated time starts at %s and runs %s\n",
		clock.Start().Format("2006-01-02 15:04:05 MST"), describeScale(clock.Scale()))
	for _, b := range s.Buses() {
		fmt.Fprintf(w, "bus %s: %s, %d units, on %s\n", b.Config.Name, b.Config.Describe(),
			len(b.Meters), b.Where())
		for _, um := range b.Meters {
			fmt.Fprintf(w, "  slave %3d  %s\n", um.Slave, describeUnit(um, clock.Start()))
		}
	}
	_, err := fmt.Fprintf(w, "Ctrl-C stops; kill -USR1 %d swaps the meters marked "+
		"swap_on_signal.\n", os.Getpid())
	return err
}

// describeScale says how fast simulated time runs.
func describeScale(scale float64) string {
	if scale == 1 {
		return "in real time"
	}
	day := time.Duration(float64(24*time.Hour) / scale).Round(time.Millisecond)
	return fmt.Sprintf("%g times as fast as real time (a day every %s)", scale, day)
}

// describeUnit is one line about a unit: profile, serial, main index at
// the start and what it does unusually.
func describeUnit(um sim.UnitMeter, start time.Time) string {
	p := um.Meter.Profile()
	d := um.Meter.Expected(start)
	parts := []string{p.Name}
	if d.Serial != "" {
		parts = append(parts, "serial "+d.Serial)
	} else {
		parts = append(parts, "no serial register")
	}
	for _, v := range d.Values {
		if v.Quantity == sim.MainQuantity(p.Kind) {
			parts = append(parts, v.String())
		}
	}
	return strings.Join(append(parts, describeBehaviour(um.Unit)...), ", ")
}

// describeBehaviour lists a unit's faults and events.
func describeBehaviour(u *sim.UnitConfig) []string {
	f := u.Faults
	var out []string
	add := func(on bool, format string, args ...any) {
		if on {
			out = append(out, fmt.Sprintf(format, args...))
		}
	}
	add(f.Dead, "dead")
	add(f.SilentRate > 0, "silent %g%%", 100*f.SilentRate)
	add(f.SilentEvery > 0, "silent every %d", f.SilentEvery)
	add(len(f.Exceptions) > 0, "%d exception rules", len(f.Exceptions))
	add(len(f.Refused) > 0, "%d refused ranges", len(f.Refused))
	add(f.CorruptCRCRate > 0, "bad CRC %g%%", 100*f.CorruptCRCRate)
	add(f.CorruptCRCEvery > 0, "bad CRC every %d", f.CorruptCRCEvery)
	add(len(f.Latency) > 0, "latency %v", f.Latency)
	add(len(f.Chunks) > 0, "chunks %v", f.Chunks)
	add(f.ForeignUnit != 0, "slave %d answers first", f.ForeignUnit)
	add(f.StaleTID, "stale transaction ids")
	add(u.SwapAt > 0, "swap at +%s", u.SwapAt)
	add(u.SwapOnSignal, "swap on SIGUSR1")
	add(u.Rollover, "rolls over soon")
	add(u.Strict, "strict")
	return out
}
