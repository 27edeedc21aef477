package modbus

import (
	"cmp"
	"context"
	"fmt"
	"math/bits"
	"slices"
	"sort"
	"sync"
)

// Request size limits of the Modbus Application Protocol Specification
// v1.1b3.
const (
	planSpecRegisters = 125  // FC03 and FC04 quantity, §6.3 and §6.4
	planSpecBits      = 2000 // FC01 and FC02 quantity, §6.1 and §6.2
)

// Need is one value a meter profile reads: Count registers, or Count bits
// for function codes 1 and 2, starting at Addr.
type Need struct {
	Name  string // the profile's name for the value, used in errors
	Func  byte   // 1 coils, 2 discrete inputs, 3 holding, 4 input registers
	Addr  uint16 // PDU address, 0-based, as on the wire
	Count uint16
}

func (n Need) end() int { return int(n.Addr) + int(n.Count) }

// SeparateRange is a range of addresses, First to Last inclusive, that a
// device reads only on their own: a request reaching into the range must
// stay inside it. Meters with internal register banks refuse a request
// that spans two banks even when every register in it exists.
type SeparateRange struct {
	Func        byte
	First, Last uint16
}

// PlanOptions tune how NewPlan merges needs into requests.
type PlanOptions struct {
	// MaxGap is how many unneeded registers a request may read through
	// to serve two needs at once; 0 joins only adjacent or overlapping
	// needs.
	MaxGap int
	// MaxBitGap is MaxGap for coils and discrete inputs, in bits.
	MaxBitGap int
	// MaxRegisters caps the registers of one request, for devices that
	// answer fewer than the specification allows; 0 means 125.
	MaxRegisters int
	// MaxBits caps the bits of one request; 0 means 2000.
	MaxBits int
	// Separate lists the ranges the device reads only on their own.
	Separate []SeparateRange
	// IsIllegalAddress reports whether a read error is a refusal: an
	// exception of the permanent class, 1 ILLEGAL FUNCTION, 2 ILLEGAL
	// DATA ADDRESS or 3 ILLEGAL DATA VALUE, which the device answers again
	// to the same request. DevicePlan then splits the refused request to
	// find what the device refuses and skips it for RefusedCycles. Nil
	// never splits: every error fails its whole request.
	IsIllegalAddress func(error) bool
	// RefusedCycles is how many read cycles DevicePlan skips a refused
	// need before it asks again, as a device may have been replaced or
	// updated meanwhile; 0 means DefaultRefusedCycles.
	RefusedCycles int
}

// DefaultRefusedCycles is how long a refusal is remembered: 96 cycles,
// a day at the usual 15-minute interval.
const DefaultRefusedCycles = 96

// DefaultPlanOptions returns the options esep plans with unless a profile
// says otherwise.
//
// At 9600 Bd a register costs 2 character times on the wire, while a
// transaction costs about 20 before the slave even starts to answer:
// 8 request bytes, 5 reply bytes of header and CRC, and two silences of
// 3.5 characters (Modbus over Serial Line v1.02, §2.5.1.1). With a few
// milliseconds of slave turnaround, reading through 16 unneeded registers
// is still cheaper than one more transaction. A larger gap would save
// little and read more registers a device may not implement.
func DefaultPlanOptions() PlanOptions {
	return PlanOptions{MaxGap: 16, MaxBitGap: 16 * 16, RefusedCycles: DefaultRefusedCycles}
}

// limits returns how many registers, or bits, one request of fn may read
// and how many unneeded ones it may read through to join two needs.
func (o PlanOptions) limits(fn byte) (size, gap int) {
	if planIsBits(fn) {
		return cmp.Or(o.MaxBits, planSpecBits), o.MaxBitGap
	}
	return cmp.Or(o.MaxRegisters, planSpecRegisters), o.MaxGap
}

