package modbus

import (
	"context"
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"strings"
	"testing"
)

func TestNewPlan(t *testing.T) {
	holding := []SeparateRange{{Func: 4, First: 0x0100, Last: 0x01FF}}
	tests := []struct {
		name  string
		needs []Need
		opt   func(*PlanOptions) // changes to DefaultPlanOptions
		want  []string
	}{
		{"no needs", nil, nil, nil},
		{"single need", planNeeds(4, 2, 0x0010), nil,
			[]string{"input registers 0x0010+2 [0]"}},
		{"adjacent needs merge", planNeeds(4, 2, 0x0002, 0x0000), nil,
			[]string{"input registers 0x0000+4 [1 0]"}},
		{"gap of MaxGap merges", planNeeds(3, 2, 0, 18), nil,
			[]string{"holding registers 0x0000+20 [0 1]"}},
		{"gap over MaxGap splits", planNeeds(3, 2, 0, 19), nil,
			[]string{"holding registers 0x0000+2 [0]", "holding registers 0x0013+2 [1]"}},
		{"gap 0 joins only adjacent", planNeeds(3, 1, 0, 1, 3),
			func(o *PlanOptions) { o.MaxGap = 0 },
			[]string{"holding registers 0x0000+2 [0 1]", "holding registers 0x0003+1 [2]"}},
		{"125 registers in one request", planNeeds(4, 1, planAddrs(0, 1, 126)...), nil,
			[]string{"input registers 0x0000+125 " + fmt.Sprint(planSeq(0, 125)),
				"input registers 0x007D+1 [125]"}},
		{"126 registers split at the end of a need",
			[]Need{{"a", 4, 0, 61}, {"b", 4, 61, 64}, {"c", 4, 125, 1}}, nil,
			[]string{"input registers 0x0000+125 [0 1]", "input registers 0x007D+1 [2]"}},
		{"device limit below the spec", planNeeds(3, 2, planAddrs(0, 2, 21)...),
			func(o *PlanOptions) { o.MaxRegisters = 40 },
			[]string{"holding registers 0x0000+40 " + fmt.Sprint(planSeq(0, 20)),
				"holding registers 0x0028+2 [20]"}},
		{"2000 coils in one request",
			[]Need{{"a", 1, 0, 1000}, {"b", 1, 1000, 1000}, {"c", 1, 2000, 1}}, nil,
			[]string{"coils 0x0000+2000 [0 1]", "coils 0x07D0+1 [2]"}},
		{"bit gap counts bits", planNeeds(2, 1, 0, 257, 515), nil,
			[]string{"discrete inputs 0x0000+258 [0 1]", "discrete inputs 0x0203+1 [2]"}},
		{"separate range not joined to its neighbours",
			planNeeds(4, 2, 0x00FE, 0x0100, 0x01FE, 0x0200),
			func(o *PlanOptions) { o.Separate = holding },
			[]string{"input registers 0x00FE+2 [0]", "input registers 0x0100+2 [1]",
				"input registers 0x01FE+2 [2]", "input registers 0x0200+2 [3]"}},
		{"separate range binds its own function only",
			planNeeds(3, 2, 0x00FE, 0x0100),
			func(o *PlanOptions) { o.Separate = holding },
			[]string{"holding registers 0x00FE+4 [0 1]"}},
		{"needs inside a separate range merge",
			planNeeds(4, 2, 0x0100, 0x0104),
			func(o *PlanOptions) { o.Separate = holding },
			[]string{"input registers 0x0100+6 [0 1]"}},
		{"overlapping needs merge",
			[]Need{{"a", 3, 0, 4}, {"b", 3, 2, 2}, {"c", 3, 1, 2}, {"d", 3, 1, 2}}, nil,
			[]string{"holding registers 0x0000+4 [0 2 3 1]"}},
		{"overlap too large for one request",
			[]Need{{"a", 3, 0, 100}, {"b", 3, 50, 100}}, nil,
			[]string{"holding registers 0x0000+100 [0]", "holding registers 0x0032+100 [1]"}},
		{"function codes ordered and never mixed",
			[]Need{{"a", 4, 0, 2}, {"b", 3, 2, 2}, {"c", 1, 5, 1}, {"d", 2, 0, 1},
				{"e", 3, 0, 2}}, nil,
			[]string{"coils 0x0005+1 [2]", "discrete inputs 0x0000+1 [3]",
				"holding registers 0x0000+4 [4 1]", "input registers 0x0000+2 [0]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opt := DefaultPlanOptions()
			if tt.opt != nil {
				tt.opt(&opt)
			}
			p, err := NewPlan(tt.needs, opt)
			if err != nil {
				t.Fatal(err)
			}
			if got := planDump(p.Blocks); !slices.Equal(got, tt.want) {
				t.Errorf("NewPlan(%v) =\n%q\nwant\n%q", tt.needs, got, tt.want)
			}
			planCheck(t, tt.needs, opt, p)
		})
	}
}

