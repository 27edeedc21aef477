package sim

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/shopspring/decimal"

	"github.com/esep-kz/esep/drivers/modbus"
)

// pointCodec rounds a model's value to what one point's register can
// hold and encodes it as the profile says: raw × scale × 10^sf + offset.
type pointCodec struct {
	pt   *modbus.Point
	sf   int32           // exponent in its scale register; 0 without one
	step decimal.Decimal // smallest step the register shows, in the point's unit
	wrap decimal.Decimal // steps after which a counter wraps to 0; 0 for none
}

func newPointCodec(pt *modbus.Point, sf int32) pointCodec {
	c := pointCodec{pt: pt, sf: sf, step: pt.Scale.Shift(sf)}
	if pt.Type.Float() {
		c.step = decimal.New(1, -*pt.Places)
	}
	// A counter's register holds 0 up to the rollover, Rollover/step
	// steps, and the next step reads 0 again.
	if *pt.Cumulative && pt.Rollover.IsPositive() {
		c.wrap = pt.Rollover.Sub(pt.Offset.Decimal).Div(c.step).Floor().Add(decimal.NewFromInt(1))
	}
	return c
}

// quantize returns the number the point shows for v: down to its step
// for a counter, which shows only what it has counted in full, to the
// nearest step for any other value. A float register shows the nearest
// float, at the point's places.
func (c *pointCodec) quantize(v float64) decimal.Decimal {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		v = 0
	}
	n := decimal.NewFromFloat(v).Sub(c.pt.Offset.Decimal).Div(c.step)
	if *c.pt.Cumulative {
		n = n.Floor()
	} else {
		n = n.Round(0)
	}
	if c.wrap.IsPositive() {
		n = n.Mod(c.wrap)
	}

	num := n.Mul(c.step).Add(c.pt.Offset.Decimal)
	if !c.pt.Type.Float() {
		return num
	}
	words, err := c.words(num)
	if err != nil {
		return num // no float holds it; the read fails
	}
	back, err := modbus.Decode(words, c.pt.Type, c.pt.Order)
	if err != nil {
		return num
	}
	return back.Mul(c.pt.Scale.Decimal).Shift(c.sf).Add(c.pt.Offset.Decimal).Round(*c.pt.Places)
}

// words encodes the number num, which quantize returned.
func (c *pointCodec) words(num decimal.Decimal) ([]uint16, error) {
	raw := num.Sub(c.pt.Offset.Decimal).Div(c.pt.Scale.Decimal).Shift(-c.sf)
	if !c.pt.Type.Float() {
		raw = raw.Round(0) // undoes the division's last digit
	}
	return modbus.Encode(raw, c.pt.Type, c.pt.Order)
}

// regKey names a register of one table.
type regKey struct {
	table modbus.Table
	addr  uint16
}

// layout makes a codec for each point and lays out the registers: the
// points, their scale registers and the identity fields.
func (m *Meter) layout(strict bool) {
	p := m.profile
	m.points = make([]pointCodec, len(p.Values))
	scales := map[regKey]int32{}
	var fields []field
	for i := range p.Values {
		pt := &p.Values[i]
		var sf int32
		if r := pt.ScaleRegister; r != nil {
			var seen bool
			if sf, seen = scales[regKey{r.Function, r.Wire}]; !seen {
				sf = int32(max(-10, min(10, -int(*pt.Places))))
				scales[regKey{r.Function, r.Wire}] = sf
				fields = append(fields, scaleField(r, sf))
			}
		}
		m.points[i] = newPointCodec(pt, sf)
		c := &m.points[i]
		fields = append(fields, field{fn: tableFunction(pt.Function), addr: pt.Wire,
			n: pt.Registers(), words: func(s *snapshot) ([]uint16, error) {
				return c.words(s.numbers[i])
			}})
	}
	fields = append(fields, m.identityFields()...)
	m.regs = newRegisterMap(fields, p.PlanOptions(modbus.DefaultPlanOptions()), strict)
}

// scaleField is a SunSpec scale register holding sf: the first point
// that uses it shows its places, and every other point its steps.
func scaleField(r *modbus.Register, sf int32) field {
	return field{fn: tableFunction(r.Function), addr: r.Wire, n: 1,
		words: func(*snapshot) ([]uint16, error) {
			return modbus.Encode(decimal.NewFromInt32(sf), modbus.I16, r.Order)
		}}
}

func (m *Meter) identityFields() []field {
	var fields []field
	add := func(r *modbus.Register, text func(s *snapshot) string) {
		if r != nil {
			fields = append(fields, field{fn: tableFunction(r.Function), addr: r.Wire,
				n: identityRegisters(r), words: func(s *snapshot) ([]uint16, error) {
					return identityWords(r, text(s))
				}})
		}
	}
	id := m.profile.Identity
	model, firmware := modelText(m.profile, id.Model), firmwareText(id.Firmware)
	add(id.Serial, func(s *snapshot) string { return s.serial })
	add(id.Model, func(*snapshot) string { return model })
	add(id.Firmware, func(*snapshot) string { return firmware })
	return fields
}

func identityRegisters(r *modbus.Register) int {
	if r.Type == modbus.Str {
		return r.Registers
	}
	return r.Type.Registers()
}

// identityWords encodes text in an identity register: as characters in a
// str field, as a number in any other.
func identityWords(r *modbus.Register, text string) ([]uint16, error) {
	if r.Type == modbus.Str {
		return modbus.EncodeString(text, r.Registers, r.Order)
	}
	d, err := decimal.NewFromString(text)
	if err != nil {
		return nil, fmt.Errorf("%q is no number: %w", text, modbus.ErrNotEncodable)
	}
	return modbus.Encode(d, r.Type, r.Order)
}

// identityText is text as the profile decodes it from its register:
// padding trimmed, an integer without leading zeros, BCD with them.
func identityText(r *modbus.Register, text string) string {
	switch {
	case r == nil:
		return ""
	case r.Type == modbus.Str:
		return strings.Trim(text, "\x00 ")
	case r.Type.BCD():
		return fmt.Sprintf("%0*s", 4*r.Type.Registers(), text)
	}
	return decimal.RequireFromString(text).String()
}

// drawSerial draws a serial number that fits register r: eight digits,
// or four for a 16-bit register, or as many as a short str field holds.
func drawSerial(r *modbus.Register, bits uint64) string {
	digits := 8
	switch {
	case r == nil:
	case r.Type == modbus.Str:
		digits = min(digits, 2*r.Registers)
	case r.Type.Registers() == 1:
		digits = 4
	}
	low := uint64(math.Pow10(digits - 1))
	return strconv.FormatUint(low+bits%(9*low), 10)
}

// modelText is the model a register shows: the profile's model name in
// a str field, cut to fit, or model code 1 in a numeric one.
func modelText(p *modbus.Profile, r *modbus.Register) string {
	if r == nil || r.Type != modbus.Str {
		return "1"
	}
	ascii := strings.Map(func(c rune) rune {
		if c < 0x20 || c >= 0x7F {
			return '?'
		}
		return c
	}, p.Model)
	return ascii[:min(len(ascii), 2*r.Registers)]
}

// firmwareText is the firmware a register shows: version 1.00, or 1.
func firmwareText(r *modbus.Register) string {
	if r == nil || r.Type != modbus.Str {
		return "1"
	}
	return "1.00"[:min(4, 2*r.Registers)]
}
