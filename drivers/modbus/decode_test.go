package modbus

import (
	"errors"
	"strings"
	"testing"
)

// TestDecode covers every type in every accepted order. The words are
// the value's big-endian bytes (0x01 0x02 ... or a known float) put on
// the wire as each order says, written out by hand.
func TestDecode(t *testing.T) {
	tests := []struct {
		name  string
		words []uint16
		typ   Type
		order Order
		want  string
		is    error
	}{
		{"u16 AB", []uint16{0x0102}, U16, "AB", "258", nil},
		{"u16 BA", []uint16{0x0201}, U16, "BA", "258", nil},
		{"u16 default order", []uint16{0xFFFF}, U16, "", "65535", nil},
		{"i16 AB", []uint16{0xFF85}, I16, "AB", "-123", nil},
		{"i16 BA", []uint16{0x85FF}, I16, "BA", "-123", nil},
		{"u32 ABCD", []uint16{0x0102, 0x0304}, U32, "ABCD", "16909060", nil},
		{"u32 CDAB", []uint16{0x0304, 0x0102}, U32, "CDAB", "16909060", nil},
		{"u32 BADC", []uint16{0x0201, 0x0403}, U32, "BADC", "16909060", nil},
		{"u32 DCBA", []uint16{0x0403, 0x0201}, U32, "DCBA", "16909060", nil},
		{"i32 ABCD", []uint16{0xFFFF, 0xFF85}, I32, "ABCD", "-123", nil},
		{"i32 CDAB", []uint16{0xFF85, 0xFFFF}, I32, "CDAB", "-123", nil},
		{"i32 BADC", []uint16{0xFFFF, 0x85FF}, I32, "BADC", "-123", nil},
		{"i32 DCBA", []uint16{0x85FF, 0xFFFF}, I32, "DCBA", "-123", nil},
		{"u64 ABCDEFGH", []uint16{0x0102, 0x0304, 0x0506, 0x0708}, U64, "ABCDEFGH",
			"72623859790382856", nil},
		{"u64 GHEFCDAB", []uint16{0x0708, 0x0506, 0x0304, 0x0102}, U64, "GHEFCDAB",
			"72623859790382856", nil},
		{"u64 BADCFEHG", []uint16{0x0201, 0x0403, 0x0605, 0x0807}, U64, "BADCFEHG",
			"72623859790382856", nil},
		{"u64 HGFEDCBA", []uint16{0x0807, 0x0605, 0x0403, 0x0201}, U64, "HGFEDCBA",
			"72623859790382856", nil},
		{"u64 beyond int64", []uint16{0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF}, U64, "",
			"18446744073709551615", nil},
		{"i64", []uint16{0xFFFF, 0xFFFF, 0xFFFF, 0xFF85}, I64, "", "-123", nil},
		{"f32 ABCD", []uint16{0x4366, 0x3333}, F32, "ABCD", "230.2", nil},
		{"f32 CDAB", []uint16{0x3333, 0x4366}, F32, "CDAB", "230.2", nil},
		{"f32 BADC", []uint16{0x6643, 0x3333}, F32, "BADC", "230.2", nil},
		{"f32 DCBA", []uint16{0x3333, 0x6643}, F32, "DCBA", "230.2", nil},
		{"f32 negative zero", []uint16{0x8000, 0x0000}, F32, "", "0", nil},
		{"f32 NaN", []uint16{0x7FC0, 0x0000}, F32, "", "", ErrNotANumber},
		{"f32 +Inf", []uint16{0x7F80, 0x0000}, F32, "", "", ErrNotANumber},
		{"f32 -Inf", []uint16{0xFF80, 0x0000}, F32, "", "", ErrNotANumber},
		{"f64 ABCDEFGH", []uint16{0x3FB9, 0x9999, 0x9999, 0x999A}, F64, "ABCDEFGH", "0.1", nil},
		{"f64 GHEFCDAB", []uint16{0x999A, 0x9999, 0x9999, 0x3FB9}, F64, "GHEFCDAB", "0.1", nil},
		{"f64 BADCFEHG", []uint16{0xF83F, 0, 0, 0}, F64, "BADCFEHG", "1.5", nil},
		{"f64 HGFEDCBA", []uint16{0, 0, 0, 0xF83F}, F64, "HGFEDCBA", "1.5", nil},
		{"f64 NaN", []uint16{0x7FF8, 0, 0, 0}, F64, "", "", ErrNotANumber},
		{"bcd16 AB", []uint16{0x1234}, BCD16, "AB", "1234", nil},
		{"bcd16 BA", []uint16{0x3412}, BCD16, "BA", "1234", nil},
		{"bcd32 DCBA", []uint16{0x7856, 0x3412}, BCD32, "DCBA", "12345678", nil},
		{"bcd32 nibble A", []uint16{0x0000, 0x00A0}, BCD32, "", "", ErrBadBCD},
		{"sbcd16 negative", []uint16{0xF123}, SBCD16, "", "-123", nil},
		{"sbcd16 positive", []uint16{0x0123}, SBCD16, "", "123", nil},
		{"too few words", []uint16{0x0102}, U32, "", "", ErrWordCount},
		{"too many words", []uint16{1, 2, 3}, U32, "", "", ErrWordCount},
		{"unknown type", []uint16{1}, "UINT16", "", "", ErrBadType},
		{"str is no number", []uint16{0x4142}, Str, "", "", ErrBadType},
		{"order of another width", []uint16{1, 2}, U32, "AB", "", ErrBadOrder},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode(tt.words, tt.typ, tt.order)
			if tt.is != nil {
				if !errors.Is(err, tt.is) {
					t.Fatalf("Decode(%04X, %s, %s) = %v, %v; want %v", tt.words, tt.typ,
						tt.order, got, err, tt.is)
				}
				return
			}
			if err != nil || got.String() != tt.want {
				t.Errorf("Decode(%04X, %s, %s) = %v, %v; want %s", tt.words, tt.typ,
					tt.order, got, err, tt.want)
			}
		})
	}
}

