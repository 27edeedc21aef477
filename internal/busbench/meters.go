package busbench

import (
	"fmt"

	"github.com/esep-kz/esep/drivers/modbus"
	"github.com/esep-kz/esep/internal/sim"
)

// ApartmentBlock is the read of an apartment meter's measurement block:
// 8 floats in 16 input registers (voltage, current, active, apparent and
// reactive power, power factor, frequency and imported energy) laid out
// back to back, as one planned request of a single-phase meter reads them.
var ApartmentBlock = Request{Func: modbus.FuncInput, Addr: 0x0000, Count: 16}

// ApartmentUnits returns a bus of n apartment meters, unit ids 1..n, each
// a Bank holding ApartmentBlock, and the cycle that reads each block in
// turn.
func ApartmentUnits(n int) (*sim.Units, []Request, error) {
	units := sim.NewUnits()
	cycle := ApartmentCycle(n)
	for _, r := range cycle {
		if err := units.SetDevice(r.Unit, bankOf(r.Unit, r)); err != nil {
			return nil, nil, fmt.Errorf("cannot set up apartment meter %d: %w", r.Unit, err)
		}
	}
	return units, cycle, nil
}

// ApartmentCycle returns the reads of ApartmentBlock from units 1..n.
func ApartmentCycle(n int) []Request {
	cycle := make([]Request, 0, n)
	for i := 1; i <= n; i++ {
		r := ApartmentBlock
		r.Unit = byte(i)
		cycle = append(cycle, r)
	}
	return cycle
}

// bankOf returns a Bank that holds registerValue at every address that
// spans reaches.
func bankOf(unit byte, spans ...Request) *sim.Bank {
	b := sim.NewBank()
	for _, s := range spans {
		values := make([]uint16, s.Count)
		for i := range values {
			values[i] = registerValue(unit, s.Addr+uint16(i))
		}
		// The simulator's function codes are the protocol's, as ours.
		b.SetRegisters(sim.Function(s.Func), s.Addr, values...)
	}
	return b
}

// ProfileMeter returns a bus of one meter, unit 1, holding every register
// from the first to the last that profile's needs read in each table, so
// that a request may read through the gaps between values, as the
// planner's do. Needs of coils or discrete inputs are an error.
func ProfileMeter(needs []modbus.Need) (*sim.Units, error) {
	spans := map[byte]Request{}
	for _, n := range needs {
		fn := modbus.Function(n.Func)
		if fn != modbus.FuncHolding && fn != modbus.FuncInput {
			return nil, fmt.Errorf("need %q reads %s, not registers", n.Name, fn)
		}
		s, ok := spans[n.Func]
		end := int(n.Addr) + int(n.Count)
		if ok {
			end = max(end, int(s.Addr)+int(s.Count))
			s.Addr = min(s.Addr, n.Addr)
		} else {
			s = Request{Unit: 1, Func: fn, Addr: n.Addr}
		}
		s.Count = uint16(end - int(s.Addr))
		spans[n.Func] = s
	}

	all := make([]Request, 0, len(spans))
	for _, s := range spans {
		all = append(all, s)
	}
	units := sim.NewUnits()
	if err := units.SetDevice(1, bankOf(1, all...)); err != nil {
		return nil, fmt.Errorf("cannot set up the profile's meter: %w", err)
	}
	return units, nil
}
