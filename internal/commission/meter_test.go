package commission

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/esep-kz/esep/internal/sim"
)

// sdm120 are values an Eastron SDM120 holds, by the wire address of its
// input register map (protocol V2.5: 30001 is voltage, and so on).
var sdm120 = map[uint16]float32{
	0x00: 230.1,    // voltage_v
	0x06: 5.123,    // current_a
	0x0C: 1178.9,   // power_w
	0x12: 1180.2,   // power_apparent_va
	0x18: -55.3,    // power_reactive_var
	0x1E: 0.95,     // power_factor
	0x46: 50.02,    // frequency_hz
	0x48: 12345.67, // energy_active_import_kwh
	0x4A: 0.5,      // energy_active_export_kwh
	0x4C: 321.09,   // energy_reactive_import_kvarh
	0x4E: 4.2,      // energy_reactive_export_kvarh
}

// sdm120Bank returns a Bank that answers as an SDM120 with serial
// number serial; a zero serial leaves its registers out.
func sdm120Bank(serial uint32) *sim.Bank {
	b := sim.NewBank()
	// Every register of the map exists, so that a request may read
	// through the ones no value uses, as on the meter.
	b.SetRegisters(sim.ReadInputRegisters, 0, make([]uint16, 80)...)
	for addr, v := range sdm120 {
		b.SetRegisters(sim.ReadInputRegisters, addr, f32Words(v)...)
	}
	if serial != 0 {
		b.SetRegisters(sim.ReadHoldingRegisters, 0xFC00, uint16(serial>>16), uint16(serial))
	}
	return b
}

// sdm120Values is the table read-meter prints for sdm120.
var sdm120Values = []string{
	"QUANTITY VALUE UNIT QUALITY",
	"voltage_v 230.10 V good",
	"current_a 5.123 A good",
	"power_w 1178.9 W good",
	"power_apparent_va 1180.2 VA good",
	"power_reactive_var -55.3 var good",
	"power_factor 0.950 good",
	"frequency_hz 50.02 Hz good",
	"energy_active_import_kwh 12345.67 kWh good",
	"energy_active_export_kwh 0.50 kWh good",
	"energy_reactive_import_kvarh 321.09 kvarh good",
	"energy_reactive_export_kvarh 4.20 kvarh good",
}

func TestReadMeterSDM120OverRTU(t *testing.T) {
	t.Parallel()
	dev := simRTU(t, newUnits(t, map[byte]unit{7: {device: sdm120Bank(12345678)}}))
	code, out, _ := run(t, "read-meter", "-device", dev, "-baud", "19200", "-slave", "7",
		"-profile", "eastron-sdm120")
	if code != 0 {
		t.Fatalf("exit %d, want 0", code)
	}

	checkSection(t, out, "QUANTITY", sdm120Values...)
	checkSection(t, out, "serial", "serial 12345678", "model not in profile",
		"firmware not in profile")
	// The serial number, then two blocks of input registers, as the gap
	// of 38 registers between power_factor and frequency_hz is over the
	// planner's 16.
	want := "3 requests in "
	plan := "planned as holding registers 0xFC00+2, input registers 0x0000+32, " +
		"input registers 0x0046+10\n"
	if !strings.Contains(out, want) || !strings.HasSuffix(out, plan) {
		t.Errorf("output does not report %q ... %q:\n%s", want, plan, out)
	}
}

// TestReadMeterIncomplete reads a meter that refuses its serial number's
// registers: the values are printed, the serial is not, and the command
// fails naming what it could not read.
func TestReadMeterIncomplete(t *testing.T) {
	t.Parallel()
	addr := simTCP(t, newUnits(t, map[byte]unit{1: {device: sdm120Bank(0)}}), sim.TCPConfig{})
	code, out, stderr := run(t, "read-meter", "-tcp", addr, "-profile", "eastron-sdm120")
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	checkSection(t, out, "QUANTITY", sdm120Values...)
	checkSection(t, out, "serial", "serial not read", "model not in profile",
		"firmware not in profile")
	for _, want := range []string{"is incomplete", "identity serial", "illegal data address"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr does not say %q:\n%s", want, stderr)
		}
	}
}

func TestReadMeterSilent(t *testing.T) {
	t.Parallel()
	units := newUnits(t, map[byte]unit{1: {device: sdm120Bank(1), faults: sim.Faults{Dead: true}}})
	addr := simTCP(t, units, sim.TCPConfig{})
	code, out, stderr := run(t, "read-meter", "-tcp", addr, "-timeout", "50ms",
		"-profile", "eastron-sdm120")
	if code != 1 || !strings.Contains(stderr, "nothing read from slave 1") ||
		!strings.Contains(stderr, "response timeout") {
		t.Errorf("exit %d, stderr %q; want 1, nothing read and the timeout", code, stderr)
	}
	if out != "" {
		t.Errorf("a meter that answered nothing printed a table:\n%s", out)
	}
}

// TestReadMeterOwnProfile reads with a profile from -profiles-dir.
func TestReadMeterOwnProfile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	profile := `name: test-heat
maker: Test
model: Heat 1
kind: heat
source: {document: Test register map, revision: "1"}
function: holding
addressing: pdu
order: CDAB
values:
  - {quantity: voltage_v, address: 2, type: f32, unit: V, places: 1}
`
	if err := os.WriteFile(filepath.Join(dir, "test-heat.yaml"), []byte(profile), 0o644); err != nil {
		t.Fatal(err)
	}
	// FC-01: the CDAB float at holding register 2.
	addr := simTCP(t, newUnits(t, map[byte]unit{3: {device: holding(2, 0x9BD4, 0x436E)}}),
		sim.TCPConfig{})
	code, out, _ := run(t, "read-meter", "-tcp", addr, "-slave", "3",
		"-profile", "test-heat", "-profiles-dir", dir)
	if code != 0 {
		t.Fatalf("exit %d, want 0", code)
	}
	checkSection(t, out, "QUANTITY", "QUANTITY VALUE UNIT QUALITY", "voltage_v 238.6 V good")
}
