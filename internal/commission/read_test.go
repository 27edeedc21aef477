package commission

import (
	"math"
	"strings"
	"testing"

	"github.com/esep-kz/esep/internal/sim"
	"github.com/esep-kz/esep/internal/testkit"
)

// readBank holds the field-case vectors as meters send them.
func readBank() *sim.Bank {
	b := sim.NewBank()
	// FC-01: a voltage, IEEE float with the low word first (CDAB).
	b.SetRegisters(sim.ReadHoldingRegisters, 2, 0x9BD4, 0x436E)
	// FC-02.3: a battery power, int32 high word first.
	b.SetRegisters(sim.ReadHoldingRegisters, 100, 0xFFFF, 0xF91C)
	// FC-05.2: SDM72 L1 and L2 voltages at input register 0.
	b.SetRegisters(sim.ReadInputRegisters, 0, 0x436A, 0xAEF6, 0x0000, 0x0000)
	// 1234.5 as a float64, high word first.
	f := math.Float64bits(1234.5)
	b.SetRegisters(sim.ReadInputRegisters, 10,
		uint16(f>>48), uint16(f>>32), uint16(f>>16), uint16(f))
	b.SetBits(sim.ReadCoils, 0, true, false, true)
	return b
}

func TestReadFC01AllInterpretations(t *testing.T) {
	t.Parallel()
	addr := simTCP(t, newUnits(t, map[byte]unit{1: {device: readBank()}}), sim.TCPConfig{})
	code, out, _ := run(t, "read", "-tcp", addr, "-slave", "1", "-address", "2", "-count", "2")
	if code != 0 {
		t.Fatalf("exit %d, want 0", code)
	}

	checkSection(t, out, "ADDR WIRE", "ADDR WIRE HEX U16 I16 TEXT",
		"2 0x0002 0x9BD4 39892 -25644 ..", "3 0x0003 0x436E 17262 17262 Cn")
	checkSection(t, out, "32-bit", "32-bit values of each pair of registers",
		"ADDR ORDER U32 I32 F32",
		"2 ABCD 2614379374 -1680587922 -3.5116033e-22",
		"2 CDAB 1131322324 1131322324 238.6087",
		"2 BADC 3566956099 -728011197 -5.3405585e+12",
		"2 DCBA 1849939099 1849939099 1.515165e+28")
	if strings.Contains(out, "64-bit") {
		t.Errorf("two registers interpreted as 64-bit values:\n%s", out)
	}
	if want := "slave 1 on tcp " + addr + ": holding registers 0x0002+2, " +
		"from pdu 2 = register 3 = modicon 40003\n"; !strings.HasPrefix(out, want) {
		t.Errorf("output does not begin %q:\n%s", want, out)
	}
}