func (o PlanOptions) check() error {
	switch {
	case o.MaxGap < 0 || o.MaxBitGap < 0:
		return fmt.Errorf("plan gaps %d and %d must not be negative", o.MaxGap, o.MaxBitGap)
	case o.MaxRegisters < 0 || o.MaxRegisters > planSpecRegisters:
		return fmt.Errorf("plan limit of %d registers is outside 0-%d",
			o.MaxRegisters, planSpecRegisters)
	case o.MaxBits < 0 || o.MaxBits > planSpecBits:
		return fmt.Errorf("plan limit of %d bits is outside 0-%d", o.MaxBits, planSpecBits)
	case o.RefusedCycles < 0:
		return fmt.Errorf("plan remembers refusals for %d cycles, a negative number",
			o.RefusedCycles)
	}
	for _, r := range o.Separate {
		if !planIsRead(r.Func) || r.Last < r.First {
			return fmt.Errorf("separate range of function %d 0x%04X-0x%04X is empty or no read",
				r.Func, r.First, r.Last)
		}
	}
	return nil
}

// Block is one read request of a plan and the needs it serves.
type Block struct {
	Func  byte
	Addr  uint16
	Count uint16
	// Needs holds the indexes of the needs the block serves, into the
	// slice given to NewPlan, in address order.
	Needs []int
}

func (b Block) end() int { return int(b.Addr) + int(b.Count) }

// String names the block, as in "input registers 0x0156+40".
func (b Block) String() string { return planDescribe(b.Func, b.Addr, b.Count) }

// Words returns the part of reply, the answer to b, that holds n, or nil
// when n lies outside b or the reply is short.
func (b Block) Words(reply []uint16, n Need) []uint16 {
	from, to := int(n.Addr)-int(b.Addr), n.end()-int(b.Addr)
	if n.Func != b.Func || from < 0 || to > len(reply) {
		return nil
	}
	return reply[from:to:to]
}

// Plan is the set of requests that reads every need of a meter once.
type Plan struct {
	Needs  []Need
	Blocks []Block // by function code, then address
}

// NewPlan merges needs into as few requests as options allow: needs of
// one function code join while the unneeded registers between them stay
// within the gap, the request within its size limit and inside one
// separate range. Overlapping needs share a request when it fits. A need
// that no request can read, or that crosses the edge of a separate range,
// is an error naming it.
func NewPlan(needs []Need, opt PlanOptions) (Plan, error) {
	if err := opt.check(); err != nil {
		return Plan{}, err
	}
	cuts := planCutsOf(opt.Separate)
	for _, n := range needs {
		if err := planCheckNeed(n, opt, cuts); err != nil {
			return Plan{}, err
		}
	}

	// Stable, so that equal needs keep their order and plans repeat.
	order := make([]int, len(needs))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(i, j int) int {
		a, b := needs[i], needs[j]
		return cmp.Or(cmp.Compare(a.Func, b.Func), cmp.Compare(a.Addr, b.Addr),
			cmp.Compare(a.Count, b.Count))
	})

	var blocks []Block
	for _, i := range order {
		n := needs[i]
		if last := len(blocks) - 1; last >= 0 && planJoins(blocks[last], n, opt, cuts) {
			b := &blocks[last]
			b.Count = uint16(max(b.end(), n.end()) - int(b.Addr))
			b.Needs = append(b.Needs, i)
			continue
		}
		blocks = append(blocks, Block{Func: n.Func, Addr: n.Addr, Count: n.Count, Needs: []int{i}})
	}
	return Plan{Needs: slices.Clone(needs), Blocks: blocks}, nil
}

// planJoins reports whether n, which starts at or after b, can be read
// by b grown to reach it.
func planJoins(b Block, n Need, opt PlanOptions, cuts planCuts) bool {
	size, gap := opt.limits(n.Func)
	return b.Func == n.Func &&
		int(n.Addr)-b.end() <= gap && // negative when they overlap
		max(b.end(), n.end())-int(b.Addr) <= size &&
		cuts.zone(b.Func, int(b.Addr)) == cuts.zone(n.Func, int(n.Addr))
}

