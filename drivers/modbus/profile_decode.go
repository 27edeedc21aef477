package modbus

import (
	"errors"
	"fmt"

	"github.com/shopspring/decimal"

	"github.com/esep-kz/esep/internal/reading"
)

// Words returns count words of the table with function code fn from wire
// address addr on, as one poll read them, or why it could not. For coils
// and discrete inputs each word is one bit, 0 or 1.
type Words func(fn byte, addr, count uint16) ([]uint16, error)

// PlanWords returns the Words of one read cycle of a DevicePlan: needs as
// given to NewDevicePlan and the results its Read returned.
func PlanWords(needs []Need, results []NeedResult) Words {
	got := make(map[Need]NeedResult, len(needs))
	for i, n := range needs {
		if i < len(results) {
			n.Name = ""
			got[n] = results[i]
		}
	}
	return func(fn byte, addr, count uint16) ([]uint16, error) {
		r, ok := got[Need{Func: fn, Addr: addr, Count: count}]
		switch {
		case !ok:
			return nil, ErrNotRead
		case r.Err != nil:
			return nil, r.Err
		}
		return r.Words, nil
	}
}

// Decoded is what one poll of a meter says, decoded with its profile.
type Decoded struct {
	// Values has one value per point of the profile, in profile order. A
	// value that could not be read or decoded has quality Error and no
	// number; one outside its quantity's range has quality OutOfRange.
	Values []reading.Value
	// Serial, Model and Firmware are the identity fields, empty when the
	// profile names none or they could not be read.
	Serial, Model, Firmware string
}

// Decode decodes one poll with the profile. Every point gets a value,
// flagged when it has no number; the error joins what went wrong with
// each point, for the log, and is nil when everything decoded.
func (p *Profile) Decode(words Words) (Decoded, error) {
	var d Decoded
	var errs []error
	for i := range p.Values {
		v, err := p.decodePoint(&p.Values[i], words)
		d.Values = append(d.Values, v)
		if err != nil {
			errs = append(errs, err)
		}
	}
	for _, f := range p.Identity.fields(&d) {
		if f.reg == nil {
			continue
		}
		s, err := f.reg.text(words)
		if err != nil {
			errs = append(errs, fmt.Errorf("profile %q: identity %s: %w", p.Name, f.name, err))
			continue
		}
		*f.out = s
	}
	return d, errors.Join(errs...)
}

// decodePoint returns the value of one point; the value carries quality
// Error when err is set.
func (p *Profile) decodePoint(pt *Point, words Words) (reading.Value, error) {
	failed := reading.Value{Quantity: pt.Quantity, Unit: pt.Unit, Quality: reading.Error,
		Places: *pt.Places}
	n, err := pt.number(words)
	if err != nil {
		return failed, fmt.Errorf("profile %q: %s at %s 0x%04X: %w",
			p.Name, pt.Quantity, pt.Function, pt.Wire, err)
	}
	v, err := reading.NewValue(pt.Quantity, n, *pt.Places)
	if err != nil {
		return failed, fmt.Errorf("profile %q: %w", p.Name, err)
	}
	return v, nil
}

// number reads and decodes the point: raw × scale × 10^sf + offset.
func (pt *Point) number(words Words) (decimal.Decimal, error) {
	ws, err := words(pt.Function.Code(), pt.Wire, uint16(pt.Registers()))
	if err != nil {
		return decimal.Decimal{}, err
	}
	if pt.NotAvailable.match(ws, pt.Type, pt.Order) {
		return decimal.Decimal{}, fmt.Errorf("words %04X: %w", ws, ErrNotAvailable)
	}
	raw, err := Decode(ws, pt.Type, pt.Order)
	if err != nil {
		return decimal.Decimal{}, err
	}

	n := raw.Mul(pt.Scale.Decimal)
	if r := pt.ScaleRegister; r != nil {
		sf, err := r.scaleFactor(words)
		if err != nil {
			return decimal.Decimal{}, err
		}
		n = n.Shift(sf)
	}
	return n.Add(pt.Offset.Decimal), nil
}

// scaleFactor reads a SunSpec sunssf register.
func (r *Register) scaleFactor(words Words) (int32, error) {
	ws, err := words(r.Function.Code(), r.Wire, 1)
	if err != nil {
		return 0, fmt.Errorf("scale register 0x%04X: %w", r.Wire, err)
	}
	d, err := Decode(ws, I16, r.Order)
	if err != nil {
		return 0, fmt.Errorf("scale register 0x%04X: %w", r.Wire, err)
	}
	sf := d.IntPart()
	if sf < -10 || sf > 10 {
		return 0, fmt.Errorf("scale register 0x%04X holds %d: %w", r.Wire, sf, ErrBadScale)
	}
	return int32(sf), nil
}

// text reads an identity field as text: a string as sent, an integer in
// decimal, BCD digits with their leading zeros.
func (r *Register) text(words Words) (string, error) {
	need := r.need("")
	ws, err := words(need.Func, need.Addr, need.Count)
	if err != nil {
		return "", err
	}
	switch {
	case r.Type == Str:
		return DecodeString(ws, r.Order)
	case r.Type.BCD():
		if len(ws) != r.Type.Registers() {
			return "", fmt.Errorf("%d words for %s: %w", len(ws), r.Type, ErrWordCount)
		}
		b := valueBytes(ws, r.Order)
		return BCD{SignNibble: r.Type == SBCD16 || r.Type == SBCD32}.Digits(b)
	}
	d, err := Decode(ws, r.Type, r.Order)
	if err != nil {
		return "", err
	}
	return d.String(), nil
}
