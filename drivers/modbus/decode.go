package modbus

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"

	"github.com/shopspring/decimal"
)

// Type is how the words of a point encode its number. Names tell IEEE-754
// floats (f32, f64) from fixed-point integers (u32, i32, ...), which a
// scale turns into units (FC-01).
type Type string

// Register types. BCD types hold one decimal digit per nibble; the
// sbcd types also allow an F in the most significant nibble meaning
// negative (EN 13757-3 annex B), and only a profile that declares them
// accepts it (FC-06.3). Str is an ASCII string, two characters a
// register, for identity points only.
const (
	U16    Type = "u16"
	I16    Type = "i16"
	U32    Type = "u32"
	I32    Type = "i32"
	U64    Type = "u64"
	I64    Type = "i64"
	F32    Type = "f32"
	F64    Type = "f64"
	BCD16  Type = "bcd16"
	BCD32  Type = "bcd32"
	SBCD16 Type = "sbcd16"
	SBCD32 Type = "sbcd32"
	Str    Type = "str"
)

// typeRegisters is the register count of each numeric type.
var typeRegisters = map[Type]int{
	U16: 1, I16: 1, BCD16: 1, SBCD16: 1,
	U32: 2, I32: 2, F32: 2, BCD32: 2, SBCD32: 2,
	U64: 4, I64: 4, F64: 4,
}

// Registers returns how many 16-bit registers a value of the type takes,
// or 0 for Str, whose length a point gives, and for unknown types.
func (t Type) Registers() int { return typeRegisters[t] }

// Valid reports whether t is a type esep knows, Str included.
func (t Type) Valid() bool { return t == Str || typeRegisters[t] > 0 }

// Signed reports whether the type can encode a negative number.
func (t Type) Signed() bool {
	switch t {
	case I16, I32, I64, F32, F64, SBCD16, SBCD32:
		return true
	}
	return false
}

// Float reports whether the type is an IEEE-754 float.
func (t Type) Float() bool { return t == F32 || t == F64 }

// Integer reports whether the type is a binary integer.
func (t Type) Integer() bool {
	switch t {
	case U16, I16, U32, I32, U64, I64:
		return true
	}
	return false
}

// BCD reports whether the type is binary-coded decimal.
func (t Type) BCD() bool {
	switch t {
	case BCD16, BCD32, SBCD16, SBCD32:
		return true
	}
	return false
}

// Order says where each byte of a value travels on the wire. It is
// defined on wire bytes, never on host words (FC-03.1): the letters are
// the value's bytes, A the most significant, and the string lists them in
// the order they arrive, first register first. "CDAB" thus means the low
// word arrives first, each word high byte first.
type Order string

// Orders accepted for each register count: as is, words reversed, bytes
// swapped in each word, and both. A word swap has no meaning for one
// register, so a 16-bit type accepts only AB and BA (FC-07).
var orderForms = map[int][]Order{
	1: {"AB", "BA"},
	2: {"ABCD", "CDAB", "BADC", "DCBA"},
	4: {"ABCDEFGH", "GHEFCDAB", "BADCFEHG", "HGFEDCBA"},
}

// ParseOrder checks s against the forms accepted for type t and returns
// it as an Order; an empty s gives the big-endian order. A Str point's
// order is that of one register: AB, or BA for swapped characters.
func ParseOrder(t Type, s string) (Order, error) {
	n := t.Registers()
	if t == Str {
		n = 1
	}
	forms, ok := orderForms[n]
	if !ok {
		return "", fmt.Errorf("type %q: %w", t, ErrBadType)
	}
	if s == "" {
		return forms[0], nil
	}
	for _, f := range forms {
		if Order(s) == f {
			return f, nil
		}
	}
	return "", fmt.Errorf("order %q does not fit type %q (%d registers), accepted: %s: %w",
		s, t, n, joinOrders(forms), ErrBadOrder)
}

// AcceptedOrders returns the order forms accepted for n registers.
func AcceptedOrders(n int) []Order { return append([]Order(nil), orderForms[n]...) }

func joinOrders(forms []Order) string {
	s := make([]string, len(forms))
	for i, f := range forms {
		s[i] = string(f)
	}
	return strings.Join(s, ", ")
}

