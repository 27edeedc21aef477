package sim

import (
	"slices"

	"github.com/esep-kz/esep/drivers/modbus"
)

// field is a run of registers, or bits, that a meter serves: one point
// of its profile, an identity field or a scale register. Its words come
// from the meter's state at the moment of a read.
type field struct {
	fn    Function
	addr  uint16
	n     int
	words func(s *snapshot) ([]uint16, error)
}

func (f field) end() int { return int(f.addr) + f.n }

// run is a range of addresses that answer, first to end exclusive.
type run struct{ first, end int }

// registerMap is where a meter's fields lie and what it answers for.
type registerMap struct {
	fields   map[Function][]field // by address
	served   map[Function][]run   // merged, by address
	separate []modbus.SeparateRange
	limit    int // most registers in one request
}

// newRegisterMap lays out fields. Fields closer than gap registers (or
// bits, bitGap) are served as one run whose unnamed registers read as
// zero; anything else outside a field is refused.
func newRegisterMap(fields []field, opts modbus.PlanOptions, strict bool) *registerMap {
	m := &registerMap{fields: map[Function][]field{}, served: map[Function][]run{},
		separate: opts.Separate, limit: opts.MaxRegisters}
	if m.limit == 0 {
		m.limit = maxReadRegisters
	}
	for _, f := range fields {
		m.fields[f.fn] = append(m.fields[f.fn], f)
	}
	for fn, fs := range m.fields {
		slices.SortFunc(fs, func(a, b field) int { return int(a.addr) - int(b.addr) })
		gap := opts.MaxGap
		if fn == ReadCoils || fn == ReadDiscreteInputs {
			gap = opts.MaxBitGap
		}
		if strict {
			gap = 0
		}
		m.served[fn] = mergeRuns(fs, gap)
	}
	return m
}

// mergeRuns joins the fields, sorted by address, into runs that skip
// at most gap addresses.
func mergeRuns(fs []field, gap int) []run {
	var out []run
	for _, f := range fs {
		if n := len(out); n > 0 && int(f.addr) <= out[n-1].end+gap {
			out[n-1].end = max(out[n-1].end, f.end())
			continue
		}
		out = append(out, run{int(f.addr), f.end()})
	}
	return out
}

// check answers whether a read of count from addr is one the meter
// serves: within its request limit, inside one served run, and either
// inside or clear of each range it reads only on its own.
func (m *registerMap) check(fn Function, addr, count uint16) Exception {
	if (fn == ReadHoldingRegisters || fn == ReadInputRegisters) && int(count) > m.limit {
		return modbus.IllegalDataValue
	}
	first, end := int(addr), int(addr)+int(count)
	inside := slices.ContainsFunc(m.served[fn], func(s run) bool {
		return s.first <= first && end <= s.end
	})
	if !inside {
		return modbus.IllegalDataAddress
	}
	for _, r := range m.separate {
		overlaps := first <= int(r.Last) && int(r.First) < end
		within := int(r.First) <= first && end <= int(r.Last)+1
		if Function(r.Func) == fn && overlaps && !within {
			return modbus.IllegalDataAddress
		}
	}
	return 0
}

// read returns the words of count addresses from addr on, the fields'
// words where they lie and zero between them. A field whose value has
// no encoding in its type fails the read as the device's failure.
func (m *registerMap) read(fn Function, addr, count uint16, s *snapshot) ([]uint16, Exception) {
	if ex := m.check(fn, addr, count); ex != 0 {
		return nil, ex
	}
	out := make([]uint16, count)
	first, end := int(addr), int(addr)+int(count)
	for _, f := range m.fields[fn] {
		if f.end() <= first || int(f.addr) >= end {
			continue
		}
		words, err := f.words(s)
		if err != nil {
			return nil, modbus.ServerDeviceFailure
		}
		for i, w := range words {
			if a := int(f.addr) + i; a >= first && a < end {
				out[a-first] = w
			}
		}
	}
	return out, 0
}

// tableFunction is the read function of a profile's table.
func tableFunction(t modbus.Table) Function { return Function(t.Code()) }
