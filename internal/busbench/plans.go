package busbench

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/esep-kz/esep/drivers/modbus"
)

// BestPlan returns the plan of fewest requests that reads needs with at
// most size registers a request, and of those the one that reads the
// fewest registers. It is computed apart from modbus.NewPlan and ignores
// the planner's gap limit and separate ranges, so no plan the planner
// makes can do better: it is the bound the planner is measured against.
func BestPlan(needs []modbus.Need, size int) []modbus.Block {
	byFunc := map[byte][]modbus.Need{}
	for _, n := range needs {
		byFunc[n.Func] = append(byFunc[n.Func], n)
	}
	fns := make([]byte, 0, len(byFunc))
	for fn := range byFunc {
		fns = append(fns, fn)
	}
	slices.Sort(fns)

	var blocks []modbus.Block
	for _, fn := range fns {
		ns := byFunc[fn]
		slices.SortStableFunc(ns, func(a, b modbus.Need) int { return cmp.Compare(a.Addr, b.Addr) })
		blocks = append(blocks, bestCover(ns, size)...)
	}
	return blocks
}

// bestCover splits needs of one function, sorted by address, into runs
// that each fit one request of size registers. best[i] is the cheapest
// split of the first i needs; its last run starts at need from[i].
func bestCover(needs []modbus.Need, size int) []modbus.Block {
	type cost struct{ requests, registers int }
	best := make([]cost, len(needs)+1)
	from := make([]int, len(needs)+1)
	for i := 1; i <= len(needs); i++ {
		best[i] = cost{requests: len(needs) + 1}
		end := 0
		for j := i - 1; j >= 0; j-- {
			end = max(end, needEnd(needs[j]))
			span := end - int(needs[j].Addr)
			if span > size {
				break
			}
			c := cost{best[j].requests + 1, best[j].registers + span}
			if c.requests < best[i].requests ||
				c.requests == best[i].requests && c.registers < best[i].registers {
				best[i], from[i] = c, j
			}
		}
	}

	// Walk the splits back from the end.
	var blocks []modbus.Block
	for i := len(needs); i > 0; i = from[i] {
		run := needs[from[i]:i]
		end := 0
		for _, n := range run {
			end = max(end, needEnd(n))
		}
		first := run[0]
		blocks = append(blocks, modbus.Block{Func: first.Func, Addr: first.Addr,
			Count: uint16(end - int(first.Addr))})
	}
	slices.Reverse(blocks)
	return blocks
}

// NaivePlan reads every need with a request of its own.
func NaivePlan(needs []modbus.Need) []modbus.Block {
	blocks := make([]modbus.Block, 0, len(needs))
	for _, n := range needs {
		blocks = append(blocks, modbus.Block{Func: n.Func, Addr: n.Addr, Count: n.Count})
	}
	return blocks
}

func needEnd(n modbus.Need) int { return int(n.Addr) + int(n.Count) }

// UsefulRegisters counts the registers some need reads, each once.
func UsefulRegisters(needs []modbus.Need) int {
	used := map[[2]int]bool{}
	for _, n := range needs {
		for a := int(n.Addr); a < needEnd(n); a++ {
			used[[2]int{int(n.Func), a}] = true
		}
	}
	return len(used)
}

// PlanCycle returns the reads of blocks from unit.
func PlanCycle(unit byte, blocks []modbus.Block) []Request {
	cycle := make([]Request, 0, len(blocks))
	for _, b := range blocks {
		cycle = append(cycle, Request{Unit: unit, Func: modbus.Function(b.Func), Addr: b.Addr,
			Count: b.Count})
	}
	return cycle
}

// PlanRun is a timed run of one plan of a meter's reads.
type PlanRun struct {
	Name      string
	Cycle     []Request
	Useful    int // registers a cycle reads that some need uses
	Registers int // registers a cycle reads
	Run
}

// UsefulPerSecond is the rate of useful registers the run delivered.
func (p PlanRun) UsefulPerSecond() float64 {
	if p.Elapsed <= 0 {
		return 0
	}
	return float64(p.Useful*p.Served) / float64(len(p.Cycle)) / p.Elapsed.Seconds()
}

// PollPlans times esep's master reading the cycle of each plan on b, one
// plan after the other, for cycles(plan) cycles each.
func PollPlans(ctx context.Context, e *Esep, plans []PlanRun, cycles func(PlanRun) int) (
	[]PlanRun, error) {
	out := slices.Clone(plans)
	for i := range out {
		p := &out[i]
		for _, r := range p.Cycle {
			p.Registers += int(r.Count)
		}
		run, err := e.Poll(ctx, p.Cycle, cycles(*p))
		if err != nil {
			return nil, fmt.Errorf("cannot poll the %s plan: %w", p.Name, err)
		}
		p.Run = run
	}
	return out, nil
}