// swaps returns whether o reverses the order of words and whether it
// swaps the two bytes of each word, the two independent choices every
// accepted form is made of.
func (o Order) swaps() (words, bytes bool) {
	if len(o) < 2 {
		return false, false
	}
	bytes = o[0] == o[1]+1
	words = len(o) > 2 && int(o[0]-'A') >= len(o)-2
	return words, bytes
}

// forWidth returns the order with o's word and byte swaps for a value of
// n registers, so that one default order of a profile serves every
// width. The forms of orderForms are listed as is, words reversed, bytes
// swapped, both.
func (o Order) forWidth(n int) Order {
	words, bytes := o.swaps()
	if n == 1 {
		if bytes {
			return "BA"
		}
		return "AB"
	}
	i := 0
	if words {
		i |= 1
	}
	if bytes {
		i |= 2
	}
	return orderForms[n][i]
}

// valueBytes puts the wire bytes of words into value order, most
// significant first, as o describes.
func valueBytes(words []uint16, o Order) []byte {
	b := make([]byte, 2*len(words))
	for i, w := range words {
		wire := [2]byte{byte(w >> 8), byte(w)}
		for j, c := range wire {
			b[o[2*i+j]-'A'] = c
		}
	}
	return b
}

// Decode turns the words of one value, as they arrived, into its number:
// integers and BCD exactly, floats at the shortest decimal that reads back
// as the same float (so 0x436E9BD4 is 238.6087, not 238.60870361328125).
// An empty o means big-endian.
func Decode(words []uint16, t Type, o Order) (decimal.Decimal, error) {
	n := t.Registers()
	if n == 0 {
		return decimal.Decimal{}, fmt.Errorf("type %q: %w", t, ErrBadType)
	}
	if len(words) != n {
		return decimal.Decimal{}, fmt.Errorf("type %q takes %d registers, got %d: %w",
			t, n, len(words), ErrWordCount)
	}
	o, err := ParseOrder(t, string(o))
	if err != nil {
		return decimal.Decimal{}, err
	}

	d, err := decodeBytes(valueBytes(words, o), t)
	if err != nil {
		return decimal.Decimal{}, fmt.Errorf("%s %04X as %s: %w", o, words, t, err)
	}
	return d, nil
}

// decodeBytes decodes the big-endian bytes of a value of type t.
func decodeBytes(b []byte, t Type) (decimal.Decimal, error) {
	switch t {
	case U16:
		return decimal.NewFromInt(int64(binary.BigEndian.Uint16(b))), nil
	case I16:
		return decimal.NewFromInt(int64(int16(binary.BigEndian.Uint16(b)))), nil
	case U32:
		return decimal.NewFromInt(int64(binary.BigEndian.Uint32(b))), nil
	case I32:
		return decimal.NewFromInt(int64(int32(binary.BigEndian.Uint32(b)))), nil
	case U64:
		return decimal.NewFromUint64(binary.BigEndian.Uint64(b)), nil
	case I64:
		return decimal.NewFromInt(int64(binary.BigEndian.Uint64(b))), nil
	case F32:
		return decodeFloat32(math.Float32frombits(binary.BigEndian.Uint32(b)))
	case F64:
		return decodeFloat64(math.Float64frombits(binary.BigEndian.Uint64(b)))
	}
	return BCD{SignNibble: t == SBCD16 || t == SBCD32}.Decode(b)
}

func decodeFloat32(f float32) (decimal.Decimal, error) {
	if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
		return decimal.Decimal{}, fmt.Errorf("%v: %w", f, ErrNotANumber)
	}
	return decimal.NewFromFloat32(f), nil
}

func decodeFloat64(f float64) (decimal.Decimal, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return decimal.Decimal{}, fmt.Errorf("%v: %w", f, ErrNotANumber)
	}
	return decimal.NewFromFloat(f), nil
}

// DecodeString turns the words of a Str point into text: two ASCII
// characters a register in order o (AB or BA), with the NUL and space
// padding that meters add at either end removed.
func DecodeString(words []uint16, o Order) (string, error) {
	o, err := ParseOrder(Str, string(o))
	if err != nil {
		return "", err
	}
	b := make([]byte, 0, 2*len(words))
	for _, w := range words {
		b = append(b, valueBytes([]uint16{w}, o)...)
	}
	return strings.Trim(string(b), "\x00 "), nil
}
