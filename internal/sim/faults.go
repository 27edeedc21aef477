package sim

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/esep-kz/esep/drivers/modbus"
)

// Faults are the ways one unit misbehaves; the zero value is a healthy
// unit. Rates are probabilities in 0..1, drawn from a generator seeded
// with Seed so that a run can be repeated; an Every field N acts on the
// Nth, 2Nth, … request since the Faults were set, and zero turns it off.
type Faults struct {
	// Dead units never answer: the client times out.
	Dead bool

	// SilentRate is the probability that a request goes unanswered, and
	// SilentEvery leaves every Nth unanswered, as an intermittent meter
	// does.
	SilentRate  float64
	SilentEvery int

	// Exceptions answer matching requests with a fixed exception code
	// (FC-12); the first matching rule wins.
	Exceptions []ExceptionRule

	// Refused ranges are answered with illegal data address when a
	// request touches them, as a meter answers for registers it lacks.
	Refused []Range

	// CorruptCRCRate and CorruptCRCEvery flip a byte of the CRC of an RTU
	// reply, so that the client sees a CRC error. TCP has no CRC.
	CorruptCRCRate  float64
	CorruptCRCEvery int

	// Latency is added before each reply, one entry after the other and
	// then from the start again: a slow device's script (FC-13).
	Latency []time.Duration

	// Chunks splits each reply into pieces of these sizes, with ChunkGap
	// of silence between them, as a USB adapter delivers it (FC-10).
	// Bytes beyond the listed sizes go out as one last piece.
	Chunks   []int
	ChunkGap time.Duration

	// ForeignUnit, when not zero, answers each request first as this other
	// unit id would and then as the addressed unit (FC-15.3).
	ForeignUnit byte

	// StaleTID sends over TCP, before each reply, the same reply under the
	// transaction id one below the request's, as a late answer to the
	// previous request would arrive (FC-15.1). RTU ignores it.
	StaleTID bool

	// Seed seeds the draws for the rates.
	Seed uint64
}

// Range is a set of requests by function and address.
type Range struct {
	// Functions the range applies to; empty means every function.
	Functions []Function

	// Start and Count bound the addresses; a request matches when any
	// address it touches is in Start..Start+Count-1. Count zero matches
	// every request of the functions, with or without an address.
	Start, Count uint16
}

// ExceptionRule answers the requests in its Range with Code: every one,
// or with Every set to N, the Nth, 2Nth, … of them, as a meter busy now
// and then answers exception 6 (FC-12 item 4).
type ExceptionRule struct {
	Range
	Code  Exception
	Every int
}

// validate reports the first problem that keeps f from being applied to
// unit.
func (f Faults) validate(unit byte) error {
	for _, rate := range []float64{f.SilentRate, f.CorruptCRCRate} {
		if rate < 0 || rate > 1 {
			return fmt.Errorf("rate %v is outside 0..1: %w", rate, ErrInvalidFaults)
		}
	}
	if f.SilentEvery < 0 || f.CorruptCRCEvery < 0 {
		return fmt.Errorf("a negative Every is not a period: %w", ErrInvalidFaults)
	}
	for _, r := range f.Exceptions {
		if r.Code < 1 || r.Code > 11 {
			return fmt.Errorf("exception code %d is outside 1..11: %w", r.Code, ErrInvalidFaults)
		}
		if r.Every < 0 {
			return fmt.Errorf("a negative Every is not a period: %w", ErrInvalidFaults)
		}
	}
	if slices.ContainsFunc(f.Chunks, func(n int) bool { return n <= 0 }) {
		return fmt.Errorf("chunk sizes %v are not all positive: %w", f.Chunks, ErrInvalidFaults)
	}
	if f.ForeignUnit != 0 && (f.ForeignUnit == unit || f.ForeignUnit > maxUnit) {
		return fmt.Errorf("foreign unit %d is not another unit id in 1..247: %w",
			f.ForeignUnit, ErrInvalidFaults)
	}
	return nil
}

// matches reports whether the request PDU req falls in r.
func (r Range) matches(req []byte) bool {
	if len(r.Functions) > 0 && !slices.Contains(r.Functions, Function(req[0])) {
		return false
	}
	if r.Count == 0 {
		return true
	}
	addr, count, ok := span(req)
	if !ok {
		return false
	}
	// Both as int: a span may end at 0x10000.
	return int(addr) < int(r.Start)+int(r.Count) && int(r.Start) < int(addr)+int(count)
}

// faultState is a unit's Faults with the counters and draws they need.
type faultState struct {
	mu       sync.Mutex
	f        Faults
	rng      *rand.Rand
	requests int   // since the Faults were set
	replies  int   // answered requests, which step the latency script
	matched  []int // requests each exception rule matched, for its Every
}

func newFaultState(f Faults) *faultState {
	return &faultState{f: f, rng: rand.New(rand.NewPCG(f.Seed, f.Seed)),
		matched: make([]int, len(f.Exceptions))}
}

// apply decides what the unit does with the request PDU req; execute
// gives the answer of the device when no fault stands in for it.
func (s *faultState) apply(req []byte, execute func() []byte) reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	if s.f.Dead || s.hit(s.f.SilentRate, s.f.SilentEvery) {
		return reply{}
	}

	r := reply{
		chunks:   s.f.Chunks,
		gap:      s.f.ChunkGap,
		foreign:  s.f.ForeignUnit,
		staleTID: s.f.StaleTID,
	}
	r.pdu = s.exception(req)
	if r.pdu == nil {
		r.pdu = execute()
	}
	r.corrupt = s.hit(s.f.CorruptCRCRate, s.f.CorruptCRCEvery)
	if n := len(s.f.Latency); n > 0 {
		r.latency = s.f.Latency[s.replies%n]
	}
	s.replies++
	return r
}

// exception returns the exception response the Faults give req, if any.
func (s *faultState) exception(req []byte) []byte {
	fn := Function(req[0])
	for _, r := range s.f.Refused {
		if r.matches(req) {
			return exceptionPDU(fn, modbus.IllegalDataAddress)
		}
	}
	for i, r := range s.f.Exceptions {
		if !r.matches(req) {
			continue
		}
		s.matched[i]++
		if r.Every == 0 || s.matched[i]%r.Every == 0 {
			return exceptionPDU(fn, r.Code)
		}
	}
	return nil
}

// hit reports whether the current request is the every-th one or drawn
// at rate; it draws only when rate is set, so that a rate of zero leaves
// the sequence of the other draws unchanged.
func (s *faultState) hit(rate float64, every int) bool {
	if every > 0 && s.requests%every == 0 {
		return true
	}
	return rate > 0 && s.rng.Float64() < rate
}

// split cuts frame into pieces of the sizes in chunks; what is left after
// them is one last piece. No chunks means one piece.
func split(frame []byte, chunks []int) [][]byte {
	var out [][]byte
	for _, n := range chunks {
		if len(frame) == 0 {
			break
		}
		n = min(n, len(frame))
		out = append(out, frame[:n])
		frame = frame[n:]
	}
	if len(frame) > 0 {
		out = append(out, frame)
	}
	return out
}