func TestNewPlanErrors(t *testing.T) {
	tests := []struct {
		name  string
		needs []Need
		opt   func(*PlanOptions)
		want  string
	}{
		{"register need over 125", []Need{{"ok", 3, 0, 2}, {"serial", 3, 0x1000, 126}},
			nil, `need "serial" (holding registers 0x1000+126) is larger than the 125`},
		{"coil need over 2000", []Need{{"relays", 1, 0, 2001}}, nil, `need "relays"`},
		{"need over the device limit", []Need{{"name", 4, 0, 41}},
			func(o *PlanOptions) { o.MaxRegisters = 40 }, "larger than the 40"},
		{"write function", []Need{{"w", 6, 0, 1}}, nil, "function code 6"},
		{"empty need", []Need{{"e", 4, 0, 0}}, nil, "reads nothing"},
		{"past the last address", []Need{{"p", 4, 0xFFFF, 2}}, nil, "past address 0xFFFF"},
		{"need across a separate edge", []Need{{"x", 4, 0x00FF, 2}},
			func(o *PlanOptions) { o.Separate = []SeparateRange{{4, 0x0100, 0x01FF}} },
			`need "x" (input registers 0x00FF+2) crosses`},
		{"limit above the spec", nil,
			func(o *PlanOptions) { o.MaxRegisters = 126 }, "126 registers"},
		{"negative gap", nil, func(o *PlanOptions) { o.MaxGap = -1 }, "negative"},
		{"empty separate range", nil,
			func(o *PlanOptions) { o.Separate = []SeparateRange{{3, 2, 1}} }, "0x0002-0x0001"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opt := DefaultPlanOptions()
			if tt.opt != nil {
				tt.opt(&opt)
			}
			_, err := NewPlan(tt.needs, opt)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("NewPlan(%v) error = %v, want one containing %q", tt.needs, err, tt.want)
			}
		})
	}
}

// TestPlanSDM630 plans the float values of an Eastron SDM630-style map,
// 2 input registers each, in three areas far apart (constructed from the
// SDM630 register table: phase values, totals and energies; per-phase
// energies; two values in the 0x0200 area).
func TestPlanSDM630(t *testing.T) {
	addrs := planAddrs(0x0000, 2, 18) // V, I, W, VA, var and PF of L1-L3
	addrs = append(addrs, 0x002E, 0x0030, 0x0034, 0x0038, 0x003C, 0x003E,
		0x0046, 0x0048, 0x004A, 0x004C)
	addrs = append(addrs, planAddrs(0x0156, 2, 22)...)
	addrs = append(addrs, 0x0200, 0x0202)
	needs := planNeeds(4, 2, addrs...)
	if len(needs) != 52 {
		t.Fatalf("map has %d values, want 52", len(needs))
	}

	p, err := NewPlan(needs, DefaultPlanOptions())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"input registers 0x0000+78 " + fmt.Sprint(planSeq(0, 28)),
		"input registers 0x0156+44 " + fmt.Sprint(planSeq(28, 50)),
		"input registers 0x0200+4 [50 51]",
	}
	if got := planDump(p.Blocks); !slices.Equal(got, want) {
		t.Errorf("blocks =\n%q\nwant\n%q", got, want)
	}
	stats := PlanStats{Requests: 3, Registers: 126, UsefulRegisters: 104, RTUBytes: 3*13 + 2*126}
	if got := p.Stats(); got != stats {
		t.Errorf("Stats() = %+v, want %+v", got, stats)
	}
}

