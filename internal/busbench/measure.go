package busbench

import (
	"cmp"
	"context"
	"fmt"
	"time"

	"github.com/esep-kz/esep/drivers/modbus"
	"github.com/esep-kz/esep/internal/sim"
)

// BusSetup describes one measurement of a bus of apartment meters.
type BusSetup struct {
	Wire
	Units  int // apartment meters on the bus, unit ids 1..Units
	Cycles int // timed cycles of each run

	// Timeout is the response timeout of both masters. esep's guard is
	// left at its default, the timeout.
	Timeout time.Duration
	// Mbpoll is mbpoll's path; "" leaves it out.
	Mbpoll string
	// Silent is the unit made dead for a last run of SilentCycles
	// cycles; 0 leaves it out.
	Silent       byte
	SilentCycles int
}

// BusResult holds the runs of one BusSetup, all on the same bus.
type BusResult struct {
	Setup     BusSetup
	CycleWire time.Duration // wire time of a cycle with every unit answering
	Esep      Run           // esep's master, every unit answering
	Mbpoll    *Run          // mbpoll, every unit answering; nil when not run
	Silent    *Run          // esep's master with unit Setup.Silent dead; nil when not run
}

// SilentCost is the time one silent unit adds to a cycle, in response
// timeouts; 0 when no silent run was made.
func (r BusResult) SilentCost() float64 {
	if r.Silent == nil || r.Setup.Timeout <= 0 {
		return 0
	}
	extra := r.Silent.PerCycle() - r.Esep.PerCycle()
	return float64(extra) / float64(r.Setup.Timeout)
}

// MeasureBus serves s.Units apartment meters and times on that one bus
// esep's master, then mbpoll, then esep's master again with one unit dead.
func MeasureBus(ctx context.Context, s BusSetup) (BusResult, error) {
	units, cycle, err := ApartmentUnits(s.Units)
	if err != nil {
		return BusResult{}, err
	}
	bus, err := StartBus(ctx, units, s.Wire)
	if err != nil {
		return BusResult{}, err
	}
	defer bus.Close()

	res := BusResult{Setup: s, CycleWire: s.Cycle(cycle)}
	opts := modbus.RTUOptions{Timeout: s.Timeout}
	if res.Esep, err = pollEsep(ctx, bus, opts, cycle, s.Cycles); err != nil {
		return res, err
	}
	if s.Mbpoll != "" {
		m := Mbpoll{Path: s.Mbpoll, Timeout: s.Timeout}
		run, err := m.Poll(ctx, bus, cycle, s.Cycles)
		if err != nil {
			return res, err
		}
		res.Mbpoll = &run
	}
	if s.Silent != 0 {
		if err := units.SetFaults(s.Silent, sim.Faults{Dead: true}); err != nil {
			return res, fmt.Errorf("cannot silence unit %d: %w", s.Silent, err)
		}
		run, err := pollEsep(ctx, bus, opts, cycle, s.SilentCycles)
		if err != nil {
			return res, err
		}
		res.Silent = &run
	}
	return res, nil
}

// pollEsep opens esep's master on bus, times cycles cycles and closes it.
func pollEsep(ctx context.Context, bus *Bus, opts modbus.RTUOptions, cycle []Request,
	cycles int) (Run, error) {
	e, err := OpenEsep(bus, opts)
	if err != nil {
		return Run{}, err
	}
	defer e.Close()
	return e.Poll(ctx, cycle, cycles)
}

// PlanSetup describes one measurement of the plans of a meter profile.
type PlanSetup struct {
	Wire
	Profile *modbus.Profile
	// Each plan runs for about Target of wire time, and at least
	// MinCycles cycles.
	Target    time.Duration
	MinCycles int
}

// MeasurePlans serves one meter of s.Profile and times esep's master
// reading all the profile's needs with three plans: the planner's
// (modbus.NewPlan with the profile's options), the best block plan
// (BestPlan) and one request per value.
func MeasurePlans(ctx context.Context, s PlanSetup) ([]PlanRun, error) {
	needs := s.Profile.Needs()
	opt := s.Profile.PlanOptions(modbus.DefaultPlanOptions())
	planned, err := modbus.NewPlan(needs, opt)
	if err != nil {
		return nil, fmt.Errorf("cannot plan profile %q: %w", s.Profile.Name, err)
	}
	// The protocol's 125 registers when the profile sets no limit (§6.4).
	size := cmp.Or(opt.MaxRegisters, 125)
	useful := UsefulRegisters(needs)
	plans := []PlanRun{
		{Name: "planner", Cycle: PlanCycle(1, planned.Blocks), Useful: useful},
		{Name: "best", Cycle: PlanCycle(1, BestPlan(needs, size)), Useful: useful},
		{Name: "naive", Cycle: PlanCycle(1, NaivePlan(needs)), Useful: useful},
	}

	units, err := ProfileMeter(needs)
	if err != nil {
		return nil, err
	}
	bus, err := StartBus(ctx, units, s.Wire)
	if err != nil {
		return nil, err
	}
	defer bus.Close()
	e, err := OpenEsep(bus, modbus.RTUOptions{})
	if err != nil {
		return nil, err
	}
	defer e.Close()

	return PollPlans(ctx, e, plans, func(p PlanRun) int {
		return s.CyclesFor(p.Cycle, s.Target, s.MinCycles)
	})
}
