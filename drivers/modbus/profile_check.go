package modbus

import (
	"fmt"
	"regexp"
	"sort"

	"github.com/shopspring/decimal"

	"github.com/esep-kz/esep/internal/config"
	"github.com/esep-kz/esep/internal/reading"
)

// profileNameRE is the form of a profile name: it is typed in agent
// configurations and appears in metric labels.
var profileNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

var meterKinds = map[string]bool{"electricity": true, "heat": true, "water": true, "gas": true}

// Validate checks the profile as loaded from its file, reports each
// problem to c at the line of its field, and fills in the effective
// values of every point. It implements config.Validator.
func (p *Profile) Validate(c *config.Checker) {
	p.checkHeader(c)
	if p.Order == "" {
		p.Order = "ABCD"
	} else if !knownOrder(p.Order) {
		c.Errorf("order", "%q is not an order: use one of %s, %s or %s", p.Order,
			joinOrders(orderForms[1]), joinOrders(orderForms[2]), joinOrders(orderForms[4]))
		p.Order = "ABCD"
	}
	if len(p.Values) == 0 {
		c.Errorf("values", "a profile needs at least one value")
	}

	p.checkNotAvailable(c)
	seen := map[reading.Quantity]int{}
	for i := range p.Values {
		path := fmt.Sprintf("values[%d]", i)
		p.checkPoint(c, path, &p.Values[i])
		q := p.Values[i].Quantity
		if j, dup := seen[q]; dup {
			c.Errorf(path+".quantity", "%q is already read by values[%d]", q, j)
		}
		seen[q] = i
	}
	p.checkIdentity(c)
	p.checkSeparate(c)
	p.checkOverlaps(c)
}

// knownOrder reports whether o is an accepted order of any width.
func knownOrder(o Order) bool {
	for _, forms := range orderForms {
		for _, f := range forms {
			if o == f {
				return true
			}
		}
	}
	return false
}

func (p *Profile) checkHeader(c *config.Checker) {
	if !profileNameRE.MatchString(p.Name) {
		c.Errorf("name", "%q is not a profile name: lower case letters, digits and dashes", p.Name)
	}
	for key, v := range map[string]string{"maker": p.Maker, "model": p.Model,
		"source.document": p.Source.Document, "source.revision": p.Source.Revision} {
		if v == "" {
			c.Errorf(key, "must be set")
		}
	}
	if !meterKinds[p.Kind] {
		c.Errorf("kind", "%q is not one of electricity, heat, water, gas", p.Kind)
	}
	if p.Function != "" && p.Function.Code() == 0 {
		c.Errorf("function", "%q is not one of holding, input, coils, discrete", p.Function)
	}
	if !p.Addressing.known() {
		c.Errorf("addressing", "%q is not one of pdu (0-based wire addresses), "+
			"register (1-based numbers, wire = n-1), modicon (30001/40001 style); "+
			"esep assumes none", p.Addressing)
	}
	if p.MaxGap != nil && *p.MaxGap < 0 {
		c.Errorf("max_gap", "%d is negative", *p.MaxGap)
	}
	if p.MaxRegisters < 0 || p.MaxRegisters > planSpecRegisters {
		c.Errorf("max_registers", "%d is not between 1 and %d", p.MaxRegisters, planSpecRegisters)
	}
}

// resolve turns an address as written, with an optional function, into
// the wire address and the table to read, reporting problems at path.
func (p *Profile) resolve(c *config.Checker, path string, n int, fn Table) (uint16, Table) {
	if fn != "" && fn.Code() == 0 {
		c.Errorf(path+".function", "%q is not one of holding, input, coils, discrete", fn)
		return 0, ""
	}
	if !p.Addressing.known() {
		return 0, fn // reported once, at addressing
	}
	wire, implied, err := p.Addressing.Wire(n)
	if err != nil {
		c.Errorf(path+".address", "%v", err)
		return 0, ""
	}
	switch {
	case fn == "" && p.Function == "" && implied == "":
		c.Errorf(path+".function", "must be set here or for the profile")
	case fn == "" && p.Function == "":
		fn = implied
	case fn == "":
		fn = p.Function
	}
	if implied != "" && fn != implied {
		c.Errorf(path+".address", "modicon address %d is in the %s table, but the point is read "+
			"from %s", n, implied, fn)
	}
	return wire, fn
}