func TestPlanStats(t *testing.T) {
	tests := []struct {
		name  string
		needs []Need
		want  PlanStats
		eff   float64
	}{
		{"nothing", nil, PlanStats{}, 1},
		{"gap read through", planNeeds(3, 2, 0, 6), PlanStats{Requests: 1, Registers: 8,
			UsefulRegisters: 4, RTUBytes: 13 + 16}, 0.5},
		{"overlap counted once", []Need{{"a", 3, 0, 4}, {"b", 3, 2, 4}},
			PlanStats{Requests: 1, Registers: 6, UsefulRegisters: 6, RTUBytes: 13 + 12}, 1},
		{"coils and registers", []Need{{"c", 1, 0, 10}, {"r", 4, 0, 1}}, PlanStats{
			Requests: 2, Bits: 10, UsefulBits: 10, Registers: 1, UsefulRegisters: 1,
			RTUBytes: 13 + 2 + 13 + 2}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := NewPlan(tt.needs, DefaultPlanOptions())
			if err != nil {
				t.Fatal(err)
			}
			s := p.Stats()
			if s != tt.want || s.Efficiency() != tt.eff {
				t.Errorf("Stats() = %+v, efficiency %v, want %+v, %v",
					s, s.Efficiency(), tt.want, tt.eff)
			}
		})
	}
}

// errPlanIllegal stands for the device's exception 2 in these tests.
var errPlanIllegal = errors.New("exception 2: illegal data address")

// planFakeDevice answers every register with its address xor 0xA5A5, and
// refuses a request that touches a refused address, as meters do.
type planFakeDevice struct {
	refused  map[uint16]bool
	fail     error // when set, every request fails with it
	requests int
	refusals int
}

func (d *planFakeDevice) read(_ context.Context, _ byte, addr, count uint16) ([]uint16, error) {
	d.requests++
	if d.fail != nil {
		return nil, d.fail
	}
	words := make([]uint16, count)
	for i := range words {
		a := addr + uint16(i)
		if d.refused[a] {
			d.refusals++
			return nil, errPlanIllegal
		}
		words[i] = a ^ 0xA5A5
	}
	return words, nil
}

// cycle runs one read cycle of p and returns its results and requests.
func (d *planFakeDevice) cycle(p *DevicePlan) ([]NeedResult, int) {
	before := d.requests
	res := p.Read(context.Background(), d.read)
	return res, d.requests - before
}

func planIsIllegal(err error) bool { return errors.Is(err, errPlanIllegal) }

func TestDevicePlanSplitsRefusedBlock(t *testing.T) {
	tests := []struct {
		name        string
		addrs       []uint16 // 2-register needs, merged into one request
		refused     []uint16
		wantRefused []int
	}{
		{"register inside a value", planAddrs(0, 2, 8), []uint16{7}, []int{3}},
		{"register in a gap", []uint16{0, 2, 4, 6, 10, 12, 14, 16}, []uint16{8}, nil},
		{"first register", planAddrs(0, 2, 8), []uint16{0}, []int{0}},
		{"last register", planAddrs(0, 2, 13), []uint16{25}, []int{12}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dev := &planFakeDevice{refused: map[uint16]bool{}}
			for _, a := range tt.refused {
				dev.refused[a] = true
			}
			opt := DefaultPlanOptions()
			opt.IsIllegalAddress = planIsIllegal
			needs := planNeeds(4, 2, tt.addrs...)
			p, err := NewDevicePlan(needs, opt)
			if err != nil {
				t.Fatal(err)
			}

			// Discovery: 1 request plus 2⌈log₂ n⌉ at most.
			res, n := dev.cycle(p)
			if limit := 1 + 2*bits.Len(uint(len(needs)-1)); n > limit {
				t.Errorf("first cycle issued %d requests, want at most %d", n, limit)
			}
			planCheckResults(t, needs, res, tt.wantRefused)

			// Remembered: the working requests only, none refused.
			dev.refusals = 0
			res, n = dev.cycle(p)
			if blocks := len(p.Plan().Blocks); n != blocks || dev.refusals != 0 {
				t.Errorf("second cycle issued %d requests, %d refused; want %d, none",
					n, dev.refusals, blocks)
			}
			planCheckResults(t, needs, res, tt.wantRefused)

			// Forgotten: the first plan again.
			p.Reset()
			want := fmt.Sprintf("input registers 0x0000+%d %v",
				needs[len(needs)-1].end(), planSeq(0, len(needs)))
			if got := planDump(p.Plan().Blocks); !slices.Equal(got, []string{want}) {
				t.Errorf("after Reset plan = %q, want %q", got, want)
			}
		})
	}
}

