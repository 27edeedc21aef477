package sim

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/esep-kz/esep/drivers/modbus"
	"github.com/esep-kz/esep/internal/config"
	"github.com/esep-kz/esep/internal/reading"
)

// UnitConfig is a simulated meter, or a range of slave ids with a meter
// of one profile each.
type UnitConfig struct {
	// Slave is a slave id, or a list of ids and ranges: "1-32", "1,3,7-9".
	Slave string `yaml:"slave"`

	// Profile names the meter profile, as esep-sim profiles lists them.
	Profile string `yaml:"profile"`

	// Seed makes the meter. It is mixed with the bus name and the slave
	// id, so every meter of a range, and of each bus, is another.
	Seed uint64 `yaml:"seed"`

	// Serial is the serial number of a single unit; empty draws one.
	Serial string `yaml:"serial"`

	// Index is the main index at start; empty draws one. See MeterConfig.
	Index *float64 `yaml:"index"`

	// SwapAt swaps the meter this much simulated time after the start.
	SwapAt time.Duration `yaml:"swap_at"`

	// SwapOnSignal swaps the meter each time esep-sim gets SIGUSR1.
	SwapOnSignal bool `yaml:"swap_on_signal"`

	// Rollover starts the main index just below its register's rollover.
	Rollover bool `yaml:"rollover"`

	// Strict refuses the undocumented registers between named ones.
	Strict bool `yaml:"strict"`

	// Faults are the ways the meters misbehave.
	Faults FaultsConfig `yaml:"faults"`

	slaves []byte // Slave, parsed by validate
}

// Slaves returns the slave ids of the unit, as checked by Validate.
func (u *UnitConfig) Slaves() []byte { return u.slaves }

// FaultsConfig is Faults as written in a file; see Faults for each key.
type FaultsConfig struct {
	Dead            bool              `yaml:"dead"`
	SilentRate      float64           `yaml:"silent_rate"`
	SilentEvery     int               `yaml:"silent_every"`
	Exceptions      []ExceptionConfig `yaml:"exceptions"`
	Refused         []RangeConfig     `yaml:"refused"`
	CorruptCRCRate  float64           `yaml:"corrupt_crc_rate"`
	CorruptCRCEvery int               `yaml:"corrupt_crc_every"`
	Latency         []time.Duration   `yaml:"latency"`
	Chunks          []int             `yaml:"chunks"`
	ChunkGap        time.Duration     `yaml:"chunk_gap"`
	ForeignUnit     int               `yaml:"foreign_unit"`
	StaleTID        bool              `yaml:"stale_tid"`
}

// RangeConfig is Range as written in a file.
type RangeConfig struct {
	Functions []int `yaml:"functions"`
	Start     int   `yaml:"start"`
	Count     int   `yaml:"count"`
}

// ExceptionConfig is ExceptionRule as written in a file.
type ExceptionConfig struct {
	RangeConfig `yaml:",inline"`
	Code        int `yaml:"code"`
	Every       int `yaml:"every"`
}

func (u *UnitConfig) validate(ch *config.Checker, path, transport string,
	taken map[byte]string, profiles modbus.Profiles) {
	slaves, err := parseSlaves(u.Slave)
	if err != nil {
		ch.Errorf(path+".slave", "%v", err)
	}
	for _, s := range slaves {
		if other, dup := taken[s]; dup {
			ch.Errorf(path+".slave", "slave %d is already simulated by %s", s, other)
			break
		}
		taken[s] = path
	}
	u.slaves = slaves

	if u.Serial != "" && len(slaves) > 1 {
		ch.Errorf(path+".serial", "%d slaves cannot share one serial: leave it out and "+
			"each draws its own", len(slaves))
	}
	if u.SwapAt < 0 {
		ch.Errorf(path+".swap_at", "%s is negative: it is simulated time after the start", u.SwapAt)
	}
	if p, ok := profiles[u.Profile]; ok {
		u.validateMeter(ch, path, p)
	} else {
		ch.Errorf(path+".profile", "no profile is named %q (known: %s)", u.Profile,
			knownProfiles(profiles))
	}
	u.Faults.validate(ch, path+".faults", transport, slaves)
}

// validateMeter checks what the unit asks of its profile's registers.
func (u *UnitConfig) validateMeter(ch *config.Checker, path string, p *modbus.Profile) {
	if u.Serial != "" {
		if err := checkSerial(p, u.Serial); err != nil {
			ch.Errorf(path+".serial", "%v", err)
		}
	}
	if u.Rollover {
		if _, err := rolloverTop(p); err != nil {
			ch.Errorf(path+".rollover", "%v", err)
		}
		if u.Index != nil {
			ch.Errorf(path+".index", "rollover sets the index, just below the rollover")
		}
	}
	if u.Index == nil {
		return
	}
	q := MainQuantity(p.Kind)
	spec, err := reading.Lookup(q)
	if err == nil && (*u.Index < 0 || spec.Max.InexactFloat64() < *u.Index) {
		ch.Errorf(path+".index", "%v is outside 0..%s, what %s can be", *u.Index, spec.Max, q)
	}
}

