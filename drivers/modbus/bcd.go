package modbus

import (
	"fmt"

	"github.com/shopspring/decimal"
)

// BCD decodes binary-coded decimal: one digit per nibble, two per byte.
// The Modbus bcd types use it with the most significant byte first; the
// M-Bus driver uses it for DIF types A (EN 13757-3), whose bytes come
// least significant first.
//
// A nibble A–F is refused with ErrBadBCD, never read as 10–15 (FC-06.2),
// except an F in the most significant nibble when SignNibble is set: then
// it marks a negative number (EN 13757-3 annex B; FC-06.3).
type BCD struct {
	// LeastFirst says the least significant byte comes first, as in M-Bus
	// data records (FC-06.1).
	LeastFirst bool
	// SignNibble accepts F in the most significant nibble as a minus
	// sign. Set it only where the device's documentation defines it.
	SignNibble bool
}

// Decode returns the number that b encodes.
func (f BCD) Decode(b []byte) (decimal.Decimal, error) {
	digits, err := f.Digits(b)
	if err != nil {
		return decimal.Decimal{}, err
	}
	return decimal.NewFromString(digits)
}

// Digits returns the digits b encodes, most significant first and with
// leading zeros kept, as an identifier such as a serial number needs;
// a negative number starts with "-".
func (f BCD) Digits(b []byte) (string, error) {
	if len(b) == 0 {
		return "", fmt.Errorf("no bytes: %w", ErrBadBCD)
	}
	msb := make([]byte, len(b))
	for i := range b {
		if f.LeastFirst {
			msb[i] = b[len(b)-1-i]
		} else {
			msb[i] = b[i]
		}
	}

	sign := ""
	if f.SignNibble && msb[0]>>4 == 0xF {
		sign = "-"
		msb[0] &= 0x0F
	}
	digits := make([]byte, 0, 2*len(msb))
	for i, c := range msb {
		for _, nib := range [2]byte{c >> 4, c & 0x0F} {
			if nib > 9 {
				return "", fmt.Errorf("nibble %X in byte %d of % X: %w", nib, i, msb, ErrBadBCD)
			}
			digits = append(digits, '0'+nib)
		}
	}
	return sign + string(digits), nil
}