func TestDevicePlanWholeBlockRefused(t *testing.T) {
	dev := &planFakeDevice{refused: map[uint16]bool{}}
	for a := range uint16(16) {
		dev.refused[a] = true
	}
	opt := DefaultPlanOptions()
	opt.IsIllegalAddress = planIsIllegal
	needs := planNeeds(4, 2, planAddrs(0, 2, 8)...)
	p, err := NewDevicePlan(needs, opt)
	if err != nil {
		t.Fatal(err)
	}

	// Each cycle stays within its budget; the search goes on next cycle.
	res, n := dev.cycle(p)
	if n > 1+6 {
		t.Errorf("first cycle issued %d requests, want at most 7", n)
	}
	if !slices.ContainsFunc(res, func(r NeedResult) bool {
		return errors.Is(r.Err, ErrSplitDeferred)
	}) {
		t.Errorf("first cycle deferred no need: %v", res)
	}
	for cycles := 1; !planAllRefused(res); cycles++ {
		if cycles > 5 {
			t.Fatalf("still splitting after %d cycles: %v", cycles, res)
		}
		res, _ = dev.cycle(p)
	}

	// Every node of the bisection was read once: 2·8-1 requests.
	if dev.requests != 15 {
		t.Errorf("discovery issued %d requests, want 15", dev.requests)
	}
	planCheckResults(t, needs, res, planSeq(0, 8))

	// A device that refuses everything is asked again every cycle from
	// the merged plan, as it may be booting, within the split budget.
	for cycle := range 3 {
		res, n = dev.cycle(p)
		if n < 1 || n > 1+6 {
			t.Errorf("refused cycle %d issued %d requests, want 1 to 7", cycle, n)
		}
		for i, r := range res {
			if r.Err == nil {
				t.Errorf("refused cycle %d read need %d: %v", cycle, i, r.Words)
			}
		}
	}

	// Booted: the next cycle reads everything, in one request.
	clear(dev.refused)
	res, n = dev.cycle(p)
	if n != 1 {
		t.Errorf("recovered cycle issued %d requests, want 1", n)
	}
	planCheckResults(t, needs, res, nil)
	if got := len(p.Plan().Blocks); got != 1 {
		t.Errorf("after recovery the plan has %d blocks, want 1", got)
	}
}

// TestDevicePlanRefusalExpires checks that a refused need is skipped for
// RefusedCycles cycles and then asked for again, so that a register the
// device serves again, after a firmware update say, is read again.
func TestDevicePlanRefusalExpires(t *testing.T) {
	const expiry = 3
	dev := &planFakeDevice{refused: map[uint16]bool{7: true}}
	opt := DefaultPlanOptions()
	opt.IsIllegalAddress = planIsIllegal
	opt.RefusedCycles = expiry
	needs := planNeeds(4, 2, planAddrs(0, 2, 8)...)
	p, err := NewDevicePlan(needs, opt)
	if err != nil {
		t.Fatal(err)
	}

	res, _ := dev.cycle(p)
	planCheckResults(t, needs, res, []int{3})

	// Skipped for the expiry, though the device serves it again.
	delete(dev.refused, 7)
	for range expiry {
		res, _ = dev.cycle(p)
		planCheckResults(t, needs, res, []int{3})
	}

	// Asked again, and read.
	if !slices.ContainsFunc(p.Plan().Blocks, func(b Block) bool {
		return slices.Contains(b.Needs, 3)
	}) {
		t.Errorf("after %d skipped cycles need 3 is in no block of %q", expiry,
			planDump(p.Plan().Blocks))
	}
	res, _ = dev.cycle(p)
	planCheckResults(t, needs, res, nil)

	// Refused again. Its read above started the plan afresh, so the
	// bisection finds it again, refused in each of the 4 nodes that hold
	// it (8 needs, 4, 2, itself); then it is skipped for the expiry and
	// asked once after it.
	dev.refused[7] = true
	dev.refusals = 0
	for range 2 * (expiry + 1) {
		res, _ = dev.cycle(p)
		planCheckResults(t, needs, res, []int{3})
	}
	if dev.refusals != 5 {
		t.Errorf("over %d cycles the refused need was asked %d times, want 4 + 1",
			2*(expiry+1), dev.refusals)
	}
}

