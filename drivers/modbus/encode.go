package modbus

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/shopspring/decimal"
)

// integerRange is the smallest and largest number of each integer type.
var integerRange = map[Type][2]decimal.Decimal{
	U16: {decimal.Zero, decimal.NewFromInt(math.MaxUint16)},
	I16: {decimal.NewFromInt(math.MinInt16), decimal.NewFromInt(math.MaxInt16)},
	U32: {decimal.Zero, decimal.NewFromInt(math.MaxUint32)},
	I32: {decimal.NewFromInt(math.MinInt32), decimal.NewFromInt(math.MaxInt32)},
	U64: {decimal.Zero, decimal.NewFromUint64(math.MaxUint64)},
	I64: {decimal.NewFromInt(math.MinInt64), decimal.NewFromInt(math.MaxInt64)},
}

// Encode turns a number into the words of one value of type t as they
// go on the wire in order o: the inverse of Decode. Integers and BCD
// must be whole and within the type's range; floats take the nearest
// float of their width, so a number that Decode returned encodes to the
// words it came from (negative zero aside, which Decode returns as 0).
// An empty o means big-endian.
func Encode(v decimal.Decimal, t Type, o Order) ([]uint16, error) {
	n := t.Registers()
	if n == 0 {
		return nil, fmt.Errorf("type %q: %w", t, ErrBadType)
	}
	o, err := ParseOrder(t, string(o))
	if err != nil {
		return nil, err
	}

	b, err := encodeBytes(v, t, 2*n)
	if err != nil {
		return nil, fmt.Errorf("%s as %s: %w", v, t, err)
	}
	return wireWords(b, o), nil
}

// encodeBytes returns the size big-endian bytes of v as type t.
func encodeBytes(v decimal.Decimal, t Type, size int) ([]byte, error) {
	switch {
	case t.Float():
		return encodeFloat(v, t)
	case t.BCD():
		return encodeBCD(v, t == SBCD16 || t == SBCD32, size)
	}
	return encodeInteger(v, t, size)
}

func encodeInteger(v decimal.Decimal, t Type, size int) ([]byte, error) {
	if !v.IsInteger() {
		return nil, fmt.Errorf("an integer type has no fraction: %w", ErrNotEncodable)
	}
	r := integerRange[t]
	if v.LessThan(r[0]) || v.GreaterThan(r[1]) {
		return nil, fmt.Errorf("outside %s..%s: %w", r[0], r[1], ErrNotEncodable)
	}

	// Two's complement: the low bytes of the 64-bit pattern are those of
	// the narrower type.
	u := uint64(v.IntPart())
	if v.Sign() > 0 {
		u = v.BigInt().Uint64() // beyond int64 for u64
	}
	b := binary.BigEndian.AppendUint64(nil, u)
	return b[8-size:], nil
}

// encodeFloat rounds v to the nearest float of the type. ParseFloat
// rounds the exact decimal once; going through float64 first would
// round twice and miss the nearest float32 now and then.
func encodeFloat(v decimal.Decimal, t Type) ([]byte, error) {
	bits := 64
	if t == F32 {
		bits = 32
	}
	f, err := strconv.ParseFloat(v.String(), bits)
	if err != nil || math.IsInf(f, 0) {
		return nil, fmt.Errorf("beyond the largest %s: %w", t, ErrNotEncodable)
	}
	if bits == 32 {
		return binary.BigEndian.AppendUint32(nil, math.Float32bits(float32(f))), nil
	}
	return binary.BigEndian.AppendUint64(nil, math.Float64bits(f)), nil
}

// encodeBCD writes one digit a nibble, most significant first; a
// negative number of a signed type has F in its first nibble (EN 13757-3
// annex B), as BCD.Decode reads it.
func encodeBCD(v decimal.Decimal, signed bool, size int) ([]byte, error) {
	if !v.IsInteger() {
		return nil, fmt.Errorf("bcd has no fraction: %w", ErrNotEncodable)
	}
	neg := v.Sign() < 0
	if neg && !signed {
		return nil, fmt.Errorf("unsigned bcd has no sign: %w", ErrNotEncodable)
	}
	width := 2 * size
	if neg {
		width-- // the sign takes a nibble
	}
	digits := v.Abs().String()
	if len(digits) > width {
		return nil, fmt.Errorf("more than %d digits: %w", width, ErrNotEncodable)
	}

	nibbles := strings.Repeat("0", width-len(digits)) + digits
	if neg {
		nibbles = "F" + nibbles
	}
	b := make([]byte, size)
	for i := range b {
		hi, _ := strconv.ParseUint(nibbles[2*i:2*i+2], 16, 8)
		b[i] = byte(hi)
	}
	return b, nil
}

// wireWords puts the big-endian bytes b of a value on the wire as o
// says: the inverse of valueBytes.
func wireWords(b []byte, o Order) []uint16 {
	words := make([]uint16, len(b)/2)
	for i := range words {
		hi, lo := b[o[2*i]-'A'], b[o[2*i+1]-'A']
		words[i] = uint16(hi)<<8 | uint16(lo)
	}
	return words
}

// EncodeString turns text into the words of a Str field of n registers:
// two ASCII characters a register in order o (AB, or BA for swapped
// characters), padded with NUL at the end as most meters pad. It is the
// inverse of DecodeString for text without padding of its own.
func EncodeString(s string, n int, o Order) ([]uint16, error) {
	o, err := ParseOrder(Str, string(o))
	if err != nil {
		return nil, err
	}
	if n < 1 || len(s) > 2*n {
		return nil, fmt.Errorf("%q in %d registers: %w", s, n, ErrNotEncodable)
	}
	for i := range len(s) {
		if s[i] >= 0x80 {
			return nil, fmt.Errorf("%q is not ASCII: %w", s, ErrNotEncodable)
		}
	}

	b := make([]byte, 2*n)
	copy(b, s)
	words := make([]uint16, n)
	for i := range words {
		words[i] = wireWords(b[2*i:2*i+2], o)[0]
	}
	return words, nil
}