func planCheckNeed(n Need, opt PlanOptions, cuts planCuts) error {
	size, _ := opt.limits(n.Func)
	what := planDescribe(n.Func, n.Addr, n.Count)
	switch {
	case !planIsRead(n.Func):
		return fmt.Errorf("need %q: function code %d is not a read of 1-4", n.Name, n.Func)
	case n.Count == 0:
		return fmt.Errorf("need %q (%s) reads nothing", n.Name, what)
	case n.end() > 1<<16:
		return fmt.Errorf("need %q (%s) runs past address 0xFFFF", n.Name, what)
	case int(n.Count) > size:
		return fmt.Errorf("need %q (%s) is larger than the %d one request may read",
			n.Name, what, size)
	case cuts.zone(n.Func, int(n.Addr)) != cuts.zone(n.Func, n.end()-1):
		return fmt.Errorf("need %q (%s) crosses the edge of a separate range", n.Name, what)
	}
	return nil
}

// planCuts holds, per function code, the sorted addresses where a
// separate range begins or the addresses after it begin. A request must
// not contain a cut other than at its first address.
type planCuts map[byte][]int

func planCutsOf(ranges []SeparateRange) planCuts {
	cuts := planCuts{}
	for _, r := range ranges {
		cuts[r.Func] = append(cuts[r.Func], int(r.First), int(r.Last)+1)
	}
	for fn := range cuts {
		slices.Sort(cuts[fn])
		cuts[fn] = slices.Compact(cuts[fn])
	}
	return cuts
}

// zone numbers the stretch between cuts that addr lies in; two addresses
// may share a request only when they share a zone.
func (c planCuts) zone(fn byte, addr int) int {
	return sort.SearchInts(c[fn], addr+1)
}

// PlanStats measures what one cycle of a plan costs the bus.
type PlanStats struct {
	Requests int
	// Registers and Bits count what the requests read; the Useful counts
	// what some need uses, with overlapping needs counted once.
	Registers, UsefulRegisters int
	Bits, UsefulBits           int
	// RTUBytes counts request and reply bytes on an RTU line, without
	// the silent intervals between frames.
	RTUBytes int
}

// Stats measures p.
func (p Plan) Stats() PlanStats {
	var s PlanStats
	for _, b := range p.Blocks {
		useful := planUseful(b, p.Needs)
		data := 2 * int(b.Count)
		if planIsBits(b.Func) {
			s.Bits, s.UsefulBits = s.Bits+int(b.Count), s.UsefulBits+useful
			data = (int(b.Count) + 7) / 8
		} else {
			s.Registers, s.UsefulRegisters = s.Registers+int(b.Count), s.UsefulRegisters+useful
		}

		// Request: slave, function, address, quantity, CRC; reply:
		// slave, function, byte count, data, CRC.
		s.Requests++
		s.RTUBytes += 8 + 5 + data
	}
	return s
}

// Efficiency is the share of the data bits read that some need uses;
// 1 when nothing is read.
func (s PlanStats) Efficiency() float64 {
	read := 16*s.Registers + s.Bits
	if read == 0 {
		return 1
	}
	return float64(16*s.UsefulRegisters+s.UsefulBits) / float64(read)
}

// planUseful counts the registers of b that some need uses; b.Needs is
// in address order, so one sweep skips what earlier needs covered.
func planUseful(b Block, needs []Need) int {
	useful, reach := 0, int(b.Addr)
	for _, i := range b.Needs {
		n := needs[i]
		useful += max(0, n.end()-max(int(n.Addr), reach))
		reach = max(reach, n.end())
	}
	return useful
}

// BlockReader reads count registers of function fn from addr on, one
// request on the wire. For function codes 1 and 2 it returns one word per
// bit, 0 or 1.
type BlockReader func(ctx context.Context, fn byte, addr, count uint16) ([]uint16, error)

// NeedResult is what one read cycle got for one need.
type NeedResult struct {
	Words []uint16 // the need's words as read; nil when Err is set
	Err   error
}

// DevicePlan is the plan of one device, kept across read cycles. When the
// device refuses a merged request (see PlanOptions.IsIllegalAddress), the
// plan bisects it over its needs and keeps what it learns: the next cycles
// issue the requests that work and skip the needs the device refuses,
// reporting them as errors. A refusal expires: a refused need is asked
// again after PlanOptions.RefusedCycles cycles. A device that boots, or
// is being replaced, refuses everything for a while: when it refuses
// every need, each cycle starts again from the merged plan, and so does
// the cycle after a need refused before is read. Reset forgets every
// refusal.
type DevicePlan struct {
	plan    Plan
	refuses func(error) bool
	expiry  int // cycles a refused need is skipped

	mu      sync.Mutex // one cycle at a time; it holds the bus anyway
	entries []planEntry
}

