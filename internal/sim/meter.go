package sim

import (
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/shopspring/decimal"

	"github.com/esep-kz/esep/drivers/modbus"
	"github.com/esep-kz/esep/internal/reading"
)

// MeterConfig describes one simulated meter.
type MeterConfig struct {
	// Profile is the register map the meter serves, as loaded and
	// checked by modbus.LoadProfiles or ParseProfile.
	Profile *modbus.Profile

	// Clock tells the simulated time; nil is real time.
	Clock Clock

	// Start is when the meter's count starts from Index; zero is the
	// Clock's time when the meter is made.
	Start time.Time

	// Seed makes the meter: how much it draws, its serial and every draw
	// of noise. Meters of one profile and seed are twins.
	Seed uint64

	// Serial is the serial number; empty draws one from Seed that fits
	// the profile's serial register.
	Serial string

	// Index is the main index at Start, in its quantity's unit: active
	// import energy in kWh, water or gas volume in m³, heat in kWh. Nil
	// draws from Seed half a year to three years of the meter's use.
	Index *float64

	// Rollover starts the main index about an hour of the meter's mean
	// use below its register's rollover, so that the register wraps to
	// zero soon after Start. The profile's register for the main
	// quantity must be an integer counter that wraps within the
	// quantity's range. It overrides Index.
	Rollover bool

	// SwapAt, when not zero, swaps the meter at that simulated time, as
	// Swap does on command.
	SwapAt time.Time

	// Strict refuses every register the profile does not name. Without
	// it, gaps the planner reads through (the profile's max_gap, or the
	// planner's default) between named registers read as zero, as most
	// meters answer for their undocumented registers.
	Strict bool
}

// Meter is a Device that serves a profile's registers with the values
// of a simulated meter: indexes that grow with a daily pattern, noisy
// instantaneous values that agree with each other, and its identity.
// Values depend on the simulated time alone. A read of registers the
// profile does not have is answered with illegal data address. A Meter
// is safe for concurrent use.
type Meter struct {
	profile *modbus.Profile
	clock   Clock
	noise   noise
	model   physics
	points  []pointCodec
	regs    *registerMap

	mu     sync.Mutex
	epochs []*epoch // by start
}

// epoch is the life of one meter in the socket: from its start, with
// its serial and its indexes then, until the next swap.
type epoch struct {
	start  time.Time
	serial string
	index  []float64

	next int64     // first tick not yet in sum
	sum  []float64 // growth over the ticks before next
}

// NewMeter makes the meter cfg describes.
func NewMeter(cfg MeterConfig) (*Meter, error) {
	p := cfg.Profile
	if p == nil {
		return nil, fmt.Errorf("cannot make a meter without a profile: %w", ErrInvalidMeter)
	}
	m := &Meter{profile: p, clock: cfg.Clock, noise: noise{cfg.Seed}}
	if m.clock == nil {
		m.clock = realClock{}
	}
	var err error
	if m.model, err = newPhysics(p.Kind, phasesOf(p), m.noise); err != nil {
		return nil, fmt.Errorf("cannot simulate profile %q: %w", p.Name, err)
	}
	m.layout(cfg.Strict)

	first, err := m.firstEpoch(cfg)
	if err != nil {
		return nil, fmt.Errorf("cannot simulate profile %q: %w", p.Name, err)
	}
	m.epochs = []*epoch{first}
	if !cfg.SwapAt.IsZero() {
		m.addEpoch(cfg.SwapAt)
	}
	return m, nil
}

// phasesOf tells a three-phase profile by its per-phase voltage.
func phasesOf(p *modbus.Profile) int {
	for _, pt := range p.Values {
		if pt.Quantity == "voltage_l1_v" || pt.Quantity == "voltage_l2_v" {
			return 3
		}
	}
	return 1
}

// firstEpoch checks the serial and finds the initial index.
func (m *Meter) firstEpoch(cfg MeterConfig) (*epoch, error) {
	start := cfg.Start
	if start.IsZero() {
		start = m.clock.Now()
	}
	serial := cfg.Serial
	if serial == "" {
		serial = drawSerial(m.profile.Identity.Serial, m.noise.bits(0, chSerial))
	}
	if err := checkSerial(m.profile, serial); err != nil {
		return nil, err
	}

	hours := 24 * 365 * (0.5 + 2.5*m.noise.unit(0, chIndex))
	main := m.model.meanRate() * hours
	if cfg.Index != nil {
		main = *cfg.Index
	}
	if cfg.Rollover {
		top, err := rolloverTop(m.profile)
		if err != nil {
			return nil, err
		}
		main = top - m.model.meanRate()
	}
	return &epoch{start: start, serial: serial, index: m.model.initial(main)}, nil
}

// checkSerial reports a serial that the profile's serial register, if it
// has one, cannot hold.
func checkSerial(p *modbus.Profile, serial string) error {
	r := p.Identity.Serial
	if r == nil {
		return nil
	}
	if _, err := identityWords(r, serial); err != nil {
		return fmt.Errorf("serial %q does not fit the serial register (%s): %w",
			serial, r.Type, ErrInvalidMeter)
	}
	return nil
}

// MainQuantity is the quantity of a meter kind's main index.
func MainQuantity(kind string) reading.Quantity {
	switch kind {
	case "electricity":
		return "energy_active_import_kwh"
	case "heat":
		return "heat_energy_kwh"
	}
	return "volume_m3"
}