// checkEnd refuses registers that run past the last address, 0xFFFF: the
// planner could not read them. A table of "" had its address refused.
func checkEnd(c *config.Checker, path string, fn Table, wire uint16, n int) {
	if fn != "" && int(wire)+n > 1<<16 {
		c.Errorf(path+".address", "%s 0x%04X takes %d registers, running past 0xFFFF",
			fn, wire, n)
	}
}

func (p *Profile) checkPoint(c *config.Checker, path string, pt *Point) {
	spec, err := reading.Lookup(pt.Quantity)
	if err != nil {
		c.Errorf(path+".quantity", "%v", err)
	}
	pt.Wire, pt.Function = p.resolve(c, path, pt.Address, pt.Function)
	if !p.checkType(c, path, pt) {
		return
	}
	checkEnd(c, path, pt.Function, pt.Wire, pt.Registers())
	p.checkPointNotAvailable(c, path, pt)
	if err == nil {
		p.checkUnit(c, path, pt, spec)
		p.checkCumulative(c, path, pt, spec)
	}
	p.checkScale(c, path, pt)
}

// checkType checks the type and order of a point and applies the
// profile's order; it reports whether the point can be decoded at all.
func (p *Profile) checkType(c *config.Checker, path string, pt *Point) bool {
	if !pt.Type.Valid() || pt.Type == Str {
		c.Errorf(path+".type", "%q is not a value type: use one of %s", pt.Type, valueTypeNames())
		return false
	}
	if pt.Function.Bits() && pt.Type != U16 {
		c.Errorf(path+".type", "%q does not fit %s, which hold one bit per address: use u16",
			pt.Type, pt.Function)
	}
	if pt.Order == "" {
		pt.Order = p.Order.forWidth(pt.Registers())
		return true
	}
	o, err := ParseOrder(pt.Type, string(pt.Order))
	if err != nil {
		c.Errorf(path+".order", "%v", err)
		return false
	}
	pt.Order = o
	return true
}

func valueTypeNames() string {
	names := make([]string, 0, len(typeRegisters))
	for t := range typeRegisters {
		names = append(names, string(t))
	}
	sort.Strings(names)
	return fmt.Sprint(names)
}

func (p *Profile) checkUnit(c *config.Checker, path string, pt *Point, spec reading.Spec) {
	switch {
	case pt.Unit == spec.Unit:
	case pt.Unit == "":
		c.Errorf(path+".unit", "must be set: quantity %q is measured in %q", pt.Quantity, spec.Unit)
	default:
		c.Errorf(path+".unit", "%q is not the unit of quantity %q, which is %q: "+
			"convert with scale", pt.Unit, pt.Quantity, spec.Unit)
	}
}

func (p *Profile) checkCumulative(c *config.Checker, path string, pt *Point, spec reading.Spec) {
	if pt.Cumulative == nil {
		cum := spec.Kind == reading.Cumulative
		pt.Cumulative = &cum
	}
	if !*pt.Cumulative {
		if pt.Rollover.Set {
			c.Errorf(path+".rollover", "only a cumulative quantity rolls over")
		}
		return
	}
	// A lifetime counter declared signed reads negative once it passes
	// half its range, as in FC-02; the maker's "INT32" means the width.
	if pt.Type.Signed() && !pt.Type.Float() {
		c.Errorf(path+".type", "%q is signed, but %q is a cumulative counter, which never goes "+
			"negative: use the unsigned type of the same width", pt.Type, pt.Quantity)
	}
}

func (p *Profile) checkScale(c *config.Checker, path string, pt *Point) {
	if !pt.Scale.Set {
		pt.Scale = Exact{Decimal: decimal.NewFromInt(1)}
	}
	if pt.Scale.IsZero() {
		c.Errorf(path+".scale", "must not be 0")
	}
	// An IEEE float already carries its units; a scale on one is how
	// FC-01 hid a type mistake, so it must be asked for explicitly.
	if pt.Type.Float() && !pt.Scale.Equal(decimal.NewFromInt(1)) && !pt.AllowFloatScale {
		c.Errorf(path+".scale", "%s on float type %q: a float carries its own units; "+
			"set allow_float_scale: true if the meter really sends scaled floats",
			pt.Scale, pt.Type)
	}
	if r := pt.ScaleRegister; r != nil {
		p.checkRegister(c, path+".scale_register", r, pt.Function)
		if r.Type != I16 {
			c.Errorf(path+".scale_register.type", "%q: a scale register is i16 (SunSpec sunssf)",
				r.Type)
		}
	}
	p.checkPlaces(c, path, pt)
	if pt.Cumulative == nil || !*pt.Cumulative {
		return
	}
	top := defaultRollover(pt)
	switch {
	case !pt.Rollover.Set:
		pt.Rollover = Exact{Decimal: top}
	case !pt.Rollover.IsPositive():
		c.Errorf(path+".rollover", "%s is not a positive number", pt.Rollover)
	case top.IsPositive() && pt.Rollover.GreaterThan(top):
		c.Errorf(path+".rollover", "%s is beyond %s, the largest %s times scale %s: "+
			"the counter wraps before it gets there", pt.Rollover, top, pt.Type, pt.Scale)
	}
}

func (p *Profile) checkPlaces(c *config.Checker, path string, pt *Point) {
	if pt.Places == nil {
		if pt.Type.Float() || pt.ScaleRegister != nil {
			c.Errorf(path+".places", "must be set: the resolution of a %s is not implied "+
				"by its type", pt.Type)
			return
		}
		places := -pt.Scale.Exponent()
		if places < 0 {
			places = 0
		}
		pt.Places = &places
	}
	if *pt.Places < 0 || *pt.Places > 12 {
		c.Errorf(path+".places", "%d is not between 0 and 12", *pt.Places)
	}
}

// maxRaw is the largest raw number of the unsigned types a counter uses.
var maxRaw = map[Type]decimal.Decimal{
	U16:   decimal.NewFromInt(0xFFFF),
	U32:   decimal.NewFromInt(0xFFFFFFFF),
	U64:   decimal.NewFromUint64(^uint64(0)),
	BCD16: decimal.NewFromInt(9999),
	BCD32: decimal.NewFromInt(99999999),
}

// defaultRollover is the type's range times the scale, or zero, meaning
// unknown, for floats and scale-register points.
func defaultRollover(pt *Point) decimal.Decimal {
	m, ok := maxRaw[pt.Type]
	if !ok || pt.ScaleRegister != nil {
		return decimal.Zero
	}
	return m.Mul(pt.Scale.Decimal).Add(pt.Offset.Decimal)
}

// checkRegister checks an identity field or a scale register.
func (p *Profile) checkRegister(c *config.Checker, path string, r *Register, fn Table) {
	if r.Function == "" {
		r.Function = fn
	}
	r.Wire, r.Function = p.resolve(c, path, r.Address, r.Function)
	if !r.Type.Valid() {
		c.Errorf(path+".type", "%q is not a register type", r.Type)
		return
	}
	checkEnd(c, path, r.Function, r.Wire, int(r.need("").Count))
	if r.Type == Str && (r.Registers < 1 || r.Registers > planSpecRegisters) {
		c.Errorf(path+".registers", "a str field needs its length, 1 to %d registers",
			planSpecRegisters)
	}
	if r.Type != Str && r.Registers != 0 {
		c.Errorf(path+".registers", "only a str field has a length; %s takes %d",
			r.Type, r.Type.Registers())
	}
	if r.Order == "" {
		r.Order = p.Order.forWidth(max(r.Type.Registers(), 1))
		return
	}
	o, err := ParseOrder(r.Type, string(r.Order))
	if err != nil {
		c.Errorf(path+".order", "%v", err)
	}
	r.Order = o
}

