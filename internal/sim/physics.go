package sim

import (
	"fmt"
	"math"
	"time"

	"github.com/esep-kz/esep/internal/reading"
)

// values are a meter's quantities at one moment, in the vocabulary's
// units, before they are rounded to a profile's resolution.
type values map[reading.Quantity]float64

// physics is how one kind of meter behaves: the indexes it counts and
// the instantaneous values it shows. Index 0 is the main index, of the
// kind's MainQuantity, that an initial index, a swap and a rollover are
// about. Every method is a pure function of the meter's seed and its
// arguments.
type physics interface {
	// meanRate is how much index 0 grows in an hour, on average.
	meanRate() float64

	// initial returns every index for a given index 0.
	initial(main float64) []float64

	// rates returns how fast each index grows during tick k, in its unit
	// per hour.
	rates(k int64) []float64

	// fill sets the quantities the model knows at tick k, where the
	// indexes stand at idx.
	fill(v values, k int64, idx []float64)
}

// newPhysics returns the model of a meter of kind ("electricity",
// "water", "heat" or "gas") with phases phases.
func newPhysics(kind string, phases int, n noise) (physics, error) {
	switch kind {
	case "electricity":
		return newElectricity(n, phases), nil
	case "water":
		// A building inlet: 7 to 29 m³ a day.
		mean := 0.3 + 0.9*n.unit(0, chMeter)
		return &flowMeter{noise: n, pattern: &buildingWater, mean: mean}, nil
	case "gas":
		// A flat's cooker and water heater: about 1 to 2 m³ a day.
		mean := 0.04 + 0.04*n.unit(0, chMeter)
		return &flowMeter{noise: n, pattern: &flatGas, mean: mean}, nil
	case "heat":
		return newHeat(n), nil
	}
	return nil, fmt.Errorf("no model of a %q meter: %w", kind, ErrInvalidMeter)
}

// meanPF is the power factor of a flat's mix of appliances; each tick
// draws one within ±0.02 of it.
const meanPF = 0.95

// Nominal values of the low-voltage grid (GOST 32144-2013, the power
// quality standard Kazakhstan applies: 230 V ±10 %, 50 Hz ±0.2 Hz).
const (
	nominalVolts = 230.0
	nominalHertz = 50.0
)

// electricity is a flat on one phase, or a stairwell board of a few
// flats on three: its load follows flatElectricity.
type electricity struct {
	noise
	phases int
	mean   float64    // kW over a day
	share  [3]float64 // of the load by phase
}

func newElectricity(n noise, phases int) *electricity {
	e := &electricity{noise: n, phases: phases}
	size := 1.0
	if phases == 3 {
		size = 8
	}
	// 0.15 to 0.38 kW a flat: 3.6 to 9 kWh a day, 110 to 270 a month.
	e.mean = size * (0.15 + 0.23*n.unit(0, chMeter))
	var sum float64
	for i := range phases {
		e.share[i] = 1 + 0.15*n.at(int64(i), chMeter+1)
		sum += e.share[i]
	}
	for i := range phases {
		e.share[i] /= sum
	}
	return e
}

func (e *electricity) meanRate() float64 { return e.mean }
func (e *electricity) initial(main float64) []float64 {
	return []float64{main}
}

// load returns the kW drawn during tick k, and the same without the
// tick's draw: the mean a demand register shows.
func (e *electricity) load(k int64) (kw, smooth float64) {
	t := tickStart(k)
	smooth = e.mean * flatElectricity.at(t) * dayFactor(e.noise, t)
	return smooth * (1 + 0.25*e.at(k, chLoad)), smooth
}

// dayVariation is how much busier or quieter one day is than another.
const dayVariation = 0.12

// dayFactor is the busyness of the day that holds t.
func dayFactor(n noise, t time.Time) float64 {
	return 1 + dayVariation*n.at(dayOf(t), chDay)
}

func (e *electricity) rates(k int64) []float64 {
	kw, _ := e.load(k)
	return []float64{kw}
}