// planEntry is a request of a device plan, or a need known to be refused,
// which costs no request until its skips run out.
type planEntry struct {
	block   Block
	refused error
	skips   int // cycles left to skip the refused need
}

// due reports whether the next cycle issues the entry's request.
func (e planEntry) due() bool { return e.refused == nil || e.skips == 0 }

// NewDevicePlan plans needs with NewPlan for a device not read yet.
func NewDevicePlan(needs []Need, opt PlanOptions) (*DevicePlan, error) {
	p, err := NewPlan(needs, opt)
	if err != nil {
		return nil, err
	}
	d := &DevicePlan{plan: p, refuses: opt.IsIllegalAddress,
		expiry: cmp.Or(opt.RefusedCycles, DefaultRefusedCycles)}
	d.Reset()
	return d, nil
}

// Reset forgets what read cycles learnt, for a device that may have been
// replaced or had its firmware updated.
func (d *DevicePlan) Reset() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.reset()
}

// reset is Reset under d.mu.
func (d *DevicePlan) reset() {
	d.entries = d.entries[:0]
	for _, b := range d.plan.Blocks {
		d.entries = append(d.entries, planEntry{block: b})
	}
}

// Plan returns the requests the next cycle issues; needs skipped as
// refused are in no block.
func (d *DevicePlan) Plan() Plan {
	d.mu.Lock()
	defer d.mu.Unlock()
	p := Plan{Needs: d.plan.Needs}
	if d.allRefused() {
		p.Blocks = slices.Clone(d.plan.Blocks)
		for i := range p.Blocks {
			p.Blocks[i].Needs = slices.Clone(p.Blocks[i].Needs)
		}
		return p
	}
	for _, e := range d.entries {
		if e.due() {
			b := e.block
			b.Needs = slices.Clone(b.Needs)
			p.Blocks = append(p.Blocks, b)
		}
	}
	return p
}

// allRefused reports whether the device refused every need of the plan.
func (d *DevicePlan) allRefused() bool {
	return len(d.entries) > 0 && !slices.ContainsFunc(d.entries, func(e planEntry) bool {
		return e.refused == nil
	})
}

// Read runs one cycle: it issues the plan's requests through read and
// returns one result per need, in the order given to NewDevicePlan. A
// failed request fails the needs it serves; it is split only when the
// device refused it. Splitting one request of n needs costs at most
// 2⌈log₂ n⌉ extra requests per cycle, enough to isolate one refused need;
// needs the budget did not reach get ErrSplitDeferred.
func (d *DevicePlan) Read(ctx context.Context, read BlockReader) []NeedResult {
	d.mu.Lock()
	defer d.mu.Unlock()
	c := planCycle{
		ctx:     ctx,
		read:    read,
		needs:   d.plan.Needs,
		refuses: d.refuses,
		expiry:  d.expiry,
		results: make([]NeedResult, len(d.plan.Needs)),
	}
	if d.allRefused() {
		// Booting, swapped, or recovered but for some needs: the cycle
		// starts from the merged plan, as a new device's first does.
		d.reset()
	}
	recovered := false
	for _, e := range d.entries {
		if !e.due() {
			e.skips--
			c.results[e.block.Needs[0]].Err = e.refused
			c.next = append(c.next, e)
			continue
		}
		c.attempt(e.block, nil)
		recovered = recovered || e.refused != nil && c.results[e.block.Needs[0]].Err == nil
	}
	d.entries = c.next
	if recovered {
		// A need refused before was read: the device changed, as one
		// does after booting or a swap, and the splits learnt from it
		// may no longer hold. The next cycle starts from the merged
		// plan and learns afresh what is still refused.
		d.reset()
	}
	return c.results
}

