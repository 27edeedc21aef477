package modbus

import (
	"errors"
	"path/filepath"
	"slices"
	"testing"

	"github.com/shopspring/decimal"
)

// TestEncode is TestDecode backwards: every type in every accepted order,
// the words written out by hand.
func TestEncode(t *testing.T) {
	tests := []struct {
		name  string
		value string
		typ   Type
		order Order
		want  []uint16
	}{
		{"u16 AB", "258", U16, "AB", []uint16{0x0102}},
		{"u16 BA", "258", U16, "BA", []uint16{0x0201}},
		{"u16 default order", "65535", U16, "", []uint16{0xFFFF}},
		{"i16 AB", "-123", I16, "AB", []uint16{0xFF85}},
		{"i16 BA", "-123", I16, "BA", []uint16{0x85FF}},
		{"u32 ABCD", "16909060", U32, "ABCD", []uint16{0x0102, 0x0304}},
		{"u32 CDAB", "16909060", U32, "CDAB", []uint16{0x0304, 0x0102}},
		{"u32 BADC", "16909060", U32, "BADC", []uint16{0x0201, 0x0403}},
		{"u32 DCBA", "16909060", U32, "DCBA", []uint16{0x0403, 0x0201}},
		{"i32 CDAB", "-123", I32, "CDAB", []uint16{0xFF85, 0xFFFF}},
		{"u64 GHEFCDAB", "72623859790382856", U64, "GHEFCDAB",
			[]uint16{0x0708, 0x0506, 0x0304, 0x0102}},
		{"u64 BADCFEHG", "72623859790382856", U64, "BADCFEHG",
			[]uint16{0x0201, 0x0403, 0x0605, 0x0807}},
		{"u64 beyond int64", "18446744073709551615", U64, "",
			[]uint16{0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF}},
		{"i64 HGFEDCBA", "-123", I64, "HGFEDCBA", []uint16{0x85FF, 0xFFFF, 0xFFFF, 0xFFFF}},
		{"i64 smallest", "-9223372036854775808", I64, "", []uint16{0x8000, 0, 0, 0}},
		{"f32 ABCD", "230.2", F32, "ABCD", []uint16{0x4366, 0x3333}},
		{"f32 BADC", "230.2", F32, "BADC", []uint16{0x6643, 0x3333}},
		{"f32 DCBA", "230.2", F32, "DCBA", []uint16{0x3333, 0x6643}},
		{"f32 field voltage CDAB (FC-01)", "238.6087", F32, "CDAB", []uint16{0x9BD4, 0x436E}},
		{"f32 more digits than the float", "238.60870361328125", F32, "ABCD",
			[]uint16{0x436E, 0x9BD4}},
		{"f32 below the smallest float", "1e-50", F32, "", []uint16{0, 0}},
		{"f64 ABCDEFGH", "0.1", F64, "ABCDEFGH", []uint16{0x3FB9, 0x9999, 0x9999, 0x999A}},
		{"f64 GHEFCDAB", "0.1", F64, "GHEFCDAB", []uint16{0x999A, 0x9999, 0x9999, 0x3FB9}},
		{"f64 HGFEDCBA", "1.5", F64, "HGFEDCBA", []uint16{0, 0, 0, 0xF83F}},
		{"bcd16 AB", "1234", BCD16, "AB", []uint16{0x1234}},
		{"bcd16 BA", "1234", BCD16, "BA", []uint16{0x3412}},
		{"bcd16 leading zeros", "9", BCD16, "", []uint16{0x0009}},
		{"bcd32 DCBA", "12345678", BCD32, "DCBA", []uint16{0x7856, 0x3412}},
		{"sbcd16 negative", "-123", SBCD16, "", []uint16{0xF123}},
		{"sbcd32 negative (FC-06.3)", "-22", SBCD32, "", []uint16{0xF000, 0x0022}},
		{"sbcd16 positive", "123", SBCD16, "", []uint16{0x0123}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := decimal.RequireFromString(tt.value)
			got, err := Encode(v, tt.typ, tt.order)
			if err != nil || !slices.Equal(got, tt.want) {
				t.Errorf("Encode(%s, %s, %s) = %04X, %v; want %04X", tt.value, tt.typ,
					tt.order, got, err, tt.want)
			}
		})
	}
}

