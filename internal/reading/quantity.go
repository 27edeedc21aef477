// Package reading defines what a meter reading is, everywhere in esep:
// the controlled vocabulary of quantities with their units, the quality
// flags, and one poll of one meter. The agent produces readings, the wire
// carries them and the centre stores them, all in these terms.
package reading

import (
	"fmt"
	"sort"

	"github.com/shopspring/decimal"
)

// Quantity names what a value measures, from a controlled vocabulary: a
// profile may only use names listed in Quantities, so that the centre
// can consolidate the same thing the same way whatever the meter model.
type Quantity string

// Kind tells whether a quantity is an index that only grows (and is
// consolidated by difference) or an instantaneous value.
type Kind int

// Kinds of quantity.
const (
	Instantaneous Kind = iota // power, flow, temperature, voltage: sampled
	Cumulative                // energy, volume, heat: an index that grows
)

// Spec is what the vocabulary knows of a quantity.
type Spec struct {
	Unit string
	Kind Kind
	// Min and Max bound what the quantity can physically be at a building
	// meter; a decoded value outside is refused rather than stored, since
	// it almost always means a wrong register, type or word order.
	Min, Max decimal.Decimal
}

func spec(unit string, kind Kind, min, max string) Spec {
	return Spec{
		Unit: unit,
		Kind: kind,
		Min:  decimal.RequireFromString(min),
		Max:  decimal.RequireFromString(max),
	}
}

// Quantities is the controlled vocabulary. Ranges are generous on purpose:
// they catch decoding faults (a float read as an integer, a word order
// swapped), not unusual but real consumption; validation rules at the
// centre judge plausibility.
var Quantities = map[Quantity]Spec{
	"energy_active_import_kwh":     spec("kWh", Cumulative, "0", "1e10"),
	"energy_active_export_kwh":     spec("kWh", Cumulative, "0", "1e10"),
	"energy_reactive_import_kvarh": spec("kvarh", Cumulative, "0", "1e10"),
	"energy_reactive_export_kvarh": spec("kvarh", Cumulative, "0", "1e10"),
	"volume_m3":                    spec("m3", Cumulative, "0", "1e9"),
	"volume_supply_m3":             spec("m3", Cumulative, "0", "1e9"),
	"volume_return_m3":             spec("m3", Cumulative, "0", "1e9"),
	"heat_gcal":                    spec("Gcal", Cumulative, "0", "1e8"),
	"heat_energy_kwh":              spec("kWh", Cumulative, "0", "1e11"),
	"operating_hours_h":            spec("h", Cumulative, "0", "1e7"),
	"flow_m3h":                     spec("m3/h", Instantaneous, "-1e5", "1e5"),
	"temp_supply_c":                spec("°C", Instantaneous, "-60", "200"),
	"temp_return_c":                spec("°C", Instantaneous, "-60", "200"),
	"temp_diff_k":                  spec("K", Instantaneous, "-200", "200"),
	"power_w":                      spec("W", Instantaneous, "-1e8", "1e8"),
	"power_reactive_var":           spec("var", Instantaneous, "-1e8", "1e8"),
	"power_apparent_va":            spec("VA", Instantaneous, "0", "1e8"),
	"heat_power_kw":                spec("kW", Instantaneous, "-1e6", "1e6"),
	"voltage_v":                    spec("V", Instantaneous, "0", "1e6"),
	"voltage_l1_v":                 spec("V", Instantaneous, "0", "1e6"),
	"voltage_l2_v":                 spec("V", Instantaneous, "0", "1e6"),
	"voltage_l3_v":                 spec("V", Instantaneous, "0", "1e6"),
	"current_a":                    spec("A", Instantaneous, "-1e5", "1e5"),
	"current_l1_a":                 spec("A", Instantaneous, "-1e5", "1e5"),
	"current_l2_a":                 spec("A", Instantaneous, "-1e5", "1e5"),
	"current_l3_a":                 spec("A", Instantaneous, "-1e5", "1e5"),
	"power_l1_w":                   spec("W", Instantaneous, "-1e8", "1e8"),
	"power_l2_w":                   spec("W", Instantaneous, "-1e8", "1e8"),
	"power_l3_w":                   spec("W", Instantaneous, "-1e8", "1e8"),
	"power_factor":                 spec("", Instantaneous, "-1", "1"),
	"frequency_hz":                 spec("Hz", Instantaneous, "0", "500"),
	"pressure_bar":                 spec("bar", Instantaneous, "-1", "100"),
}

// Lookup returns the vocabulary entry of q, or an error listing the
// accepted names.
func Lookup(q Quantity) (Spec, error) {
	s, ok := Quantities[q]
	if !ok {
		return Spec{}, fmt.Errorf("quantity %q is not in the vocabulary (%v)", q, Names())
	}
	return s, nil
}

// Names returns the vocabulary's quantity names, sorted.
func Names() []string {
	names := make([]string, 0, len(Quantities))
	for q := range Quantities {
		names = append(names, string(q))
	}
	sort.Strings(names)
	return names
}