// parseSlaves reads "5", "1-32" or "1,3,7-9" into slave ids.
func parseSlaves(s string) ([]byte, error) {
	var out []byte
	for part := range strings.SplitSeq(s, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		if !isRange {
			hi = lo
		}
		a, errA := strconv.Atoi(strings.TrimSpace(lo))
		b, errB := strconv.Atoi(strings.TrimSpace(hi))
		if errA != nil || errB != nil || a > b {
			return nil, fmt.Errorf("%q is not a slave id, a range such as 1-32 or a list "+
				"such as 1,3,7-9", s)
		}
		if a < 1 || b > maxUnit {
			return nil, fmt.Errorf("%q is outside 1..%d", part, maxUnit)
		}
		for id := a; id <= b; id++ {
			if !slices.Contains(out, byte(id)) {
				out = append(out, byte(id))
			}
		}
	}
	return out, nil
}

// functionCodes are the codes the engine serves, which a range may name.
var functionCodes = []int{1, 2, 3, 4, 5, 6, 15, 16}

func (f *FaultsConfig) validate(ch *config.Checker, path, transport string, slaves []byte) {
	rates := map[string]float64{"silent_rate": f.SilentRate, "corrupt_crc_rate": f.CorruptCRCRate}
	for key, rate := range rates {
		if rate < 0 || rate > 1 {
			ch.Errorf(path+"."+key, "%v is not a probability in 0..1", rate)
		}
	}
	for key, every := range map[string]int{"silent_every": f.SilentEvery,
		"corrupt_crc_every": f.CorruptCRCEvery} {
		if every < 0 {
			ch.Errorf(path+"."+key, "%d is negative; 0 turns it off", every)
		}
	}
	if transport == TransportTCP && (f.CorruptCRCRate > 0 || f.CorruptCRCEvery > 0) {
		ch.Errorf(path+".corrupt_crc_rate", "Modbus TCP carries no CRC; use it on an rtu bus")
	}
	for i, e := range f.Exceptions {
		epath := fmt.Sprintf("%s.exceptions[%d]", path, i)
		if e.Code < 1 || e.Code > 11 {
			ch.Errorf(epath+".code", "%d is not an exception code 1..11", e.Code)
		}
		if e.Every < 0 {
			ch.Errorf(epath+".every", "%d is negative; 0 answers every matching request", e.Every)
		}
		e.RangeConfig.validate(ch, epath)
	}
	for i, r := range f.Refused {
		r.validate(ch, fmt.Sprintf("%s.refused[%d]", path, i))
	}
	f.validateTiming(ch, path)
	if f.ForeignUnit != 0 && (f.ForeignUnit < 1 || f.ForeignUnit > maxUnit ||
		slices.Contains(slaves, byte(f.ForeignUnit))) {
		ch.Errorf(path+".foreign_unit", "%d is not another slave id in 1..%d", f.ForeignUnit,
			maxUnit)
	}
}

func (f *FaultsConfig) validateTiming(ch *config.Checker, path string) {
	for i, d := range f.Latency {
		if d < 0 || d > maxTurnaround {
			ch.Errorf(fmt.Sprintf("%s.latency[%d]", path, i), "%s is outside 0..%s", d,
				maxTurnaround)
		}
	}
	for i, n := range f.Chunks {
		if n <= 0 {
			ch.Errorf(fmt.Sprintf("%s.chunks[%d]", path, i), "%d is not a positive size", n)
		}
	}
	if f.ChunkGap < 0 || f.ChunkGap > maxTurnaround {
		ch.Errorf(path+".chunk_gap", "%s is outside 0..%s", f.ChunkGap, maxTurnaround)
	}
}

func (r RangeConfig) validate(ch *config.Checker, path string) {
	for i, fn := range r.Functions {
		if !slices.Contains(functionCodes, fn) {
			ch.Errorf(fmt.Sprintf("%s.functions[%d]", path, i), "%d is not one of %v", fn,
				functionCodes)
		}
	}
	if r.Start < 0 || r.Start > 0xFFFF {
		ch.Errorf(path+".start", "%d is not a wire address 0..65535", r.Start)
	}
	if r.Count < 0 || r.Start+r.Count > 0x10000 {
		ch.Errorf(path+".count", "%d from %d runs past address 65535 (0 matches every "+
			"address)", r.Count, r.Start)
	}
}

// faults returns the Faults the configuration describes, their draws
// seeded with seed.
func (f *FaultsConfig) faults(seed uint64) Faults {
	out := Faults{
		Dead: f.Dead, SilentRate: f.SilentRate, SilentEvery: f.SilentEvery,
		CorruptCRCRate: f.CorruptCRCRate, CorruptCRCEvery: f.CorruptCRCEvery,
		Latency: f.Latency, Chunks: f.Chunks, ChunkGap: f.ChunkGap,
		ForeignUnit: byte(f.ForeignUnit), StaleTID: f.StaleTID, Seed: seed,
	}
	for _, e := range f.Exceptions {
		out.Exceptions = append(out.Exceptions, ExceptionRule{Range: e.RangeConfig.rng(),
			Code: Exception(e.Code), Every: e.Every})
	}
	for _, r := range f.Refused {
		out.Refused = append(out.Refused, r.rng())
	}
	return out
}

func (r RangeConfig) rng() Range {
	out := Range{Start: uint16(r.Start), Count: uint16(min(r.Count, 0xFFFF))}
	for _, fn := range r.Functions {
		out.Functions = append(out.Functions, Function(fn))
	}
	return out
}