// phase is what one phase shows during a tick.
type phase struct {
	volts, amps, watts, va, vars, pf, thdV, thdI float64
}

func (e *electricity) fill(v values, k int64, idx []float64) {
	kw, smooth := e.load(k)
	pf := meanPF + 0.02*e.at(k, chPF)
	var ph [3]phase
	for i := range e.phases {
		ph[i] = e.phase(k, i, 1000*kw*e.share[i], pf)
		e.fillPhase(v, i, ph[i])
	}
	e.fillTotals(v, ph[:e.phases])
	v["frequency_hz"] = nominalHertz + 0.03*e.at(k, chFreq)
	e.fillDemand(v, smooth, pf)
	e.fillEnergy(v, idx[0])
}

// phase draws the voltage of phase i, which sags a little under load,
// and derives the rest: P = V·I·pf, S = V·I, Q = √(S²−P²).
func (e *electricity) phase(k int64, i int, watts, pf float64) phase {
	ch := uint64(i)
	sag := min(6, watts/1000*1.5)
	p := phase{volts: nominalVolts + 1 + 2.5*e.at(k, chVolt+ch) - sag, watts: watts, pf: pf}
	p.va = watts / pf
	p.amps = p.va / p.volts
	p.vars = math.Sqrt(p.va*p.va - watts*watts)
	p.thdV = 1.8 + 0.5*e.at(k, chTHDV+ch)
	p.thdI = 14 + 8*e.at(k, chTHDI+ch)
	return p
}

// perPhase names a quantity of each phase; format has %d for 1 to 3.
func perPhase(format string) (q [3]reading.Quantity) {
	for i := range q {
		q[i] = reading.Quantity(fmt.Sprintf(format, i+1))
	}
	return q
}

// Per-phase quantity names, by phase; line-to-line ones by their first
// phase.
var (
	phaseVolts   = perPhase("voltage_l%d_v")
	phaseAmps    = perPhase("current_l%d_a")
	phaseWatts   = perPhase("power_l%d_w")
	phaseVA      = perPhase("power_apparent_l%d_va")
	phaseVars    = perPhase("power_reactive_l%d_var")
	phasePF      = perPhase("power_factor_l%d")
	phaseAngle   = perPhase("phase_angle_l%d_deg")
	phaseTHDV    = perPhase("thd_voltage_l%d_pct")
	phaseTHDI    = perPhase("thd_current_l%d_pct")
	demandAmps   = perPhase("demand_current_l%d_a")
	demandPeaks  = perPhase("demand_current_l%d_max_a")
	phaseImport  = perPhase("energy_active_import_l%d_kwh")
	phaseExport  = perPhase("energy_active_export_l%d_kwh")
	phaseTotal   = perPhase("energy_active_total_l%d_kwh")
	phaseRImport = perPhase("energy_reactive_import_l%d_kvarh")
	phaseRExport = perPhase("energy_reactive_export_l%d_kvarh")
	phaseRTotal  = perPhase("energy_reactive_total_l%d_kvarh")
	lineVolts    = [3]reading.Quantity{"voltage_l1_l2_v", "voltage_l2_l3_v", "voltage_l3_l1_v"}
	lineTHDV     = [3]reading.Quantity{"thd_voltage_l1_l2_pct", "thd_voltage_l2_l3_pct",
		"thd_voltage_l3_l1_pct"}
)

func (e *electricity) fillPhase(v values, i int, p phase) {
	v[phaseVolts[i]], v[phaseAmps[i]], v[phaseWatts[i]] = p.volts, p.amps, p.watts
	v[phaseVA[i]], v[phaseVars[i]], v[phasePF[i]] = p.va, p.vars, p.pf
	v[phaseAngle[i]] = math.Acos(p.pf) * 180 / math.Pi
	v[phaseTHDV[i]], v[phaseTHDI[i]] = p.thdV, p.thdI
}