// TestReadChosen reads each vector with -type and -order narrowing the
// interpretations, and the address in each notation -base allows.
func TestReadChosen(t *testing.T) {
	t.Parallel()
	addr := simTCP(t, newUnits(t, map[byte]unit{1: {device: readBank()}}), sim.TCPConfig{})
	tests := []struct {
		name string
		args []string
		want []string // the section of the first value width, header first
	}{
		{"FC-01 f32 CDAB",
			[]string{"-address", "2", "-count", "2", "-type", "f32", "-order", "CDAB"},
			[]string{"ADDR ORDER F32", "2 CDAB 238.6087"}},
		{"FC-02.3 i32 ABCD",
			[]string{"-address", "100", "-count", "2", "-type", "i32", "-order", "abcd"},
			[]string{"ADDR ORDER I32", "100 ABCD -1764"}},
		{"hex address",
			[]string{"-address", "0x64", "-count", "2", "-type", "i32", "-order", "ABCD"},
			[]string{"ADDR ORDER I32", "100 ABCD -1764"}},
		{"register base",
			[]string{"-base", "register", "-address", "3", "-count", "2", "-order", "CDAB",
				"-type", "f32"},
			[]string{"ADDR ORDER F32", "3 CDAB 238.6087"}},
		{"modicon base names the table",
			[]string{"-base", "modicon", "-address", "40003", "-count", "2", "-order", "CDAB",
				"-type", "f32"},
			[]string{"ADDR ORDER F32", "40003 CDAB 238.6087"}},
		// FC-05.2: one register off pairs the halves of two values.
		{"FC-05.2 aligned and one off",
			[]string{"-function", "4", "-count", "3", "-type", "f32", "-order", "ABCD"},
			[]string{"ADDR ORDER F32", "0 ABCD 234.68344", "1 ABCD -1.1186785e-10"}},
		{"f64 in every order",
			[]string{"-function", "input", "-address", "10", "-count", "4", "-type", "f64"},
			[]string{"ADDR ORDER F64", "10 ABCDEFGH 1234.5", "10 GHEFCDAB 6.133975757e-315",
				"10 BADCFEHG -5.802080474664164e-216", "10 HGFEDCBA 2.4146767e-317"}},
		{"4-letter order chooses 64-bit form",
			[]string{"-function", "4", "-address", "10", "-count", "4", "-type", "u64",
				"-order", "CDAB"},
			[]string{"ADDR ORDER U64", "10 GHEFCDAB 1241530515"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"read", "-tcp", addr}, tt.args...)
			code, out, _ := run(t, args...)
			if code != 0 {
				t.Fatalf("exit %d, want 0", code)
			}
			checkSection(t, out, "ADDR ORDER", tt.want...)
		})
	}
}

func TestReadCoils(t *testing.T) {
	t.Parallel()
	addr := simTCP(t, newUnits(t, map[byte]unit{1: {device: readBank()}}), sim.TCPConfig{})
	code, out, _ := run(t, "read", "-tcp", addr, "-function", "1", "-count", "3")
	if code != 0 {
		t.Fatalf("exit %d, want 0", code)
	}
	checkSection(t, out, "ADDR", "ADDR WIRE VALUE", "0 0x0000 1", "1 0x0001 0", "2 0x0002 1")
}

func TestReadException(t *testing.T) {
	t.Parallel()
	addr := simTCP(t, newUnits(t, map[byte]unit{1: {device: readBank()}}), sim.TCPConfig{})
	// Register 1 is a gap: a read one off the FC-01 value is refused.
	code, out, stderr := run(t, "read", "-tcp", addr, "-address", "1", "-count", "2")
	if code != 1 || !strings.Contains(stderr, "exception 2 (illegal data address)") {
		t.Errorf("exit %d, stderr %q; want 1 and exception 2", code, stderr)
	}
	if out != "" {
		t.Errorf("a refused read printed %q", out)
	}
}

func TestReadPymodbusTCP(t *testing.T) {
	t.Parallel()
	srv := testkit.StartModbusTCP(t, testkit.RegisterMap{
		1: {Holding: map[uint16]uint16{2: 0x9BD4, 3: 0x436E}},
	})
	code, out, _ := run(t, "read", "-tcp", srv.Addr(), "-address", "2", "-count", "2",
		"-order", "CDAB")
	if code != 0 {
		t.Fatalf("exit %d, want 0", code)
	}
	checkSection(t, out, "ADDR ORDER", "ADDR ORDER U32 I32 F32",
		"2 CDAB 1131322324 1131322324 238.6087")
}

func TestParseViewOrderForms(t *testing.T) {
	// A 4-letter order and its 8-letter form choose the same form.
	for _, pair := range [][2]string{{"ABCD", "ABCDEFGH"}, {"CDAB", "GHEFCDAB"},
		{"BADC", "BADCFEHG"}, {"DCBA", "HGFEDCBA"}} {
		short, err1 := parseView("", pair[0])
		long, err2 := parseView("", pair[1])
		if err1 != nil || err2 != nil || len(short.forms) != 1 ||
			!equalForms(short.forms, long.forms) {
			t.Errorf("-order %s gives %v, %v; -order %s gives %v, %v; want the same one form",
				pair[0], short.forms, err1, pair[1], long.forms, err2)
		}
	}
}

func equalForms(a, b map[int]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}