// planAllRefused reports whether every result is a refusal.
func planAllRefused(res []NeedResult) bool {
	return !slices.ContainsFunc(res, func(r NeedResult) bool {
		return !errors.Is(r.Err, errPlanIllegal)
	})
}

func TestDevicePlanDoesNotSplit(t *testing.T) {
	timeout := errors.New("no reply within 500ms")
	tests := []struct {
		name    string
		fail    error
		refused map[uint16]bool
		illegal func(error) bool
		want    error
	}{
		{"timeout", timeout, nil, planIsIllegal, timeout},
		{"no predicate", nil, map[uint16]bool{3: true}, nil, errPlanIllegal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dev := &planFakeDevice{fail: tt.fail, refused: tt.refused}
			opt := DefaultPlanOptions()
			opt.IsIllegalAddress = tt.illegal
			p, err := NewDevicePlan(planNeeds(3, 2, 0, 2, 4, 6), opt)
			if err != nil {
				t.Fatal(err)
			}
			for cycle := range 2 {
				res, n := dev.cycle(p)
				if n != 1 {
					t.Errorf("cycle %d issued %d requests, want 1", cycle, n)
				}
				for i, r := range res {
					if !errors.Is(r.Err, tt.want) || r.Words != nil {
						t.Errorf("cycle %d need %d = %v, want error %v", cycle, i, r, tt.want)
					}
				}
			}
		})
	}
}

func TestDevicePlanCancelled(t *testing.T) {
	dev := &planFakeDevice{}
	p, err := NewDevicePlan(planNeeds(4, 2, 0, 100, 200), DefaultPlanOptions())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for i, r := range p.Read(ctx, dev.read) {
		if !errors.Is(r.Err, context.Canceled) {
			t.Errorf("need %d = %v, want context.Canceled", i, r)
		}
	}
	if dev.requests != 0 {
		t.Errorf("cancelled cycle issued %d requests", dev.requests)
	}
}

// FuzzPlan checks that no input makes NewPlan drop, repeat or misplace a
// need, exceed a request limit or read across a separate range.
func FuzzPlan(f *testing.F) {
	// A separate range 0x0100-0x01FF of input registers and needs at
	// both sides of its first edge, plus one holding register.
	f.Add([]byte{16, 64, 0, 0xF3, 0x01, 0x00, 0xFF,
		3, 0x00, 0xFE, 1, 3, 0x01, 0x00, 1, 2, 0x00, 0x10, 3})
	// 900 and 1500 coils that no one request can hold, and an input.
	f.Add([]byte{0, 200, 0, 0, 0x00, 0x00, 0xF5, 0, 0x03, 0x84, 0xF9, 1, 0x00, 0x04, 4})
	f.Fuzz(func(t *testing.T, data []byte) {
		needs, opt := planFuzzInput(data)
		p, err := NewPlan(needs, opt)
		if err != nil {
			if planAllValid(needs, opt) {
				t.Fatalf("NewPlan(%v, %+v) = %v, but every need is valid", needs, opt, err)
			}
			return
		}
		planCheck(t, needs, opt, p)
	})
}