// fillTotals sums the phases, and for three phases adds the line
// voltages, |Va − Vb∠120°| = √(Va²+Vb²+Va·Vb), and the neutral current,
// the length of the sum of the phase currents 120° apart.
func (e *electricity) fillTotals(v values, ph []phase) {
	var sum phase
	for _, p := range ph {
		sum.volts += p.volts
		sum.amps += p.amps
		sum.watts += p.watts
		sum.va += p.va
		sum.vars += p.vars
		sum.thdV += p.thdV
		sum.thdI += p.thdI
	}
	n := float64(len(ph))
	v["voltage_v"], v["current_a"] = ph[0].volts, ph[0].amps
	v["power_w"], v["power_apparent_va"], v["power_reactive_var"] = sum.watts, sum.va, sum.vars
	v["power_factor"] = sum.watts / sum.va
	v["phase_angle_deg"] = math.Acos(sum.watts/sum.va) * 180 / math.Pi
	v["voltage_ln_avg_v"], v["current_avg_a"] = sum.volts/n, sum.amps/n
	v["current_sum_a"] = sum.amps
	v["thd_voltage_ln_avg_pct"], v["thd_current_avg_pct"] = sum.thdV/n, sum.thdI/n
	if len(ph) < 3 {
		return
	}

	var ll float64
	for i := range 3 {
		a, b := ph[i], ph[(i+1)%3]
		v[lineVolts[i]] = math.Sqrt(a.volts*a.volts + b.volts*b.volts + a.volts*b.volts)
		v[lineTHDV[i]] = (a.thdV + b.thdV) / 2
		ll += v[lineVolts[i]]
	}
	v["voltage_ll_avg_v"] = ll / 3
	v["thd_voltage_ll_avg_pct"] = sum.thdV / 3
	re := ph[0].amps - (ph[1].amps+ph[2].amps)/2
	im := (ph[2].amps - ph[1].amps) * math.Sqrt(3) / 2
	v["current_n_a"] = math.Hypot(re, im)
}

// fillDemand sets the demand registers from the load without the tick's
// draw; the maxima are the day's peak of that mean.
func (e *electricity) fillDemand(v values, smooth, pf float64) {
	watts := 1000 * smooth
	peak := 1000 * e.mean * flatElectricity.peak() * (1 + dayVariation)
	v["demand_power_w"], v["demand_power_max_w"] = watts, peak
	v["demand_power_apparent_va"] = watts / pf
	v["demand_power_apparent_max_va"] = peak / meanPF
	var amps, peakAmps float64
	for i := range e.phases {
		a := watts * e.share[i] / nominalVolts / pf
		pa := peak * e.share[i] / nominalVolts / pf
		v[demandAmps[i]], v[demandPeaks[i]] = a, pa
		amps, peakAmps = amps+a, peakAmps+pa
	}
	v["demand_current_n_a"], v["demand_current_n_max_a"] = 0.1*amps, 0.1*peakAmps
}

// Ratios of the other energy indexes to active import: reactive energy
// at the mean power factor, a little capacitive export, no generation.
const (
	reactiveRatio       = 0.32
	reactiveExportRatio = 0.004
	apparentRatio       = 1.05
)

func (e *electricity) fillEnergy(v values, imp float64) {
	ri, re := imp*reactiveRatio, imp*reactiveExportRatio
	v["energy_active_import_kwh"], v["energy_active_export_kwh"] = imp, 0
	v["energy_active_total_kwh"] = imp
	v["energy_reactive_import_kvarh"], v["energy_reactive_export_kvarh"] = ri, re
	v["energy_reactive_total_kvarh"] = ri + re
	v["energy_apparent_kvah"] = imp * apparentRatio
	v["charge_ah"] = imp * 1000 / nominalVolts
	for i := range e.phases {
		s := e.share[i]
		v[phaseImport[i]], v[phaseExport[i]], v[phaseTotal[i]] = imp*s, 0, imp*s
		v[phaseRImport[i]], v[phaseRExport[i]], v[phaseRTotal[i]] = ri*s, re*s, (ri+re)*s
	}
}
