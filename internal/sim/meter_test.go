package sim

import (
	"math"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/esep-kz/esep/drivers/modbus"
	"github.com/esep-kz/esep/internal/reading"
)

// testClock is simulated time that a test sets.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

// testStart is a winter evening in the simulated buildings' zone.
var testStart = time.Date(2025, 1, 15, 18, 0, 0, 0, localZone)

func newTestClock() *testClock { return &testClock{t: testStart} }

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func shippedProfile(t testing.TB, name string) *modbus.Profile {
	t.Helper()
	ps, err := modbus.ShippedProfiles()
	if err != nil {
		t.Fatal(err)
	}
	p, err := ps.Get(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func newTestMeter(t testing.TB, cfg MeterConfig) *Meter {
	t.Helper()
	m, err := NewMeter(cfg)
	if err != nil {
		t.Fatalf("NewMeter(%s): %v", cfg.Profile.Name, err)
	}
	return m
}

// poll reads the meter as the agent does, through the planner's blocks
// with their gaps, and decodes the words with the profile.
func poll(t testing.TB, d Device, p *modbus.Profile) modbus.Decoded {
	t.Helper()
	plan, err := modbus.NewPlan(p.Needs(), p.PlanOptions(modbus.DefaultPlanOptions()))
	if err != nil {
		t.Fatal(err)
	}
	results := make([]modbus.NeedResult, len(plan.Needs))
	for _, b := range plan.Blocks {
		reply, ex := readBlock(d, b)
		if ex != 0 {
			t.Fatalf("profile %s: read %s: exception %d (%s)", p.Name, b, byte(ex), ex)
		}
		for _, i := range b.Needs {
			results[i].Words = b.Words(reply, plan.Needs[i])
		}
	}
	got, err := p.Decode(modbus.PlanWords(plan.Needs, results))
	if err != nil {
		t.Fatalf("profile %s: decode: %v", p.Name, err)
	}
	return got
}

func readBlock(d Device, b modbus.Block) ([]uint16, Exception) {
	fn := Function(b.Func)
	if fn == ReadHoldingRegisters || fn == ReadInputRegisters {
		return d.ReadRegisters(fn, b.Addr, b.Count)
	}
	bits, ex := d.ReadBits(fn, b.Addr, b.Count)
	words := make([]uint16, len(bits))
	for i, on := range bits {
		if on {
			words[i] = 1
		}
	}
	return words, ex
}

// plausible bounds each quantity of the shipped profiles at a flat, a
// stairwell board or a building inlet; far tighter than the vocabulary.
var plausible = map[reading.Quantity][2]float64{
	"voltage_v": {215, 240}, "voltage_l1_v": {215, 240}, "voltage_l2_v": {215, 240},
	"voltage_l3_v": {215, 240}, "voltage_ln_avg_v": {215, 240}, "voltage_l1_l2_v": {375, 415},
	"voltage_l2_l3_v": {375, 415}, "voltage_l3_l1_v": {375, 415}, "voltage_ll_avg_v": {375, 415},
	"frequency_hz": {49.9, 50.1}, "power_factor": {0.9, 1}, "power_factor_l1": {0.9, 1},
	"power_factor_l2": {0.9, 1}, "power_factor_l3": {0.9, 1},
	"temp_supply_c": {50, 95}, "temp_return_c": {30, 75}, "temp_diff_k": {10, 30},
	"flow_m3h": {0, 20}, "heat_power_kw": {30, 500},
}

// TestMeterServesShippedProfiles polls a meter of every shipped profile
// every seven hours over three days: every value decodes, exactly as the
// model has it at the profile's resolution, and is plausible.
func TestMeterServesShippedProfiles(t *testing.T) {
	ps, err := modbus.ShippedProfiles()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range ps.Names() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			clock := newTestClock()
			m := newTestMeter(t, MeterConfig{Profile: ps[name], Clock: clock, Seed: 42})
			end := testStart.Add(72 * time.Hour)
			for at := testStart; at.Before(end); at = at.Add(7 * time.Hour) {
				clock.set(at)
				got, want := poll(t, m, ps[name]), m.Expected(at)
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("at %s: polled\n%v\nwant the model's\n%v", at, got, want)
				}
				checkPlausible(t, at, got)
			}
		})
	}
}