func TestEncodeRefuses(t *testing.T) {
	tests := []struct {
		name  string
		value string
		typ   Type
		order Order
		is    error
	}{
		{"u16 above its range", "65536", U16, "", ErrNotEncodable},
		{"u16 negative", "-1", U16, "", ErrNotEncodable},
		{"i16 below its range", "-32769", I16, "", ErrNotEncodable},
		{"u32 with a fraction", "1.5", U32, "", ErrNotEncodable},
		{"u64 above its range", "18446744073709551616", U64, "", ErrNotEncodable},
		{"i64 above its range", "9223372036854775808", I64, "", ErrNotEncodable},
		{"f32 beyond the largest float", "1e39", F32, "", ErrNotEncodable},
		{"f64 beyond the largest float", "-1e309", F64, "", ErrNotEncodable},
		{"bcd16 five digits", "12345", BCD16, "", ErrNotEncodable},
		{"bcd16 negative", "-1", BCD16, "", ErrNotEncodable},
		{"sbcd16 negative of four digits", "-1000", SBCD16, "", ErrNotEncodable},
		{"bcd32 with a fraction", "0.5", BCD32, "", ErrNotEncodable},
		{"str is no number", "1", Str, "", ErrBadType},
		{"unknown type", "1", "UINT16", "", ErrBadType},
		{"order of another width", "1", U32, "AB", ErrBadOrder},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Encode(decimal.RequireFromString(tt.value), tt.typ, tt.order)
			if !errors.Is(err, tt.is) {
				t.Errorf("Encode(%s, %s, %s) = %04X, %v; want %v", tt.value, tt.typ,
					tt.order, got, err, tt.is)
			}
		})
	}
}

// roundTripValues are numbers every type of the row holds exactly.
var roundTripValues = map[Type][]string{
	U16:    {"0", "1", "258", "65535"},
	I16:    {"-32768", "-1", "0", "32767"},
	U32:    {"0", "16909060", "4294967295"},
	I32:    {"-2147483648", "-123", "2147483647"},
	U64:    {"0", "72623859790382856", "18446744073709551615"},
	I64:    {"-9223372036854775808", "-1", "9223372036854775807"},
	F32:    {"0", "-12.5", "238.6087", "77.5146", "3.4028235e+38", "1e-45"},
	F64:    {"0", "0.1", "-1.5", "12345678.901", "1.7976931348623157e+308"},
	BCD16:  {"0", "9", "1234", "9999"},
	BCD32:  {"0", "12345678", "99999999"},
	SBCD16: {"-999", "-1", "0", "9999"},
	SBCD32: {"-9999999", "-22", "99999999"},
}

// TestEncodeRoundTrip decodes what Encode sent, for every type in every
// order accepted for its width.
func TestEncodeRoundTrip(t *testing.T) {
	for typ, values := range roundTripValues {
		for _, o := range AcceptedOrders(typ.Registers()) {
			for _, s := range values {
				t.Run(string(typ)+" "+string(o)+" "+s, func(t *testing.T) {
					v := decimal.RequireFromString(s)
					words, err := Encode(v, typ, o)
					if err != nil {
						t.Fatalf("Encode(%s, %s, %s): %v", s, typ, o, err)
					}
					got, err := Decode(words, typ, o)
					if err != nil || !got.Equal(v) {
						t.Errorf("Decode(Encode(%s)) = Decode(%04X, %s, %s) = %s, %v", s, words,
							typ, o, got, err)
					}
				})
			}
		}
	}
}

// TestEncodeFieldCases runs the decode and frame vectors of testdata/field
// backwards: the number a vector decodes to, unscaled, encodes to its
// words. Vectors whose number was rounded to fewer places than it had are
// left out, as no words follow from them.
func TestEncodeFieldCases(t *testing.T) {
	files, err := filepath.Glob("testdata/field/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no field cases found: %v", err)
	}
	for _, file := range files {
		var f decodeCaseFile
		decodeReadYAML(t, file, &f)
		t.Run(f.Case, func(t *testing.T) {
			for _, v := range f.Decode {
				if v.Is == "" {
					t.Run(v.Name, func(t *testing.T) {
						encodeBackwards(t, v.Words, v.Type, v.Order, v.Want, v.Scale)
					})
				}
			}
			for _, v := range f.Frames {
				t.Run(v.Name, func(t *testing.T) {
					words := decodeFrameWords(t, v.Frame)
					encodeBackwards(t, words, v.Type, v.Order, v.Want, "")
				})
			}
		})
	}
}

// encodeBackwards checks that want, divided by scale, encodes to words.
func encodeBackwards(t *testing.T, words []uint16, typ Type, o Order, want, scale string) {
	t.Helper()
	v := decimal.RequireFromString(want)
	if scale != "" {
		v = v.DivRound(decimal.RequireFromString(scale), 20)
	}
	exact, err := Decode(words, typ, o)
	if err != nil || !exact.Equal(v) {
		t.Skipf("%s is %04X rounded, not its exact number %s", want, words, exact)
	}
	got, err := Encode(v, typ, o)
	if err != nil || !slices.Equal(got, words) {
		t.Errorf("Encode(%s, %s, %s) = %04X, %v; want %04X", v, typ, o, got, err, words)
	}
}

