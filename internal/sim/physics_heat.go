package sim

import (
	"math"
	"time"
)

// flowMeter is a water or gas meter: a volume that grows with a flow
// following a daily pattern.
type flowMeter struct {
	noise
	pattern *shape
	mean    float64 // m³/h over a day
}

func (f *flowMeter) meanRate() float64              { return f.mean }
func (f *flowMeter) initial(main float64) []float64 { return []float64{main} }

// flow returns the m³/h of tick k: water taps open and close, so the
// draw of a tick spreads widely around the pattern.
func (f *flowMeter) flow(k int64) float64 {
	t := tickStart(k)
	return f.mean * f.pattern.at(t) * dayFactor(f.noise, t) * (1 + 0.3*f.at(k, chFlow))
}

func (f *flowMeter) rates(k int64) []float64 { return []float64{f.flow(k)} }

// fill sets the flow, the volume and the pressure, which drops a little
// as the flow rises.
func (f *flowMeter) fill(v values, k int64, idx []float64) {
	flow := f.flow(k)
	v["flow_m3h"], v["volume_m3"] = flow, idx[0]
	v["pressure_bar"] = 3.6 - 0.4*flow/(f.mean*f.pattern.peak()) + 0.05*f.at(k, chTemp)
}

// waterHeat is the volumetric heat capacity of heating water, 1.163
// kWh/(m³·K) (4.187 kJ/(kg·K) at 1000 kg/m³), the constant of the heat
// meter equation Q = V·ΔT·c of EN 1434-1 taken at constant density.
const waterHeat = 1.163

// kWhPerGcal converts heat: 1 Gcal = 4.1868 GJ = 1163 kWh.
const kWhPerGcal = 1163

// heat is a building's heating inlet: a steady flow whose supply
// temperature and temperature difference follow the outdoor temperature
// along a heating curve, so that the power rises as it gets colder.
type heat struct {
	noise
	flow  float64    // m³/h
	phase [2]float64 // of the two weather periods
}

func newHeat(n noise) *heat {
	return &heat{noise: n,
		// 2.5 to 6 m³/h: a building of 40 to 100 flats.
		flow:  2.5 + 3.5*n.unit(0, chMeter),
		phase: [2]float64{2 * math.Pi * n.unit(1, chMeter), 2 * math.Pi * n.unit(2, chMeter)},
	}
}

// meanRate is the power at the mean temperature difference.
func (h *heat) meanRate() float64 { return h.flow * h.deltaT(-8) * waterHeat }

// initial gives the volume that carried the heat at the mean difference.
func (h *heat) initial(main float64) []float64 {
	return []float64{main, main / (h.deltaT(-8) * waterHeat)}
}

// outdoor is the outdoor temperature at t: a winter mean of −8 °C with
// weather passing over days and a daily swing, warmest at 15:00.
func (h *heat) outdoor(t time.Time) float64 {
	days := float64(t.Unix()) / (24 * 60 * 60)
	lt := t.In(localZone)
	hour := float64(lt.Hour()) + float64(lt.Minute())/60
	return -8 + 6*math.Sin(2*math.Pi*days/9.3+h.phase[0]) +
		3*math.Sin(2*math.Pi*days/3.7+h.phase[1]) + 4*math.Cos(2*math.Pi*(hour-15)/24)
}

// Heating curve of a dependent connection: supply temperature and the
// difference both rise as it gets colder outside.
func (h *heat) supply(outdoor float64) float64 { return 62 - 0.9*outdoor }
func (h *heat) deltaT(outdoor float64) float64 { return 10 + 0.4*(18-outdoor) }

// heatTick is what the inlet shows during one tick.
type heatTick struct{ flow, supply, deltaT, kw float64 }

func (h *heat) draw(k int64) heatTick {
	out := h.outdoor(tickStart(k))
	var s heatTick
	s.flow = h.flow * (1 + 0.03*h.at(k, chFlow))
	s.supply = h.supply(out) + 0.3*h.at(k, chTemp)
	s.deltaT = h.deltaT(out) + 0.2*h.at(k, chTemp+1)
	s.kw = s.flow * s.deltaT * waterHeat
	return s
}

func (h *heat) rates(k int64) []float64 {
	s := h.draw(k)
	return []float64{s.kw, s.flow}
}

func (h *heat) fill(v values, k int64, idx []float64) {
	s := h.draw(k)
	v["flow_m3h"], v["heat_power_kw"] = s.flow, s.kw
	v["temp_supply_c"], v["temp_return_c"] = s.supply, s.supply-s.deltaT
	v["temp_diff_k"] = s.deltaT
	v["heat_energy_kwh"], v["heat_gcal"] = idx[0], idx[0]/kWhPerGcal
	v["volume_m3"], v["volume_supply_m3"], v["volume_return_m3"] = idx[1], idx[1], idx[1]
	v["pressure_bar"] = 6 + 0.1*h.at(k, chTemp+2)
}
