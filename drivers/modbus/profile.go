package modbus

import (
	"fmt"
	"slices"

	"github.com/shopspring/decimal"
	"go.yaml.in/yaml/v3"

	"github.com/esep-kz/esep/internal/reading"
)

// Profile is one meter model's register map, written as data in a YAML
// file: which registers hold which quantity, and how to decode them. The
// profiles esep ships live in profiles/*.yaml; docs/profiles.md describes
// the schema with examples. In short:
//
//	name: eastron-sdm120          # lower case, digits and dashes; unique
//	maker: Eastron
//	model: SDM120-Modbus
//	kind: electricity             # electricity, heat, water or gas
//	source:                       # the maker's public register map
//	  document: SDM120M Smart Meter Modbus Protocol Implementation
//	  revision: V2.5
//	  url: https://...            # optional
//	function: input               # holding, input, coils or discrete
//	addressing: pdu               # pdu, register or modicon; never implied
//	order: ABCD                   # default order, see Order
//	max_gap: 16                   # optional: registers a request may skip
//	max_registers: 80             # optional: the device's request limit
//	separate: [[0x5000, 0x5006]]  # optional: ranges read only on their own
//	not_available:                # optional: raw values meaning "no value", by type
//	  i32: [0x7FFFFFFF]
//	identity:
//	  serial: {address: 0xFC00, type: u32, function: holding}
//	values:
//	  - quantity: voltage_v       # from reading.Quantities
//	    address: 0x0000
//	    type: f32
//	    unit: V                   # must be the vocabulary's unit
//	    places: 2                 # resolution kept, in decimal places
//
// Addresses are YAML integers, hex or decimal. With addressing pdu they
// are the 0-based addresses on the wire; with register they are 1-based
// register numbers (wire = n-1); with modicon they carry the table in
// their first digit, 5 digits (30001 is input register 0) or 6 (300001),
// and a point's function must agree with it (FC-05).
//
// A point may override order and function, scale its raw number
// (value = raw × scale × 10^sf + offset, sf from an optional SunSpec-style
// scale_register), and set cumulative and rollover. A float point with a
// scale other than 1 is refused unless it sets allow_float_scale (FC-01);
// a cumulative point of a signed type is refused (FC-02). A point's
// not_available lists raw values that mean the meter has no value, as
// the unsigned integer of the type's width; without one the point takes
// the profile's list for its type.
type Profile struct {
	Name       string     `yaml:"name"`
	Maker      string     `yaml:"maker"`
	Model      string     `yaml:"model"`
	Kind       string     `yaml:"kind"`
	Source     Source     `yaml:"source"`
	Function   Table      `yaml:"function"`
	Addressing Addressing `yaml:"addressing"`
	// Order is the default for every point, applied to each point's width
	// as its word swap and byte swap: CDAB serves a u64 as GHEFCDAB.
	Order Order `yaml:"order"`
	// MaxGap is how many unneeded registers the planner may read through;
	// nil leaves the planner's default.
	MaxGap *int `yaml:"max_gap"`
	// MaxRegisters is the most registers the device serves in one
	// request; 0 means the protocol's 125.
	MaxRegisters int `yaml:"max_registers"`
	// Separate lists address ranges, each given as a list of addresses
	// from first to last, that the device reads only on their own; their
	// table is the profile's function, or the modicon prefix.
	Separate [][]int `yaml:"separate"`
	// NotAvailable is, by type, the raw values a maker's map documents as
	// "no value", the default of each point of that type.
	NotAvailable map[Type]RawValues `yaml:"not_available"`
	Identity     Identity           `yaml:"identity"`
	Values       []Point            `yaml:"values"`

	separate []SeparateRange // Separate on the wire, set by Validate
}

// Source names the maker's public document the profile was built from.
type Source struct {
	Document string `yaml:"document"`
	Revision string `yaml:"revision"`
	URL      string `yaml:"url"`
}

// Identity names the registers that identify the meter itself; each may
// be left out. Serial is what readings carry as reading.Reading.Serial.
type Identity struct {
	Serial   *Register `yaml:"serial"`
	Model    *Register `yaml:"model"`
	Firmware *Register `yaml:"firmware"`
}