func checkPlausible(t *testing.T, at time.Time, d modbus.Decoded) {
	t.Helper()
	for _, v := range d.Values {
		if v.Quality != reading.Good {
			t.Errorf("at %s: %s has quality %s", at, v.Quantity, v.Quality)
			continue
		}
		n := v.Number.InexactFloat64()
		bounds, ok := plausible[v.Quantity]
		if !ok {
			bounds = [2]float64{0, 5e6} // currents, powers, indexes
		}
		if n < bounds[0] || n > bounds[1] {
			t.Errorf("at %s: %s is not within %v", at, v, bounds)
		}
	}
}

// value returns the number of q in d.
func value(t testing.TB, d modbus.Decoded, q reading.Quantity) float64 {
	t.Helper()
	for _, v := range d.Values {
		if v.Quantity == q {
			return v.Number.InexactFloat64()
		}
	}
	t.Fatalf("no %s in %v", q, d.Values)
	return 0
}

// TestMeterPhysics checks that values agree as physics says: P = V·I·pf
// on each phase, the phases add up, and heat Q = V̇·ΔT·c.
func TestMeterPhysics(t *testing.T) {
	near := func(t *testing.T, what string, got, want, rel float64) {
		t.Helper()
		if math.Abs(got-want) > rel*math.Abs(want) {
			t.Errorf("%s = %.4f, want %.4f within %g %%", what, got, want, 100*rel)
		}
	}
	sdm120 := newTestMeter(t, MeterConfig{Profile: shippedProfile(t, "eastron-sdm120"), Seed: 3})
	sdm630 := newTestMeter(t, MeterConfig{Profile: shippedProfile(t, "eastron-sdm630"), Seed: 3})
	mag := newTestMeter(t, MeterConfig{Profile: shippedProfile(t, "2flow-mag-11"), Seed: 3})
	for h := range 24 {
		at := testStart.Add(time.Duration(h)*time.Hour + 17*time.Minute)
		d := sdm120.Expected(at)
		near(t, "sdm120 power_w", value(t, d, "power_w"),
			value(t, d, "voltage_v")*value(t, d, "current_a")*value(t, d, "power_factor"), 0.005)

		d = sdm630.Expected(at)
		var sum float64
		for i := range 3 {
			p := value(t, d, phaseWatts[i])
			near(t, "sdm630 "+string(phaseWatts[i]), p, value(t, d, phaseVolts[i])*
				value(t, d, phaseAmps[i])*value(t, d, phasePF[i]), 0.005)
			sum += p
		}
		near(t, "sdm630 power_w", value(t, d, "power_w"), sum, 0.001)

		d = mag.Expected(at)
		near(t, "heat_power_kw", value(t, d, "heat_power_kw"),
			value(t, d, "flow_m3h")*value(t, d, "temp_diff_k")*waterHeat, 0.005)
	}
}

// TestMeterIndexGrows follows every shipped profile over ten simulated
// days in steps of 13 minutes: no counter ever goes back, and the main
// index grows by a plausible amount a day.
func TestMeterIndexGrows(t *testing.T) {
	perDay := map[string][2]float64{ // main index growth a day
		"electricity": {3, 150}, "water": {5, 40}, "heat": {1000, 5000},
	}
	ps, err := modbus.ShippedProfiles()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range ps.Names() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p := ps[name]
			m := newTestMeter(t, MeterConfig{Profile: p, Clock: newTestClock(), Seed: 9})
			last := m.Expected(testStart)
			end := testStart.Add(240 * time.Hour)
			for at := testStart; !at.After(end); at = at.Add(13 * time.Minute) {
				d := m.Expected(at)
				checkCounters(t, p, at, last, d)
				last = d
			}
			main := MainQuantity(p.Kind)
			grown := (value(t, last, main) - value(t, m.Expected(testStart), main)) / 10
			if b := perDay[p.Kind]; grown < b[0] || grown > b[1] {
				t.Errorf("%s grew %.2f a day, want %v", main, grown, b)
			}
		})
	}
}