// FuzzDevicePlan checks that, whatever registers a device refuses, read
// cycles settle on a plan that reads every value the device serves and
// reports the others as refused, within the budget of extra requests.
func FuzzDevicePlan(f *testing.F) {
	f.Add([]byte{0, 2, 4, 6, 8, 10, 12, 14}, []byte{7})
	f.Add([]byte{0, 4, 5, 9, 30, 31, 33, 60}, []byte{1, 2, 3, 30, 50})
	f.Fuzz(func(t *testing.T, addrs, refused []byte) {
		dev := &planFakeDevice{refused: map[uint16]bool{}}
		for _, a := range refused {
			dev.refused[uint16(a)] = true
		}
		opt := DefaultPlanOptions()
		opt.IsIllegalAddress = planIsIllegal
		var needs []Need
		for i, a := range addrs {
			needs = append(needs, Need{Name: fmt.Sprint(i), Func: 4, Addr: uint16(a), Count: 2})
		}
		p, err := NewDevicePlan(needs, opt)
		if err != nil {
			t.Fatal(err)
		}

		// Each unsettled cycle has the device refuse at least one node of
		// a bisection, and a plan of n needs has fewer than 2n nodes.
		// A device that refuses every need is asked again each cycle.
		var res []NeedResult
		for cycle := 0; cycle == 0 || dev.refusals > 0 && !planAllRefused(res); cycle++ {
			if cycle > 2*len(needs) {
				t.Fatalf("plan not settled after %d cycles", cycle)
			}
			limit := len(p.Plan().Blocks) * (1 + 2*bits.Len(uint(len(needs))))
			dev.refusals = 0
			var n int
			if res, n = dev.cycle(p); n > limit {
				t.Fatalf("cycle %d issued %d requests, want at most %d", cycle, n, limit)
			}
		}

		var want []int
		for i, n := range needs {
			if dev.refused[n.Addr] || dev.refused[n.Addr+1] {
				want = append(want, i)
			}
		}
		planCheckResults(t, needs, res, want)
	})
}

// planFuzzInput reads options from the first three bytes and a separate
// range or a need from each 4 bytes after.
func planFuzzInput(data []byte) ([]Need, PlanOptions) {
	var opt PlanOptions
	if len(data) >= 3 {
		opt.MaxGap, opt.MaxBitGap = int(data[0]%40), int(data[1])*4
		opt.MaxRegisters = int(data[2]) % 126
		data = data[3:]
	}
	var needs []Need
	for ; len(data) >= 4; data = data[4:] {
		fn, addr := 1+data[0]%4, (uint16(data[1])<<8|uint16(data[2]))%1024
		if data[0] >= 0xF0 {
			opt.Separate = append(opt.Separate,
				SeparateRange{Func: fn, First: addr, Last: addr + uint16(data[3])})
			continue
		}
		count := 1 + uint16(data[3]%8)
		if data[3] >= 0xF0 {
			count = uint16(data[3]-0xEF) * 150 // over the limits now and then
		}
		needs = append(needs, Need{Name: fmt.Sprint(len(needs)), Func: fn, Addr: addr, Count: count})
	}
	return needs, opt
}

// planAllValid is an oracle for NewPlan's errors, written apart from it.
func planAllValid(needs []Need, opt PlanOptions) bool {
	for _, n := range needs {
		size, _ := opt.limits(n.Func)
		if n.Count == 0 || int(n.Count) > size || n.end() > 1<<16 {
			return false
		}
		for _, r := range opt.Separate {
			if r.Func == n.Func && (planStraddles(n.Addr, n.Count, int(r.First)) ||
				planStraddles(n.Addr, n.Count, int(r.Last)+1)) {
				return false
			}
		}
	}
	return true
}

// planStraddles reports whether addresses edge-1 and edge are both read.
func planStraddles(addr, count uint16, edge int) bool {
	return int(addr) < edge && int(addr)+int(count) > edge
}

// planCheck fails t unless p serves every need once, from a block of its
// function that holds it, within the limits, apart from separate ranges,
// tight around its needs, in order, and joined wherever it could be.
func planCheck(t testing.TB, needs []Need, opt PlanOptions, p Plan) {
	t.Helper()
	seen := make([]int, len(needs))
	for k, b := range p.Blocks {
		size, gap := opt.limits(b.Func)
		if b.Count == 0 || int(b.Count) > size {
			t.Errorf("block %s over the limit of %d", b, size)
		}
		lo, hi := 1<<16, 0
		for _, i := range b.Needs {
			seen[i]++
			n := needs[i]
			lo, hi = min(lo, int(n.Addr)), max(hi, n.end())
			if n.Func != b.Func || int(n.Addr) < int(b.Addr) || n.end() > b.end() {
				t.Errorf("block %s serves need %d %+v outside it", b, i, n)
			}
		}
		if lo != int(b.Addr) || hi != b.end() {
			t.Errorf("block %s reads beyond its needs 0x%04X-0x%04X", b, lo, hi-1)
		}
		for _, r := range opt.Separate {
			if r.Func == b.Func && (planStraddles(b.Addr, b.Count, int(r.First)) ||
				planStraddles(b.Addr, b.Count, int(r.Last)+1)) {
				t.Errorf("block %s reads across the edge of %+v", b, r)
			}
		}
		if k == 0 {
			continue
		}
		prev := p.Blocks[k-1]
		if prev.Func > b.Func || prev.Func == b.Func && prev.Addr > b.Addr {
			t.Errorf("block %s after %s", b, prev)
		}
		first := needs[b.Needs[0]]
		if prev.Func == b.Func && int(b.Addr)-prev.end() <= gap &&
			max(prev.end(), first.end())-int(prev.Addr) <= size &&
			planAllValid([]Need{{Func: b.Func, Addr: prev.Addr,
				Count: uint16(max(prev.end(), first.end()) - int(prev.Addr))}}, opt) {
			t.Errorf("block %s could have joined %s", b, prev)
		}
	}
	for i, c := range seen {
		if c != 1 {
			t.Errorf("need %d %+v served %d times, want once", i, needs[i], c)
		}
	}
}