func TestEncodeString(t *testing.T) {
	tests := []struct {
		name  string
		text  string
		n     int
		order Order
		want  []uint16
		is    error
	}{
		{"padded with NUL", "B23 31", 4, "", []uint16{0x4232, 0x3320, 0x3331, 0x0000}, nil},
		{"odd length", "B23", 2, "AB", []uint16{0x4232, 0x3300}, nil},
		{"swapped characters", "B23", 2, "BA", []uint16{0x3242, 0x0033}, nil},
		{"exactly full", "ABCD", 2, "", []uint16{0x4142, 0x4344}, nil},
		{"too long", "ABCDE", 2, "", nil, ErrNotEncodable},
		{"not ASCII", "Есеп", 8, "", nil, ErrNotEncodable},
		{"no registers", "", 0, "", nil, ErrNotEncodable},
		{"word order", "AB", 1, "CDAB", nil, ErrBadOrder},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := EncodeString(tt.text, tt.n, tt.order)
			if tt.is != nil {
				if !errors.Is(err, tt.is) {
					t.Fatalf("EncodeString(%q, %d, %s) = %04X, %v; want %v", tt.text, tt.n,
						tt.order, got, err, tt.is)
				}
				return
			}
			if err != nil || !slices.Equal(got, tt.want) {
				t.Fatalf("EncodeString(%q, %d, %s) = %04X, %v; want %04X", tt.text, tt.n,
					tt.order, got, err, tt.want)
			}
			if back, err := DecodeString(got, tt.order); err != nil || back != tt.text {
				t.Errorf("DecodeString(%04X, %s) = %q, %v; want %q", got, tt.order, back,
					err, tt.text)
			}
		})
	}
}

// FuzzEncodeDecode checks both directions: words that decode encode back
// to the same words (negative zero aside), and a number that encodes
// decodes to a number that encodes to the same words again.
func FuzzEncodeDecode(f *testing.F) {
	f.Add([]byte{0x9B, 0xD4, 0x43, 0x6E}, uint8(6), "CDAB", "238.6087")  // FC-01
	f.Add([]byte{0xAA, 0x11, 0x00, 0x5C}, uint8(2), "CDAB", "6072849")   // FC-02.1
	f.Add([]byte{0xFF, 0xFF, 0xF9, 0x1C}, uint8(3), "ABCD", "-1764")     // FC-02.3
	f.Add([]byte{0xF0, 0x00, 0x00, 0x22}, uint8(11), "", "-22")          // FC-06.3
	f.Add([]byte{0, 0, 0, 0, 0, 1, 0, 0}, uint8(4), "ABCDEFGH", "65536") // FC-07.1
	f.Add([]byte{0x3F, 0xB9, 0x99, 0x99, 0x99, 0x99, 0x99, 0x9A}, uint8(7), "", "0.1")
	f.Add([]byte{0x80, 0x00, 0x00, 0x00}, uint8(6), "DCBA", "-0.000001")
	f.Fuzz(func(t *testing.T, raw []byte, ti uint8, order, number string) {
		typ := fuzzTypes[int(ti)%len(fuzzTypes)]
		words := make([]uint16, len(raw)/2)
		for i := range words {
			words[i] = uint16(raw[2*i])<<8 | uint16(raw[2*i+1])
		}
		if d, err := Decode(words, typ, Order(order)); err == nil {
			back, err := Encode(d, typ, Order(order))
			if err != nil || !slices.Equal(back, words) && !d.IsZero() {
				t.Fatalf("Encode(Decode(%04X, %s, %q) = %s) = %04X, %v", words, typ, order, d,
					back, err)
			}
		}
		v, err := decimal.NewFromString(number)
		if err != nil || v.Exponent() < -400 || v.Exponent() > 400 {
			return // ParseFloat of a million digits is slow, not wrong
		}
		checkEncodeStable(t, v, typ, Order(order))
	})
}

// checkEncodeStable encodes v, decodes the words and encodes the number
// again: the words must not change.
func checkEncodeStable(t *testing.T, v decimal.Decimal, typ Type, o Order) {
	t.Helper()
	words, err := Encode(v, typ, o)
	if err != nil {
		if !errors.Is(err, ErrNotEncodable) && !isDecodeError(err) {
			t.Fatalf("Encode(%s, %s, %q): error %v wraps no sentinel", v, typ, o, err)
		}
		return
	}
	d, err := Decode(words, typ, o)
	if err != nil {
		t.Fatalf("Decode(Encode(%s, %s, %q) = %04X): %v", v, typ, o, words, err)
	}
	again, err := Encode(d, typ, o)
	if err != nil || !slices.Equal(again, words) && !d.IsZero() {
		t.Fatalf("Encode(%s) = %04X, then %s encodes to %04X, %v", v, words, d, again, err)
	}
}