// checkCounters fails when a cumulative value of now is below before.
func checkCounters(t *testing.T, p *modbus.Profile, at time.Time, before, now modbus.Decoded) {
	t.Helper()
	for i, pt := range p.Values {
		if *pt.Cumulative && now.Values[i].Number.LessThan(before.Values[i].Number) {
			t.Fatalf("at %s: %s went back from %s to %s", at, pt.Quantity,
				before.Values[i].Number, now.Values[i].Number)
		}
	}
}

// TestMeterDailyPattern checks the shape of a day: a flat's electricity
// peaks in the evening, water in the morning and the evening, and heat
// takes more power on the coldest days.
func TestMeterDailyPattern(t *testing.T) {
	hourly := func(m *Meter, q reading.Quantity, hour int) float64 {
		var sum float64
		for day := range 14 {
			at := time.Date(2025, 1, 1+day, hour, 0, 0, 0, localZone)
			sum += value(t, m.Expected(at), q)
		}
		return sum / 14
	}
	el := newTestMeter(t, MeterConfig{Profile: shippedProfile(t, "eastron-sdm120"), Seed: 5})
	if night, evening := hourly(el, "power_w", 4), hourly(el, "power_w", 20); evening < 3*night {
		t.Errorf("flat power: %.0f W at 04:00, %.0f W at 20:00; want an evening peak",
			night, evening)
	}
	water := newTestMeter(t, MeterConfig{Profile: shippedProfile(t, "arad-octave"), Seed: 5})
	night := hourly(water, "flow_m3h", 3)
	for _, h := range []int{7, 20} {
		if peak := hourly(water, "flow_m3h", h); peak < 5*night {
			t.Errorf("water flow %.3f at %02d:00, %.3f at 03:00; want a peak", peak, h, night)
		}
	}

	h := newHeat(noise{5})
	cold, warm := h.draw(tickOf(testStart)), h.draw(tickOf(testStart))
	for k := tickOf(testStart); k < tickOf(testStart.Add(20*24*time.Hour)); k += 360 {
		s := h.draw(k)
		if s.supply > cold.supply {
			cold = s
		}
		if s.supply < warm.supply {
			warm = s
		}
	}
	if cold.kw < 1.2*warm.kw {
		t.Errorf("heat %.1f kW at supply %.1f °C, %.1f kW at %.1f °C; want more when colder",
			cold.kw, cold.supply, warm.kw, warm.supply)
	}
}

// TestMeterDeterministic makes two meters of one seed and reads them in
// different orders: they show the same at the same time.
func TestMeterDeterministic(t *testing.T) {
	p := shippedProfile(t, "eastron-sdm630")
	a := newTestMeter(t, MeterConfig{Profile: p, Seed: 11, Start: testStart})
	b := newTestMeter(t, MeterConfig{Profile: p, Seed: 11, Start: testStart})
	late := testStart.Add(50 * time.Hour)
	b.Expected(late) // b sums its ticks up to late first
	for _, at := range []time.Time{testStart.Add(time.Hour), late, testStart.Add(26 * time.Hour)} {
		if x, y := a.Expected(at), b.Expected(at); !reflect.DeepEqual(x, y) {
			t.Errorf("at %s: twins differ:\n%v\n%v", at, x, y)
		}
	}
	c := newTestMeter(t, MeterConfig{Profile: p, Seed: 12, Start: testStart})
	if x, y := a.Expected(late), c.Expected(late); reflect.DeepEqual(x, y) {
		t.Errorf("seeds 11 and 12 made the same meter: %v", x)
	}
}