// planCheckResults fails t unless each need has its words, or an error
// wrapping the device's refusal when it is one of refused.
func planCheckResults(t *testing.T, needs []Need, res []NeedResult, refused []int) {
	t.Helper()
	for i, n := range needs {
		r := res[i]
		if slices.Contains(refused, i) {
			if !errors.Is(r.Err, errPlanIllegal) || !strings.Contains(r.Err.Error(), n.Name) {
				t.Errorf("need %d %+v = %v, want the refusal naming it", i, n, r)
			}
			continue
		}
		want := []uint16{n.Addr ^ 0xA5A5, (n.Addr + 1) ^ 0xA5A5}
		if r.Err != nil || !slices.Equal(r.Words, want) {
			t.Errorf("need %d %+v = %v, want words %04X", i, n, r, want)
		}
	}
}

func planNeeds(fn byte, count uint16, addrs ...uint16) []Need {
	needs := make([]Need, len(addrs))
	for i, a := range addrs {
		needs[i] = Need{Name: fmt.Sprintf("v%d", i), Func: fn, Addr: a, Count: count}
	}
	return needs
}

func planAddrs(from, step uint16, n int) []uint16 {
	addrs := make([]uint16, n)
	for i := range addrs {
		addrs[i] = from + uint16(i)*step
	}
	return addrs
}

func planSeq(from, to int) []int {
	seq := make([]int, 0, to-from)
	for i := from; i < to; i++ {
		seq = append(seq, i)
	}
	return seq
}

func planDump(blocks []Block) []string {
	var dump []string
	for _, b := range blocks {
		dump = append(dump, fmt.Sprintf("%s %v", b, b.Needs))
	}
	return dump
}

// TestDevicePlanAfterBoot checks that a device that refused everything
// for a few cycles, as one does while it boots, ends up read with as few
// requests as one that never did: its refusals expire, and once a need
// refused before is read the plan merges again.
func TestDevicePlanAfterBoot(t *testing.T) {
	var needs []Need
	for i, a := range planAddrs(0, 2, 32) {
		needs = append(needs, Need{Name: fmt.Sprint(i), Func: 4, Addr: a, Count: 2})
	}
	opt := DefaultPlanOptions()
	opt.IsIllegalAddress = planIsIllegal
	opt.RefusedCycles = 4

	// settled runs 40 cycles of a device that refuses register 7, and
	// everything in its first boot cycles, and returns the requests of
	// the last cycle.
	settled := func(boot int) int {
		p, err := NewDevicePlan(needs, opt)
		if err != nil {
			t.Fatal(err)
		}
		dev := &planFakeDevice{}
		n := 0
		for cycle := range 40 {
			dev.refused = map[uint16]bool{7: true}
			for a := uint16(0); cycle < boot && a < 64; a++ {
				dev.refused[a] = true
			}
			var res []NeedResult
			res, n = dev.cycle(p)
			if cycle >= boot+2*opt.RefusedCycles {
				planCheckResults(t, needs, res, []int{3})
			}
		}
		return n
	}
	fresh := settled(0)
	for _, boot := range []int{1, 3, 6} {
		if got := settled(boot); got != fresh {
			t.Errorf("after %d cycles of booting the device costs %d requests a cycle, "+
				"a fresh one %d", boot, got, fresh)
		}
	}
}