func TestParseOrder(t *testing.T) {
	tests := []struct {
		typ  Type
		in   string
		want Order
		err  string
	}{
		{U16, "", "AB", ""},
		{F32, "", "ABCD", ""},
		{U64, "", "ABCDEFGH", ""},
		{Str, "BA", "BA", ""},
		{I32, "CDAB", "CDAB", ""},
		{U16, "CDAB", "", `order "CDAB" does not fit type "u16" (1 registers), accepted: AB, BA`},
		{U64, "ABCD", "", "accepted: ABCDEFGH, GHEFCDAB, BADCFEHG, HGFEDCBA"},
		{F32, "abcd", "", "accepted: ABCD, CDAB, BADC, DCBA"},
		{"float", "ABCD", "", `type "float"`},
	}
	for _, tt := range tests {
		t.Run(string(tt.typ)+" "+tt.in, func(t *testing.T) {
			got, err := ParseOrder(tt.typ, tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("ParseOrder(%s, %q) = %v, %v; want error %q", tt.typ, tt.in,
						got, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("ParseOrder(%s, %q) = %v, %v; want %s", tt.typ, tt.in, got, err, tt.want)
			}
		})
	}
}

func TestOrderForWidth(t *testing.T) {
	tests := []struct {
		from       Order
		w1, w2, w4 Order
	}{
		{"AB", "AB", "ABCD", "ABCDEFGH"},
		{"BA", "BA", "BADC", "BADCFEHG"},
		{"CDAB", "AB", "CDAB", "GHEFCDAB"},
		{"DCBA", "BA", "DCBA", "HGFEDCBA"},
		{"GHEFCDAB", "AB", "CDAB", "GHEFCDAB"},
		{"BADCFEHG", "BA", "BADC", "BADCFEHG"},
	}
	for _, tt := range tests {
		t.Run(string(tt.from), func(t *testing.T) {
			got := [3]Order{tt.from.forWidth(1), tt.from.forWidth(2), tt.from.forWidth(4)}
			if want := [3]Order{tt.w1, tt.w2, tt.w4}; got != want {
				t.Errorf("forWidth = %v, want %v", got, want)
			}
		})
	}
}

func TestDecodeString(t *testing.T) {
	tests := []struct {
		name  string
		words []uint16
		order Order
		want  string
	}{
		{"padded with NUL", []uint16{0x4232, 0x3320, 0x3331, 0x0000}, "", "B23 31"},
		{"swapped characters", []uint16{0x3242, 0x2033}, "BA", "B23"},
		{"trimmed spaces", []uint16{0x2041, 0x2020}, "AB", "A"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeString(tt.words, tt.order)
			if err != nil || got != tt.want {
				t.Errorf("DecodeString(%04X, %s) = %q, %v; want %q", tt.words, tt.order,
					got, err, tt.want)
			}
		})
	}
}