// rolloverTop returns where the register of the profile's main index
// wraps, if it wraps at all within what the quantity can be.
func rolloverTop(p *modbus.Profile) (float64, error) {
	q := MainQuantity(p.Kind)
	i := slices.IndexFunc(p.Values, func(pt modbus.Point) bool { return pt.Quantity == q })
	if i < 0 {
		return 0, fmt.Errorf("profile %q has no register for %s to roll over: %w",
			p.Name, q, ErrInvalidMeter)
	}
	pt := &p.Values[i]
	spec, _ := reading.Lookup(q)
	if !pt.Rollover.IsPositive() || pt.Rollover.GreaterThan(spec.Max) {
		return 0, fmt.Errorf("the %s register of %s in profile %q does not wrap within "+
			"%s %s: %w", pt.Type, q, p.Name, spec.Max, spec.Unit, ErrInvalidMeter)
	}
	return pt.Rollover.InexactFloat64(), nil
}

// addEpoch swaps the meter at t: a new serial and an index that starts
// again from the little a new meter shows after its factory test.
func (m *Meter) addEpoch(t time.Time) *epoch {
	n := int64(len(m.epochs))
	e := &epoch{
		start:  t,
		serial: drawSerial(m.profile.Identity.Serial, m.noise.bits(n, chSerial)),
		index:  m.model.initial(2 * m.noise.unit(n, chIndex)),
	}
	m.epochs = append(m.epochs, e)
	slices.SortStableFunc(m.epochs, func(a, b *epoch) int { return a.start.Compare(b.start) })
	return e
}

// Swap replaces the meter now, as a fitter does: the new one has a new
// serial and an index that starts near zero. It returns the new serial.
func (m *Meter) Swap() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.addEpoch(m.clock.Now()).serial
}

// Profile returns the profile the meter serves.
func (m *Meter) Profile() *modbus.Profile { return m.profile }

// Serial returns the serial number of the meter in place now.
func (m *Meter) Serial() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.epochAt(m.clock.Now()).serial
}

// epochAt returns the epoch that holds t; before the first, the first.
func (m *Meter) epochAt(t time.Time) *epoch {
	e := m.epochs[0]
	for _, next := range m.epochs[1:] {
		if next.start.After(t) {
			break
		}
		e = next
	}
	return e
}

// ReadRegisters implements Device.
func (m *Meter) ReadRegisters(fn Function, addr, count uint16) ([]uint16, Exception) {
	s := m.snapshot(m.clock.Now())
	return m.regs.read(fn, addr, count, s)
}

// ReadBits implements Device: a point on coils or discrete inputs is one
// bit, set when its value is not zero.
func (m *Meter) ReadBits(fn Function, addr, count uint16) ([]bool, Exception) {
	s := m.snapshot(m.clock.Now())
	words, ex := m.regs.read(fn, addr, count, s)
	if ex != 0 {
		return nil, ex
	}
	bits := make([]bool, count)
	for i, w := range words {
		bits[i] = w != 0
	}
	return bits, 0
}

// Expected returns what a poll of the meter at simulated time t decodes
// to with its profile: every value at the profile's resolution, and the
// identity fields the profile names.
func (m *Meter) Expected(t time.Time) modbus.Decoded {
	s := m.snapshot(t)
	var d modbus.Decoded
	for i, pt := range m.profile.Values {
		v, err := reading.NewValue(pt.Quantity, s.numbers[i], *pt.Places)
		if err != nil {
			v = reading.Value{Quantity: pt.Quantity, Unit: pt.Unit, Quality: reading.Error}
		}
		d.Values = append(d.Values, v)
	}
	id := m.profile.Identity
	d.Serial = identityText(id.Serial, s.serial)
	d.Model = identityText(id.Model, modelText(m.profile, id.Model))
	d.Firmware = identityText(id.Firmware, firmwareText(id.Firmware))
	return d
}

// snapshot is the meter at one moment: each point's number at its
// resolution, in profile order, and the serial of the meter in place.
type snapshot struct {
	numbers []decimal.Decimal
	serial  string
}

func (m *Meter) snapshot(t time.Time) *snapshot {
	m.mu.Lock()
	e := m.epochAt(t)
	idx := e.indexes(t, m.model)
	m.mu.Unlock()

	v := values{}
	m.model.fill(v, tickOf(t), idx)
	s := &snapshot{serial: e.serial, numbers: make([]decimal.Decimal, len(m.points))}
	for i := range m.points {
		s.numbers[i] = m.points[i].quantize(v[m.points[i].pt.Quantity])
	}
	return s
}

// indexes returns the indexes at t: those at the start, and what each
// grew by since. Whole ticks are summed once and kept, always in the
// same order, so the result does not depend on earlier calls.
func (e *epoch) indexes(t time.Time, p physics) []float64 {
	out := slices.Clone(e.index)
	if !t.After(e.start) {
		return out
	}
	k := tickOf(t)
	if e.sum == nil || k < e.next {
		e.next, e.sum = tickOf(e.start), make([]float64, len(out))
	}
	for ; e.next < k; e.next++ {
		from := later(e.start, tickStart(e.next))
		grow(e.sum, p.rates(e.next), tickStart(e.next+1).Sub(from))
	}
	grow(out, e.sum, time.Hour)
	grow(out, p.rates(k), t.Sub(later(e.start, tickStart(k))))
	return out
}

// grow adds to idx each rate, per hour, over d.
func grow(idx, rates []float64, d time.Duration) {
	h := d.Hours()
	for i := range idx {
		idx[i] += rates[i] * h
	}
}

// realClock is the wall clock.
type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }
