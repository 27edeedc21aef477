package commission

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/esep-kz/esep/drivers/modbus"
)

// width is a register count that read interprets values over, with the
// types of that width in the order of their columns.
type width struct {
	registers int
	title     string
	types     []modbus.Type
}

var widths = []width{
	{2, "32-bit values of each pair of registers", []modbus.Type{modbus.U32, modbus.I32, modbus.F32}},
	{4, "64-bit values of each four registers", []modbus.Type{modbus.U64, modbus.I64, modbus.F64}},
}

// viewTypes are the types -type accepts; u16 and i16 are the columns of
// the table of single registers, which read always prints.
var viewTypes = []modbus.Type{modbus.U16, modbus.I16, modbus.U32, modbus.I32, modbus.F32,
	modbus.U64, modbus.I64, modbus.F64}

// view is what read interprets the registers as: the types chosen by
// -type and the order forms chosen by -order, each nil for all.
//
// A form is an index into modbus.AcceptedOrders, which lists the same
// four forms for every width in the same sequence: as is, words
// reversed, bytes swapped in each word, and both. So -order CDAB also
// chooses GHEFCDAB among the 64-bit values, the low word first in both.
type view struct {
	types map[modbus.Type]bool
	forms map[int]bool
}

// parseView parses the values of -type and -order: lists separated by
// commas, empty for all.
func parseView(types, orders string) (view, error) {
	var v view
	for _, s := range splitList(types) {
		t := modbus.Type(strings.ToLower(s))
		if !slices.Contains(viewTypes, t) {
			return view{}, usagef("-type %q is not one of %s", s, joinTypes(viewTypes, ", "))
		}
		if v.types == nil {
			v.types = map[modbus.Type]bool{}
		}
		v.types[t] = true
	}

	for _, s := range splitList(orders) {
		o := modbus.Order(strings.ToUpper(s))
		i := slices.Index(modbus.AcceptedOrders(len(o)/2), o)
		if len(o) != 4 && len(o) != 8 || i < 0 {
			return view{}, usagef("-order %q is not one of %s or %s", s,
				joinOrders(modbus.AcceptedOrders(2)), joinOrders(modbus.AcceptedOrders(4)))
		}
		if v.forms == nil {
			v.forms = map[int]bool{}
		}
		v.forms[i] = true
	}
	return v, nil
}

// chosen returns the types of w that the view shows.
func (v view) chosen(w width) []modbus.Type {
	var ts []modbus.Type
	for _, t := range w.types {
		if v.types == nil || v.types[t] {
			ts = append(ts, t)
		}
	}
	return ts
}

// restricted reports whether -type or -order narrowed the view.
func (v view) restricted() bool { return v.types != nil || v.forms != nil }

// printWidth prints the values of w at every offset of words, in every
// order form the view chooses.
func (v view) printWidth(out io.Writer, sp span, words []uint16, w width) error {
	types := v.chosen(w)
	if len(types) == 0 || len(words) < w.registers {
		return nil
	}

	fmt.Fprintf(out, "\n%s\n", w.title)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "ADDR\tORDER\t%s\n", strings.ToUpper(joinTypes(types, "\t")))
	for at := 0; at+w.registers <= len(words); at++ {
		for i, o := range modbus.AcceptedOrders(w.registers) {
			if v.forms != nil && !v.forms[i] {
				continue
			}
			cells, err := interpret(words[at:at+w.registers], o, types)
			if err != nil {
				return err
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", sp.label(sp.addr+uint16(at)), o,
				strings.Join(cells, "\t"))
		}
	}
	return tw.Flush()
}

// interpret returns words, taken in order o, as each of types. The
// number is decoded once, as an unsigned integer of the width, so that
// every type reads the same bits.
func interpret(words []uint16, o modbus.Order, types []modbus.Type) ([]string, error) {
	raw := modbus.U32
	if len(words) == 4 {
		raw = modbus.U64
	}
	d, err := modbus.Decode(words, raw, o)
	if err != nil {
		return nil, err
	}
	bits := d.BigInt().Uint64()

	cells := make([]string, len(types))
	for i, t := range types {
		switch t {
		case modbus.U32, modbus.U64:
			cells[i] = strconv.FormatUint(bits, 10)
		case modbus.I32:
			cells[i] = strconv.FormatInt(int64(int32(bits)), 10)
		case modbus.I64:
			cells[i] = strconv.FormatInt(int64(bits), 10)
		case modbus.F32:
			// Shortest digits that read back as the same float: 238.6087.
			f := math.Float32frombits(uint32(bits))
			cells[i] = strconv.FormatFloat(float64(f), 'g', -1, 32)
		case modbus.F64:
			cells[i] = strconv.FormatFloat(math.Float64frombits(bits), 'g', -1, 64)
		}
	}
	return cells, nil
}

// text shows a register's two bytes as characters, a dot for a byte
// that is not printable ASCII: model names and serials stand out.
func text(w uint16) string {
	b := []byte{byte(w >> 8), byte(w)}
	for i, c := range b {
		if c < 0x20 || c > 0x7E {
			b[i] = '.'
		}
	}
	return string(b)
}

func splitList(s string) []string {
	var items []string
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			items = append(items, item)
		}
	}
	return items
}

func joinTypes(ts []modbus.Type, sep string) string {
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = string(t)
	}
	return strings.Join(s, sep)
}

func joinOrders(os []modbus.Order) string {
	s := make([]string, len(os))
	for i, o := range os {
		s[i] = string(o)
	}
	return strings.Join(s, ", ")
}