// Register is a register spec of an identity field or a scale register.
type Register struct {
	Address  int   `yaml:"address"`
	Type     Type  `yaml:"type"`
	Order    Order `yaml:"order"`
	Function Table `yaml:"function"`
	// Registers is the length of a Str field.
	Registers int `yaml:"registers"`

	// Wire is Address as sent in requests; Table, Order and Registers
	// hold the effective values. Validate sets them.
	Wire uint16 `yaml:"-"`
}

// Point is one quantity a meter reports. After loading, Order, Function,
// Scale, Offset, Places, Cumulative and Rollover hold the effective
// values, defaults applied, and Wire the address sent in requests.
type Point struct {
	Quantity      reading.Quantity `yaml:"quantity"`
	Address       int              `yaml:"address"`
	Type          Type             `yaml:"type"`
	Order         Order            `yaml:"order"`
	Function      Table            `yaml:"function"`
	Scale         Exact            `yaml:"scale"`
	Offset        Exact            `yaml:"offset"`
	ScaleRegister *Register        `yaml:"scale_register"`
	Unit          string           `yaml:"unit"`
	Places        *int32           `yaml:"places"`
	Cumulative    *bool            `yaml:"cumulative"`
	// Rollover is where a cumulative counter wraps to zero; by default
	// the largest raw number of the type times the scale.
	Rollover Exact `yaml:"rollover"`
	// AllowFloatScale accepts a scale on a float point: a few meters send
	// floats in Wh or kW. Without it such a point is refused (FC-01).
	AllowFloatScale bool `yaml:"allow_float_scale"`
	// NotAvailable lists the raw values that mean the meter has no value;
	// nil takes the profile's list for the type, [] none.
	NotAvailable RawValues `yaml:"not_available"`

	Wire uint16 `yaml:"-"`
}

// RawValues are raw contents of a value's registers, written as YAML
// integers, hex or decimal, and compared with the value's words read as
// one unsigned integer of the type's width, most significant byte first
// after the point's order is applied: 0x7FFFFFFF is an i32 of words 7FFF
// FFFF under ABCD.
type RawValues []uint64

// match reports whether the words of a value of type t in order o hold
// one of the raw values.
func (r RawValues) match(words []uint16, t Type, o Order) bool {
	if len(r) == 0 || len(words) != t.Registers() {
		return false
	}
	var raw uint64
	for _, b := range valueBytes(words, o) {
		raw = raw<<8 | uint64(b)
	}
	return slices.Contains(r, raw)
}

// Registers returns how many registers (or bits) the point takes.
func (pt *Point) Registers() int { return pt.Type.Registers() }

// Exact is a decimal number written in a profile. It is parsed from the
// YAML text, never through a float, so 0.1 stays exactly 0.1.
type Exact struct {
	decimal.Decimal
	// Set tells a number written in the file from one left out.
	Set bool
}

// exactDigits bounds the exponent of an Exact. Sums of decimals are
// computed at the finer exponent, so "1e-999999999" would make every
// later addition allocate a billion digits.
const exactDigits = 30