func TestBCDDigits(t *testing.T) {
	tests := []struct {
		name string
		f    BCD
		in   []byte
		want string
	}{
		{"leading zeros kept", BCD{}, []byte{0x00, 0x12, 0x34, 0x56}, "00123456"},
		{"least first", BCD{LeastFirst: true}, []byte{0x56, 0x34, 0x12, 0x00}, "00123456"},
		{"signed", BCD{SignNibble: true}, []byte{0xF0, 0x01}, "-0001"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.f.Digits(tt.in)
			if err != nil || got != tt.want {
				t.Errorf("%+v.Digits(% X) = %q, %v; want %q", tt.f, tt.in, got, err, tt.want)
			}
		})
	}
	if _, err := (BCD{}).Decode(nil); !errors.Is(err, ErrBadBCD) {
		t.Errorf("Decode(nil) = %v, want ErrBadBCD", err)
	}
}

var fuzzTypes = []Type{U16, I16, U32, I32, U64, I64, F32, F64, BCD16, BCD32, SBCD16, SBCD32,
	Str, "x"}

// FuzzDecode decodes arbitrary words as every type in arbitrary orders:
// it must never panic, and every error must wrap one of the sentinels.
func FuzzDecode(f *testing.F) {
	f.Add([]byte{0x9B, 0xD4, 0x43, 0x6E}, uint8(6), "CDAB")           // FC-01
	f.Add([]byte{0xAA, 0x11, 0x00, 0x5C}, uint8(2), "CDAB")           // FC-02.1
	f.Add([]byte{0xFF, 0xFF, 0xF9, 0x1C}, uint8(3), "ABCD")           // FC-02.3
	f.Add([]byte{0x00, 0x00, 0x3F, 0x80}, uint8(6), "CDAB")           // FC-03.2
	f.Add([]byte{0xAE, 0xF6, 0x00, 0x00}, uint8(6), "")               // FC-05.2
	f.Add([]byte{0x00, 0x0A}, uint8(8), "AB")                         // FC-06.2
	f.Add([]byte{0xF0, 0x00, 0x00, 0x22}, uint8(11), "")              // FC-06.3
	f.Add([]byte{0, 0, 0, 0, 0, 1, 0, 0}, uint8(4), "ABCD")           // FC-07.1
	f.Add([]byte{0x7F, 0xF8, 0, 0, 0, 0, 0, 0}, uint8(7), "HGFEDCBA") // NaN
	f.Fuzz(func(t *testing.T, raw []byte, ti uint8, order string) {
		words := make([]uint16, len(raw)/2)
		for i := range words {
			words[i] = uint16(raw[2*i])<<8 | uint16(raw[2*i+1])
		}
		typ := fuzzTypes[int(ti)%len(fuzzTypes)]
		_, err := Decode(words, typ, Order(order))
		if err != nil && !isDecodeError(err) {
			t.Fatalf("Decode(%04X, %s, %q): error %v wraps no sentinel", words, typ, order, err)
		}
		if typ == Str {
			DecodeString(words, Order(order))
		}
	})
}

func isDecodeError(err error) bool {
	for _, s := range []error{ErrBadBCD, ErrNotANumber, ErrBadOrder, ErrBadType, ErrWordCount} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}