func (p *Profile) checkIdentity(c *config.Checker) {
	for _, f := range p.Identity.fields(nil) {
		if f.reg == nil {
			continue
		}
		path := "identity." + f.name
		p.checkRegister(c, path, f.reg, "")
		if f.reg.Type.Float() {
			c.Errorf(path+".type", "%q: an identity is an integer, BCD or str", f.reg.Type)
		}
	}
}

func (p *Profile) checkSeparate(c *config.Checker) {
	p.separate = nil
	for i, list := range p.Separate {
		path := fmt.Sprintf("separate[%d]", i)
		if len(list) == 0 {
			c.Errorf(path, "an empty range")
			continue
		}
		r := SeparateRange{First: 0xFFFF}
		var table Table
		for _, n := range list {
			wire, fn := p.resolve(c, path, n, "")
			if table != "" && fn != table {
				c.Errorf(path, "a range lies in one table, not in %s and %s", table, fn)
			}
			table = fn
			r.First, r.Last = min(r.First, wire), max(r.Last, wire)
		}
		r.Func = table.Code()
		p.separate = append(p.separate, r)
	}
}

// span is the registers one point or field takes, for the overlap check.
type span struct {
	path        string
	table       Table
	first, last int
}

// checkOverlaps refuses two points that share a register of one table:
// one of them is at the wrong address or of the wrong type.
func (p *Profile) checkOverlaps(c *config.Checker) {
	var spans []span
	for i, pt := range p.Values {
		if n := pt.Registers(); n > 0 && pt.Function != "" {
			spans = append(spans, span{fmt.Sprintf("values[%d]", i), pt.Function,
				int(pt.Wire), int(pt.Wire) + n - 1})
		}
	}
	for _, f := range p.Identity.fields(nil) {
		if f.reg != nil && f.reg.Function != "" {
			n := f.reg.need("").Count
			spans = append(spans, span{"identity." + f.name, f.reg.Function,
				int(f.reg.Wire), int(f.reg.Wire) + int(n) - 1})
		}
	}
	for i, a := range spans {
		for _, b := range spans[i+1:] {
			if a.table == b.table && a.first <= b.last && b.first <= a.last {
				c.Errorf(b.path+".address", "%s registers 0x%04X-0x%04X overlap %s (0x%04X-0x%04X)",
					b.table, b.first, b.last, a.path, a.first, a.last)
			}
		}
	}
}

// checkNotAvailable checks the profile's not_available lists by type.
func (p *Profile) checkNotAvailable(c *config.Checker) {
	for t, raws := range p.NotAvailable {
		path := "not_available." + string(t)
		if !t.Valid() || t == Str {
			c.Errorf(path, "%q is not a value type: use one of %s", t, valueTypeNames())
			continue
		}
		checkRawWidth(c, path, t, raws)
	}
}

// checkPointNotAvailable checks a point's own not_available list, or
// gives it the profile's list for its type.
func (p *Profile) checkPointNotAvailable(c *config.Checker, path string, pt *Point) {
	if pt.NotAvailable == nil {
		pt.NotAvailable = p.NotAvailable[pt.Type]
		return
	}
	checkRawWidth(c, path+".not_available", pt.Type, pt.NotAvailable)
}

// checkRawWidth refuses raw values wider than the registers of type t.
func checkRawWidth(c *config.Checker, path string, t Type, raws RawValues) {
	bits := 16 * t.Registers()
	for _, v := range raws {
		if bits < 64 && v>>bits != 0 {
			c.Errorf(path, "0x%X does not fit the %d bits of a %s", v, bits, t)
		}
	}
}
