// Package reading defines what a meter reading is, everywhere in esep:
// the controlled vocabulary of quantities with their units, the quality
// flags, and one poll of one meter. The agent produces readings, the wire
// carries them and the centre stores them, all in these terms.
package reading

import (
	"fmt"
	"sort"
	"strings"

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

// Lookup returns the vocabulary entry of q, or an error listing the
// accepted names.
func Lookup(q Quantity) (Spec, error) {
	s, ok := Quantities[q]
	if !ok {
		return Spec{}, fmt.Errorf("quantity %q is not in the vocabulary%s", q, suggest(q))
	}
	return s, nil
}

// suggest names up to five vocabulary entries that share the longest
// leading words with q, so a typo gets a hint instead of a list of a
// hundred names.
func suggest(q Quantity) string {
	words := strings.Split(string(q), "_")
	for n := len(words); n > 0; n-- {
		prefix := strings.Join(words[:n], "_")
		var near []string
		for _, name := range Names() {
			if strings.HasPrefix(name, prefix) {
				near = append(near, name)
			}
		}
		if len(near) > 0 {
			if len(near) > 5 {
				near = append(near[:5], "...")
			}
			return " (did you mean " + strings.Join(near, ", ") + "?)"
		}
	}
	return " (see docs/profiles.md for the list)"
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
