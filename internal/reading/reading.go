package reading

import (
	"fmt"
	"time"

	"github.com/shopspring/decimal"
)

// Quality says how far a value can be trusted. The zero value is Good.
type Quality string

// Quality flags set at the edge; the centre adds its own validation flags.
const (
	Good Quality = "good"
	// Error marks a value that could not be read or decoded; it carries
	// no number and is kept so that the gap is visible, not silent.
	Error Quality = "error"
	// OutOfRange marks a decoded value outside its quantity's physical
	// range; its number is dropped for the same reason.
	OutOfRange Quality = "out_of_range"
	// ClockUnsynced marks a value stamped by a clock known to be wrong.
	ClockUnsynced Quality = "clock_unsynced"
)

// Value is one quantity of one poll. Number is exact at the profile's
// resolution (12345.678 stays 12345.678, never 12345.677999).
type Value struct {
	Quantity Quantity
	Number   decimal.Decimal
	Unit     string
	Quality  Quality
	// Places is the resolution in decimal places that Number is kept at.
	Places int32
}

// HasNumber reports whether the value carries a usable number.
func (v Value) HasNumber() bool {
	return v.Quality == Good || v.Quality == ClockUnsynced
}

// String formats the value at its resolution with its unit.
func (v Value) String() string {
	if !v.HasNumber() {
		return fmt.Sprintf("%s: (%s)", v.Quantity, v.Quality)
	}
	return fmt.Sprintf("%s: %s %s", v.Quantity, v.Number.StringFixed(v.Places), v.Unit)
}

// Reading is one poll of one meter.
type Reading struct {
	Meter  string    // meter ID (metering point) as configured at the agent
	Serial string    // serial number read from the meter, when its profile names it
	Time   time.Time // when the poll completed, UTC
	Values []Value
}

// NewValue checks number against q's vocabulary entry and returns the
// value at the given resolution, flagged OutOfRange when it is not
// physically possible.
func NewValue(q Quantity, number decimal.Decimal, places int32) (Value, error) {
	s, err := Lookup(q)
	if err != nil {
		return Value{}, err
	}
	v := Value{Quantity: q, Unit: s.Unit, Places: places, Quality: Good}
	if number.LessThan(s.Min) || number.GreaterThan(s.Max) {
		v.Quality = OutOfRange
		return v, nil
	}
	v.Number = number.Round(places)
	return v, nil
}
