package wire

import (
	"encoding/json"
	"fmt"
	"regexp"

	"github.com/shopspring/decimal"

	"github.com/esep-kz/esep/internal/reading"
)

// valueJSON is one reading.Value on the wire:
//
//	{"quantity":"voltage_v","number":"230.10","unit":"V","quality":"good"}
//
// number is a decimal string at the value's resolution; it is there for
// the qualities good and clock_unsynced and absent for error and
// out_of_range, which carry no usable number. unit is the vocabulary's
// unit of the quantity, "" for a power factor.
type valueJSON struct {
	Quantity reading.Quantity `json:"quantity"`
	Number   *string          `json:"number,omitempty"`
	Unit     *string          `json:"unit"`
	Quality  reading.Quality  `json:"quality"`
}

// numberRE is a plain decimal: no exponent, no sign but '-', no leading
// zeros, at most 12 places (the finest resolution a profile may keep).
// NaN and Inf have no spelling in it.
var numberRE = regexp.MustCompile(`^-?(0|[1-9][0-9]{0,26})(\.[0-9]{1,12})?$`)

// qualities are the value qualities the wire knows, with whether a value
// of that quality carries a number.
var qualities = map[reading.Quality]bool{
	reading.Good:          true,
	reading.ClockUnsynced: true,
	reading.Error:         false,
	reading.OutOfRange:    false,
}

// encodeValues turns values into their wire form, checking what the
// centre would refuse; path names the list in errors.
func encodeValues(path string, vs []reading.Value) ([]valueJSON, error) {
	out := make([]valueJSON, 0, len(vs))
	seen := make(map[reading.Quantity]bool, len(vs))
	for i, v := range vs {
		field := fmt.Sprintf("%s[%d]", path, i)
		if seen[v.Quantity] {
			return nil, invalid(field+".quantity", "%q appears twice", v.Quantity)
		}
		seen[v.Quantity] = true
		j, err := encodeValue(field, v)
		if err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	return out, nil
}

func encodeValue(field string, v reading.Value) (valueJSON, error) {
	if v.Quality == "" {
		v.Quality = reading.Good // the zero Quality is Good
	}
	j := valueJSON{Quantity: v.Quantity, Unit: &v.Unit, Quality: v.Quality}
	if err := checkQuantity(field, v.Quantity, v.Unit, v.Quality); err != nil {
		return valueJSON{}, err
	}
	if qualities[v.Quality] {
		n := v.Number.StringFixed(max(v.Places, 0))
		if !numberRE.MatchString(n) {
			return valueJSON{}, invalid(field+".number", "%q does not fit the wire", n)
		}
		j.Number = &n
	}
	return j, nil
}

// checkQuantity checks a value's quantity against the vocabulary, its
// unit against the quantity's, and its quality against the known ones.
func checkQuantity(field string, q reading.Quantity, unit string, ql reading.Quality) error {
	spec, err := reading.Lookup(q)
	if err != nil {
		return invalid(field+".quantity", "%v", err)
	}
	if unit != spec.Unit {
		return invalid(field+".unit", "%q is not the unit of %s, %q", unit, q, spec.Unit)
	}
	if _, ok := qualities[ql]; !ok {
		return invalid(field+".quality", "%q is not one of good, clock_unsynced, "+
			"error, out_of_range", ql)
	}
	return nil
}

// decodeValues reads a list of values; path names the list in errors.
func decodeValues(path string, raw []json.RawMessage) ([]reading.Value, error) {
	out := make([]reading.Value, 0, len(raw))
	seen := make(map[reading.Quantity]bool, len(raw))
	for i, r := range raw {
		field := fmt.Sprintf("%s[%d]", path, i)
		v, err := decodeValue(field, r)
		if err != nil {
			return nil, err
		}
		if seen[v.Quantity] {
			return nil, invalid(field+".quantity", "%q appears twice", v.Quantity)
		}
		seen[v.Quantity] = true
		out = append(out, v)
	}
	return out, nil
}

func decodeValue(field string, raw json.RawMessage) (reading.Value, error) {
	var j valueJSON
	if err := decodeStrict(raw, &j); err != nil {
		return reading.Value{}, within(field, err)
	}
	if j.Quantity == "" {
		return reading.Value{}, invalid(field+".quantity", "missing")
	}
	if j.Unit == nil {
		return reading.Value{}, invalid(field+".unit", "missing")
	}
	if j.Quality == "" {
		return reading.Value{}, invalid(field+".quality", "missing")
	}
	if err := checkQuantity(field, j.Quantity, *j.Unit, j.Quality); err != nil {
		return reading.Value{}, err
	}
	v := reading.Value{Quantity: j.Quantity, Unit: *j.Unit, Quality: j.Quality}
	return v, decodeNumber(field+".number", j.Number, &v)
}

// decodeNumber sets v's number and places from s, which must be there
// exactly when v's quality carries a number.
func decodeNumber(field string, s *string, v *reading.Value) error {
	switch {
	case s == nil && qualities[v.Quality]:
		return invalid(field, "missing for quality %s", v.Quality)
	case s == nil:
		return nil
	case !qualities[v.Quality]:
		return invalid(field, "must be absent for quality %s", v.Quality)
	case !numberRE.MatchString(*s):
		return invalid(field, "%q is not a plain decimal number", *s)
	}
	n, err := decimal.NewFromString(*s)
	if err != nil {
		return invalid(field, "%q is not a decimal: %v", *s, err)
	}
	v.Number, v.Places = n, max(0, -n.Exponent())
	return nil
}