// planCycle is the state of one DevicePlan.Read.
type planCycle struct {
	ctx     context.Context
	read    BlockReader
	needs   []Need
	refuses func(error) bool
	expiry  int
	results []NeedResult
	next    []planEntry // the entries the next cycle starts from
}

// attempt reads b and files the outcome. A refused block of several
// needs is bisected, spending budget; nil starts a fresh budget.
func (c *planCycle) attempt(b Block, budget *int) {
	words, err := c.readBlock(b)
	switch {
	case err == nil:
		c.file(b, words)
	case c.refuses == nil || !c.refuses(err):
		c.fail(b, fmt.Errorf("read %s: %w", b, err))
	case len(b.Needs) == 1:
		refused := c.refusal(b, err)
		c.fail(b, refused)
		c.next = append(c.next, planEntry{block: b, refused: refused, skips: c.expiry})
		return
	default:
		c.bisect(b, budget)
		return
	}
	c.next = append(c.next, planEntry{block: b})
}

// bisect reads the two halves of refused block b. The budget bounds the
// extra requests: a half it does not reach stays in the plan unread, to
// be read, and split further if need be, in the next cycle.
//
// TODO: bisection can leave up to ⌈log₂ n⌉ working requests around one
// refused need where two would do. Joining them again needs a memory of
// the spans that failed, so that a join is not refused and split anew
// every cycle; worth it only if a field device shows the cost.
func (c *planCycle) bisect(b Block, budget *int) {
	if budget == nil {
		n := 2 * bits.Len(uint(len(b.Needs)-1)) // 2⌈log₂ n⌉
		budget = &n
	}
	mid := len(b.Needs) / 2
	for _, idx := range [][]int{b.Needs[:mid], b.Needs[mid:]} {
		half := planBlockOf(c.needs, idx)
		if *budget == 0 {
			c.fail(half, fmt.Errorf("%s not read: %w", half, ErrSplitDeferred))
			c.next = append(c.next, planEntry{block: half})
			continue
		}
		*budget--
		c.attempt(half, budget)
	}
}

func (c *planCycle) readBlock(b Block) ([]uint16, error) {
	// A cancelled poll must not keep the bus busy with the rest.
	if err := c.ctx.Err(); err != nil {
		return nil, err
	}
	words, err := c.read(c.ctx, b.Func, b.Addr, b.Count)
	if err != nil {
		return nil, err
	}
	if len(words) != int(b.Count) {
		return nil, fmt.Errorf("reply holds %d values, want %d", len(words), b.Count)
	}
	return words, nil
}

// file hands each need of b its words of the reply.
func (c *planCycle) file(b Block, words []uint16) {
	for _, i := range b.Needs {
		c.results[i] = NeedResult{Words: b.Words(words, c.needs[i])}
	}
}

// refusal is the error a refused need of one-need block b reports.
func (c *planCycle) refusal(b Block, err error) error {
	n := c.needs[b.Needs[0]]
	return fmt.Errorf("need %q (%s) refused by the device: %w", n.Name, b, err)
}

func (c *planCycle) fail(b Block, err error) {
	for _, i := range b.Needs {
		c.results[i] = NeedResult{Err: err}
	}
}

// planBlockOf returns the block that reads exactly the needs idx, given
// in address order.
func planBlockOf(needs []Need, idx []int) Block {
	first := needs[idx[0]]
	end := first.end()
	for _, i := range idx[1:] {
		end = max(end, needs[i].end())
	}
	return Block{
		Func:  first.Func,
		Addr:  first.Addr,
		Count: uint16(end - int(first.Addr)),
		Needs: slices.Clone(idx),
	}
}

func planIsRead(fn byte) bool { return fn >= 1 && fn <= 4 }

func planIsBits(fn byte) bool { return fn == 1 || fn == 2 }

// planDescribe names a range of addresses in errors and logs, in the
// tables' names of the specification (§4.3).
func planDescribe(fn byte, addr, count uint16) string {
	name, ok := map[byte]string{1: "coils", 2: "discrete inputs",
		3: "holding registers", 4: "input registers"}[fn]
	if !ok {
		name = fmt.Sprintf("function %d", fn)
	}
	return fmt.Sprintf("%s 0x%04X+%d", name, addr, count)
}