// UnmarshalYAML parses the scalar as a decimal.
func (e *Exact) UnmarshalYAML(n *yaml.Node) error {
	d, err := decimal.NewFromString(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil {
		msg := fmt.Sprintf("line %d: %q is not a decimal number", n.Line, n.Value)
		return &yaml.TypeError{Errors: []string{msg}}
	}
	if exp := d.Exponent(); exp < -exactDigits || exp > exactDigits {
		msg := fmt.Sprintf("line %d: %q has an exponent outside ±%d", n.Line, n.Value,
			exactDigits)
		return &yaml.TypeError{Errors: []string{msg}}
	}
	e.Decimal, e.Set = d, true
	return nil
}

// Table is one of the four data tables of the Modbus data model
// (application protocol V1.1b3 §4.3), named as in profiles.
type Table string

// Tables, each read with its own function code.
const (
	Coils    Table = "coils"    // function 1, one bit per address
	Discrete Table = "discrete" // function 2, discrete inputs, one bit each
	Holding  Table = "holding"  // function 3, holding registers
	Input    Table = "input"    // function 4, input registers
)

var tableCodes = map[Table]byte{Coils: 1, Discrete: 2, Holding: 3, Input: 4}

// Code returns the read function code of the table, 0 for an unknown one.
func (t Table) Code() byte { return tableCodes[t] }

// Bits reports whether the table holds bits rather than registers.
func (t Table) Bits() bool { return t == Coils || t == Discrete }

// Addressing is how a profile writes addresses. esep never assumes one:
// a profile states it, because a register read one off pairs the halves
// of two values (FC-05).
type Addressing string

// Addressings.
const (
	PDU      Addressing = "pdu"      // 0-based addresses as on the wire
	Numbered Addressing = "register" // 1-based register numbers: wire = n-1
	Modicon  Addressing = "modicon"  // 0xxxx 1xxxx 3xxxx 4xxxx, 5 or 6 digits
)

func (a Addressing) known() bool { return a == PDU || a == Numbered || a == Modicon }

// modiconRanges are the Modicon notations: 5 digits with 9999 addresses
// per table, and 6 digits with 65536. Six-digit coils (000001) cannot be
// told from five-digit ones and are read as five-digit.
var modiconRanges = []struct {
	first, last int
	table       Table
}{
	{1, 9999, Coils}, {10001, 19999, Discrete},
	{30001, 39999, Input}, {40001, 49999, Holding},
	{100001, 165536, Discrete}, {300001, 365536, Input}, {400001, 465536, Holding},
}

// Wire returns the 0-based PDU address that n, written in addressing a,
// stands for. For modicon it also returns the table the prefix names;
// the other addressings leave the table to the profile.
func (a Addressing) Wire(n int) (uint16, Table, error) {
	switch a {
	case PDU:
		if n >= 0 && n <= 0xFFFF {
			return uint16(n), "", nil
		}
	case Numbered:
		if n >= 1 && n <= 0x10000 {
			return uint16(n - 1), "", nil
		}
	case Modicon:
		for _, r := range modiconRanges {
			if n >= r.first && n <= r.last {
				return uint16(n - r.first), r.table, nil
			}
		}
	default:
		return 0, "", fmt.Errorf("addressing %q: %w", a, ErrBadAddress)
	}
	return 0, "", fmt.Errorf("%d is not a %s address: %w", n, a, ErrBadAddress)
}

// Needs returns what the planner must read for this profile: every
// value, scale register and identity field, in that order.
func (p *Profile) Needs() []Need {
	var needs []Need
	seen := map[Need]bool{}
	add := func(n Need) {
		if !seen[n] {
			seen[n] = true
			needs = append(needs, n)
		}
	}
	for _, pt := range p.Values {
		add(Need{string(pt.Quantity), pt.Function.Code(), pt.Wire, uint16(pt.Registers())})
	}
	for _, pt := range p.Values {
		if r := pt.ScaleRegister; r != nil {
			add(r.need("scale of " + string(pt.Quantity)))
		}
	}
	for _, f := range p.Identity.fields(nil) {
		if f.reg != nil {
			add(f.reg.need("identity." + f.name))
		}
	}
	return needs
}

func (r *Register) need(name string) Need {
	n := r.Registers
	if r.Type != Str {
		n = r.Type.Registers()
	}
	return Need{Name: name, Func: r.Function.Code(), Addr: r.Wire, Count: uint16(n)}
}

// identityField is an identity register with its key in the file.
type identityField struct {
	name string
	reg  *Register
	out  *string
}

// fields lists the identity registers with where Decode puts each; with
// a nil d the results go nowhere.
func (id *Identity) fields(d *Decoded) []identityField {
	if d == nil {
		d = &Decoded{}
	}
	return []identityField{{"serial", id.Serial, &d.Serial}, {"model", id.Model, &d.Model},
		{"firmware", id.Firmware, &d.Firmware}}
}

// PlanOptions returns base with what the profile says of the device:
// its gap, its request limit and its separate ranges.
func (p *Profile) PlanOptions(base PlanOptions) PlanOptions {
	if p.MaxGap != nil {
		base.MaxGap = *p.MaxGap
	}
	if p.MaxRegisters > 0 {
		base.MaxRegisters = p.MaxRegisters
	}
	base.Separate = append(base.Separate, p.separate...)
	return base
}
