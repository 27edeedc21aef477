package sim

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

// readOnly is a Device that is not a Writer.
type readOnly struct{ b *Bank }

func (r readOnly) ReadBits(fn Function, addr, count uint16) ([]bool, Exception) {
	return r.b.ReadBits(fn, addr, count)
}

func (r readOnly) ReadRegisters(fn Function, addr, count uint16) ([]uint16, Exception) {
	return r.b.ReadRegisters(fn, addr, count)
}

// short is a Device that returns one value too few.
type short struct{}

func (short) ReadBits(_ Function, _, count uint16) ([]bool, Exception) {
	return make([]bool, count-1), 0
}

func (short) ReadRegisters(_ Function, _, count uint16) ([]uint16, Exception) {
	return make([]uint16, count-1), 0
}

func hexBytes(t *testing.T, s string) []byte {
	t.Helper()
	b, err := appendHex(nil, strings.Fields(s))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestExecute(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		dev  Device
		req  string
		want string
	}{
		{"read holding", testBank(), "03 0064 0003", "03 06 0001 0002 FFFF"},
		{"read input", testBank(), "04 001E 0002", "04 04 1234 5678"},
		{"read coils", testBank(), "01 0000 0003", "01 01 05"},
		{"read discrete", testBank(), "02 0007 0001", "02 01 01"},
		{"missing register", testBank(), "03 0063 0001", "83 02"},
		{"quantity 0", testBank(), "03 0064 0000", "83 03"},
		{"126 registers", testBank(), "03 0000 007E", "83 03"},
		{"2001 coils", testBank(), "01 0000 07D1", "81 03"},
		{"past address 65535", testBank(), "03 FFFF 0002", "83 02"},
		{"request too short", testBank(), "03 0064 00", "83 03"},
		{"unknown function", testBank(), "2B 0E 01 00", "AB 01"},
		{"device returns too few", short{}, "03 0000 0002", "83 04"},
		{"write single register", testBank(), "06 0064 1234", "06 0064 1234"},
		{"write single register missing", testBank(), "06 0063 1234", "86 02"},
		{"write single coil on", testBank(), "05 0001 FF00", "05 0001 FF00"},
		{"write single coil bad value", testBank(), "05 0001 1234", "85 03"},
		{"write multiple registers", testBank(), "10 0064 0002 04 AAAA BBBB", "10 0064 0002"},
		{"write multiple registers byte count", testBank(), "10 0064 0002 03 AAAA BB", "90 03"},
		{"write multiple coils", testBank(), "0F 0000 0003 01 02", "0F 0000 0003"},
		{"write to read-only meter", readOnly{testBank()}, "06 0064 1234", "86 01"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := execute(tt.dev, hexBytes(t, tt.req))
			if want := hexBytes(t, tt.want); !bytes.Equal(got, want) {
				t.Errorf("execute(%s)\n got % X\nwant % X", tt.req, got, want)
			}
		})
	}
}

func TestBankWrites(t *testing.T) {
	t.Parallel()
	b := testBank()
	steps := []struct{ req, want string }{
		{"10 0064 0002 04 AAAA BBBB", "10 0064 0002"},
		{"03 0064 0003", "03 06 AAAA BBBB FFFF"},
		{"10 0065 0003 06 0001 0002 0003", "90 02"}, // 103 is missing
		{"03 0064 0003", "03 06 AAAA BBBB FFFF"},    // nothing written
		{"0F 0000 0003 01 02", "0F 0000 0003"},
		{"01 0000 0003", "01 01 02"},
		{"05 0002 FF00", "05 0002 FF00"},
		{"01 0000 0003", "01 01 06"},
	}
	for i, st := range steps {
		if got := execute(b, hexBytes(t, st.req)); !bytes.Equal(got, hexBytes(t, st.want)) {
			t.Errorf("step %d: execute(%s) = % X; want %s", i+1, st.req, got, st.want)
		}
	}
}

func TestCRC(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, frame string }{
		{"FC-12.1 request", "CA 03 00 00 00 01 94 71"},
		{"FC-12.2 reply", "0A 81 02 B0 53"},
		{"FC-10.2 reply", "26 04 04 14 8E 27 10 D3 61"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := hexBytes(t, tt.frame)
			if got := appendCRC(slices.Clone(f[:len(f)-2])); !bytes.Equal(got, f) || !crcOK(f) {
				t.Errorf("CRC of % X: got % X", f[:len(f)-2], got[len(got)-2:])
			}
		})
	}
}

// FuzzExecute checks that any request PDU gets a well-formed answer: the
// function code, with the exception bit and a code, or data.
func FuzzExecute(f *testing.F) {
	for _, seed := range []string{
		"03 0064 0003", "01 0000 0003", "10 0064 0002 04 AAAA BBBB", "0F 0000 0003 01 02",
		"05 0001 FF00", "03 FFFF 0002", "2B 0E 01 00",
	} {
		b, _ := appendHex(nil, strings.Fields(seed))
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, req []byte) {
		if len(req) == 0 {
			return
		}
		got := execute(testBank(), req)
		switch {
		case len(got) < 2 || got[0]&0x7F != req[0]&0x7F:
			t.Fatalf("execute(% X) = % X: not an answer to function %d", req, got, req[0])
		case got[0]&0x80 != 0 && (len(got) != 2 || got[1] == 0):
			t.Fatalf("execute(% X) = % X: malformed exception", req, got)
		case len(got) > 253:
			t.Fatalf("execute(% X) = %d bytes: longer than a PDU", req, len(got))
		}
	})
}
