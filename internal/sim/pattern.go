package sim

import (
	"math"
	"time"
)

// tick is the step of a simulated load: what a meter draws holds for a
// tick, then the next draw comes. Ten seconds is close to how often a
// flat's appliances switch, and at a day a minute still a few
// milliseconds of wall time.
const tick = 10 * time.Second

// localZone is the time of day of the simulated buildings' habits.
// Kazakhstan keeps one zone, UTC+5, since 1 March 2024.
var localZone = time.FixedZone("UTC+5", 5*60*60)

// tickOf returns the number of the tick that holds t, counted from the
// Unix epoch, so that every meter with the same seed draws the same load
// at the same time whenever it was started.
func tickOf(t time.Time) int64 {
	return floorDiv(t.UnixNano(), int64(tick))
}

// tickStart returns when tick k begins.
func tickStart(k int64) time.Time { return time.Unix(0, k*int64(tick)) }

// dayOf returns the number of the local day that holds t.
func dayOf(t time.Time) int64 {
	_, offset := t.In(localZone).Zone()
	return floorDiv(t.Unix()+int64(offset), 24*60*60)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// noise draws numbers that depend only on a seed and the point they are
// drawn for, never on how often or in which order they are drawn: the
// same seed gives the same meter at the same simulated time.
type noise struct{ seed uint64 }

// Channels of draws, so that the draws of one tick for different
// quantities are independent. A channel per phase adds the phase index.
const (
	chLoad    uint64 = 1
	chDay     uint64 = 2
	chPF      uint64 = 3
	chFreq    uint64 = 4
	chSerial  uint64 = 5
	chIndex   uint64 = 6
	chFlow    uint64 = 7
	chMeter   uint64 = 8  // + parameter: a meter's own size and balance
	chVolt    uint64 = 10 // + phase
	chShare   uint64 = 20 // + phase
	chTHDV    uint64 = 30 // + phase
	chTHDI    uint64 = 40 // + phase
	chTemp    uint64 = 50 // + 0 supply, 1 difference
	chWeather uint64 = 60 // + 0, 1 for two weather periods
)

// at returns a number in [-1, 1) for point k of channel ch.
func (n noise) at(k int64, ch uint64) float64 { return 2*n.unit(k, ch) - 1 }

// unit returns a number in [0, 1) for point k of channel ch.
func (n noise) unit(k int64, ch uint64) float64 {
	return float64(n.bits(k, ch)>>11) / (1 << 53)
}

// bits mixes seed, point and channel with the splitmix64 finalizer.
func (n noise) bits(k int64, ch uint64) uint64 {
	z := mix64(n.seed ^ mix64(uint64(k)) ^ mix64(ch*0x9E3779B97F4A7C15))
	return mix64(z)
}

func mix64(z uint64) uint64 {
	z += 0x9E3779B97F4A7C15
	z = (z ^ z>>30) * 0xBF58476D1CE4E5B9
	z = (z ^ z>>27) * 0x94D049BB133111EB
	return z ^ z>>31
}

// shape is a daily pattern: a level for each local hour, taken at the
// middle of the hour and joined by straight lines. newShape scales the
// levels to a mean of 1, so that a shape times a mean rate keeps the
// rate's daily total.
type shape [24]float64

func newShape(levels [24]float64) shape {
	var sum float64
	for _, l := range levels {
		sum += l
	}
	s := shape(levels)
	for i := range s {
		s[i] *= 24 / sum
	}
	return s
}

// at returns the level at t.
func (s *shape) at(t time.Time) float64 {
	lt := t.In(localZone)
	h := float64(lt.Hour()) + float64(lt.Minute())/60 + float64(lt.Second())/3600 - 0.5
	i := math.Floor(h)
	f := h - i
	a, b := s[(int(i)+24)%24], s[(int(i)+1)%24]
	return a + (b-a)*f
}

// peak returns the highest level of the day.
func (s *shape) peak() float64 {
	top := s[0]
	for _, l := range s {
		top = max(top, l)
	}
	return top
}

// Daily patterns. A flat's electricity is low at night, rises for
// breakfast and peaks in the evening, when everyone is home with lights,
// cooking and television; water peaks at morning and evening washing;
// gas follows cooking.
var (
	flatElectricity = newShape([24]float64{
		0.45, 0.40, 0.38, 0.37, 0.37, 0.40, 0.60, 1.00, 1.10, 0.80, 0.70, 0.70,
		0.75, 0.75, 0.70, 0.70, 0.80, 1.10, 1.60, 1.90, 2.00, 1.80, 1.30, 0.80})
	buildingWater = newShape([24]float64{
		0.15, 0.10, 0.08, 0.08, 0.10, 0.30, 1.20, 2.20, 2.00, 1.20, 0.90, 0.80,
		0.90, 0.90, 0.80, 0.80, 0.90, 1.20, 1.60, 2.00, 2.10, 1.80, 1.10, 0.40})
	flatGas = newShape([24]float64{
		0.05, 0.05, 0.05, 0.05, 0.05, 0.10, 0.60, 1.60, 1.40, 0.60, 0.50, 0.80,
		1.50, 1.20, 0.60, 0.50, 0.60, 1.20, 2.40, 2.60, 1.80, 1.00, 0.40, 0.10})
)
