package modbus

import (
	"cmp"
	"slices"
	"testing"
)

// TestSDM630Plan checks that the full SDM630 map is read in as few
// requests as the meter's limit of 40 values a request allows, without
// reading much more than the leanest plan of that many requests.
func TestSDM630Plan(t *testing.T) {
	ps, err := ShippedProfiles()
	if err != nil {
		t.Fatal(err)
	}
	p, err := ps.Get("eastron-sdm630")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(p.Values); n < 50 {
		t.Errorf("the profile has %d values, want the full map of at least 50", n)
	}

	needs := p.Needs()
	opt := p.PlanOptions(DefaultPlanOptions())
	plan, err := NewPlan(needs, opt)
	if err != nil {
		t.Fatal(err)
	}
	got := plan.Stats()
	best := leanestPlan(needs, opt)
	var blocks []string
	for _, b := range plan.Blocks {
		blocks = append(blocks, b.String())
	}
	t.Logf("%d values in %d requests %v, efficiency %.3f (leanest %d requests, %.3f)",
		len(p.Values), got.Requests, blocks, got.Efficiency(), best.Requests, best.Efficiency())

	if got.Requests != best.Requests {
		t.Errorf("%d requests %v, want the minimum %d", got.Requests, blocks, best.Requests)
	}
	if eff, bestEff := got.Efficiency(), best.Efficiency(); eff < 0.9*bestEff {
		t.Errorf("efficiency %.3f %v, want at least 0.9 of the leanest plan's %.3f",
			eff, blocks, bestEff)
	}

	// Protocol V1.8 §1.1 and §3.1: register counts and start addresses
	// are even, since every value takes two registers.
	for _, b := range plan.Blocks {
		if b.Addr%2 != 0 || b.Count%2 != 0 {
			t.Errorf("request %s: the SDM630 refuses an odd address or count", b)
		}
	}
}

// leanestPlan returns the requests and registers of the best plan needs
// can have under opt's request size, computed apart from NewPlan: for
// each function, over the needs in address order, the fewest requests
// and then the fewest registers. It ignores the gap limit, so it bounds
// what NewPlan can reach: no plan has fewer requests, and none of as few
// requests reads fewer registers.
func leanestPlan(needs []Need, opt PlanOptions) PlanStats {
	var s PlanStats
	byFunc := map[byte][]Need{}
	for _, n := range needs {
		byFunc[n.Func] = append(byFunc[n.Func], n)
	}
	for fn, ns := range byFunc {
		slices.SortFunc(ns, func(a, b Need) int { return cmp.Compare(a.Addr, b.Addr) })
		size, _ := opt.limits(fn)
		requests, read := leanestCover(ns, size)
		useful, reach := 0, 0
		for _, n := range ns {
			useful += max(0, n.end()-max(int(n.Addr), reach))
			reach = max(reach, n.end())
		}

		s.Requests += requests
		if planIsBits(fn) {
			s.Bits, s.UsefulBits = s.Bits+read, s.UsefulBits+useful
		} else {
			s.Registers, s.UsefulRegisters = s.Registers+read, s.UsefulRegisters+useful
		}
	}
	return s
}

// leanestCover splits needs, sorted by address, into runs of at most
// size registers each: cost[i] is the best split of the first i needs,
// the last run being needs j..i-1 for the best j.
func leanestCover(needs []Need, size int) (requests, registers int) {
	type split struct{ requests, registers int }
	cost := make([]split, len(needs)+1)
	for i := 1; i <= len(needs); i++ {
		cost[i] = split{requests: len(needs) + 1}
		end := 0
		for j := i - 1; j >= 0; j-- {
			end = max(end, needs[j].end())
			span := end - int(needs[j].Addr)
			if span > size {
				break
			}
			c := split{cost[j].requests + 1, cost[j].registers + span}
			if c.requests < cost[i].requests ||
				c.requests == cost[i].requests && c.registers < cost[i].registers {
				cost[i] = c
			}
		}
	}
	last := cost[len(needs)]
	return last.requests, last.registers
}
