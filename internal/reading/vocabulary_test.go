package reading

import (
	"regexp"
	"strings"
	"testing"
)

// dimensionless are the quantities that have no unit, and so no unit
// suffix in their name.
var dimensionless = map[Quantity]bool{
	"power_factor": true, "power_factor_l1": true, "power_factor_l2": true,
	"power_factor_l3": true,
}

// unitSuffix is how a name spells its unit at its end.
var unitSuffix = map[string]string{
	"V": "v", "A": "a", "Hz": "hz", "W": "w", "kW": "kw", "VA": "va", "var": "var",
	"°": "deg", "%": "pct", "kWh": "kwh", "kvarh": "kvarh", "kVAh": "kvah", "Ah": "ah",
	"Gcal": "gcal", "°C": "c", "K": "k", "m3": "m3", "m3/h": "m3h", "bar": "bar", "h": "h",
}

func TestVocabularySpecs(t *testing.T) {
	for _, name := range Names() {
		q := Quantity(name)
		s := Quantities[q]
		if s.Unit == "" && !dimensionless[q] {
			t.Errorf("%s has no unit", q)
		}
		if s.Unit != "" && dimensionless[q] {
			t.Errorf("%s is listed as dimensionless but has unit %q", q, s.Unit)
		}
		if !s.Min.LessThan(s.Max) {
			t.Errorf("%s: range %s to %s is empty", q, s.Min, s.Max)
		}
		if s.Kind == Cumulative && s.Min.IsNegative() {
			t.Errorf("%s: an index never goes below 0, but its range starts at %s", q, s.Min)
		}
	}
}

var quantityNameRE = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)

func TestVocabularyNames(t *testing.T) {
	for _, name := range Names() {
		q := Quantity(name)
		if !quantityNameRE.MatchString(name) {
			t.Errorf("%q is not lower snake case", name)
		}
		unit := Quantities[q].Unit
		if dimensionless[q] {
			for u, suffix := range unitSuffix {
				if strings.HasSuffix(name, "_"+suffix) {
					t.Errorf("%s has no unit but ends in _%s, the suffix of %s", q, suffix, u)
				}
			}
			continue
		}
		suffix, ok := unitSuffix[unit]
		switch {
		case !ok:
			t.Errorf("%s: unit %q has no name suffix; add one to unitSuffix", q, unit)
		case !strings.HasSuffix(name, "_"+suffix):
			t.Errorf("%s is measured in %s, so its name must end in _%s", q, unit, suffix)
		}
	}
}

func TestLookup(t *testing.T) {
	s, err := Lookup("energy_active_total_kwh")
	if err != nil || s.Unit != "kWh" || s.Kind != Cumulative {
		t.Errorf("Lookup(energy_active_total_kwh) = %+v, %v; want a kWh index", s, err)
	}
	if _, err := Lookup("volts"); err == nil || !strings.Contains(err.Error(), `"volts"`) {
		t.Errorf("Lookup(volts) = %v, want an error naming it", err)
	}
}

func TestLookupSuggests(t *testing.T) {
	tests := []struct {
		q    Quantity
		want string
	}{
		{"voltage_l1", "did you mean voltage_l1_l2_v, voltage_l1_v?"},
		{"temp_supply_k", "temp_supply_c"},
		{"heat_kwh", "heat_energy_kwh"},
		{"zzz", "see docs/profiles.md"},
	}
	for _, tt := range tests {
		t.Run(string(tt.q), func(t *testing.T) {
			_, err := Lookup(tt.q)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Lookup(%q) = %v, want it to contain %q", tt.q, err, tt.want)
			}
			if len(err.Error()) > 200 {
				t.Errorf("error is %d characters long", len(err.Error()))
			}
		})
	}
}
