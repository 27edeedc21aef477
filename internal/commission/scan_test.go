package commission

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/esep-kz/esep/drivers/modbus"
	"github.com/esep-kz/esep/internal/sim"
	"github.com/esep-kz/esep/internal/testkit"
)

// scanUnits is a bus of four devices and a dead one: unit 1 answers the
// probe, 5 lacks holding register 0 and 7 refuses every function, both
// answering with an exception, and 9 never answers.
func scanUnits(t *testing.T) *sim.Units {
	return newUnits(t, map[byte]unit{
		1: {device: holding(0, 0x0102)},
		5: {device: holding(100, 7)},
		7: {device: holding(0, 1), faults: sim.Faults{
			Exceptions: []sim.ExceptionRule{{Code: modbus.IllegalFunction}}}},
		9: {device: holding(0, 1), faults: sim.Faults{Dead: true}},
	})
}

// scanFound is what scanUnits answers.
var scanFound = []string{
	"SLAVE ANSWER DETAIL",
	"1 reply 0x0102 (258)",
	"5 refused device present; exception 2 (illegal data address) to the probe",
	"7 refused device present; exception 1 (illegal function) to the probe",
}

func TestScanSimTCP(t *testing.T) {
	t.Parallel()
	addr := simTCP(t, scanUnits(t), sim.TCPConfig{})
	code, out, _ := run(t, "scan", "-tcp", addr, "-range", "1-10", "-timeout", "50ms")
	if code != 0 {
		t.Fatalf("exit %d, want 0", code)
	}
	checkSection(t, out, "SLAVE", scanFound...)
	if !strings.Contains(out, "10 of 10 ids probed in ") ||
		!strings.Contains(out, ": 3 answered, 7 silent\n") {
		t.Errorf("no summary of 10 probed, 3 answered and 7 silent in:\n%s", out)
	}
	want := "slaves 1-10 on tcp " + addr + ", probed with holding registers 0x0000+1"
	if !strings.HasPrefix(out, want) {
		t.Errorf("output does not begin %q:\n%s", want, out)
	}
}

func TestScanSimRTU(t *testing.T) {
	t.Parallel()
	dev := simRTU(t, scanUnits(t))
	code, out, _ := run(t, "scan", "-device", dev, "-baud", "19200", "-range", "1,5,7,9",
		"-timeout", "100ms")
	if code != 0 {
		t.Fatalf("exit %d, want 0", code)
	}
	checkSection(t, out, "SLAVE", scanFound...)
	if !strings.Contains(out, ": 3 answered, 1 silent\n") {
		t.Errorf("no summary of 3 answered and 1 silent in:\n%s", out)
	}
}

// TestScanBehindGateway scans the whole default range through a gateway
// that answers exception 10 for ids with no device: those are absent.
func TestScanBehindGateway(t *testing.T) {
	t.Parallel()
	units := newUnits(t, map[byte]unit{
		17:  {device: holding(0x10, 0xBEEF)},
		200: {device: holding(0x10, 42)},
	})
	addr := simTCP(t, units, sim.TCPConfig{NoDevice: modbus.GatewayPathUnavailable})
	code, out, _ := run(t, "scan", "-tcp", addr, "-address", "0x10")
	if code != 0 {
		t.Fatalf("exit %d, want 0", code)
	}
	checkSection(t, out, "SLAVE", "SLAVE ANSWER DETAIL",
		"17 reply 0xBEEF (48879)", "200 reply 0x002A (42)")
	want := ": 2 answered, 0 silent, 245 with no device behind the gateway (exception 10 or 11)"
	if !strings.Contains(out, "247 of 247 ids probed") || !strings.Contains(out, want) {
		t.Errorf("no summary of 247 probed and %q in:\n%s", want, out)
	}
}

func TestScanPymodbusTCP(t *testing.T) {
	t.Parallel()
	srv := testkit.StartModbusTCP(t, testkit.RegisterMap{
		1: {Holding: map[uint16]uint16{0: 0x0102}},
		3: {Holding: map[uint16]uint16{100: 1}},
		4: {Coils: map[uint16]bool{0: true, 1: false, 2: true}},
	})

	t.Run("holding", func(t *testing.T) {
		code, out, _ := run(t, "scan", "-tcp", srv.Addr(), "-range", "1-5", "-timeout", "300ms")
		if code != 0 {
			t.Fatalf("exit %d, want 0", code)
		}
		// Unit 4 has no holding registers at all: pymodbus answers
		// exception 2 for it too.
		checkSection(t, out, "SLAVE", "SLAVE ANSWER DETAIL", "1 reply 0x0102 (258)",
			"3 refused device present; exception 2 (illegal data address) to the probe",
			"4 refused device present; exception 2 (illegal data address) to the probe")
	})
	t.Run("coils", func(t *testing.T) {
		code, out, _ := run(t, "scan", "-tcp", srv.Addr(), "-range", "4", "-function", "coils",
			"-count", "3", "-timeout", "300ms")
		if code != 0 {
			t.Fatalf("exit %d, want 0", code)
		}
		checkSection(t, out, "SLAVE", "SLAVE ANSWER DETAIL", "4 reply 1 0 1")
	})
}

// cancelDevice ends a scan's context when it is asked, as Ctrl-C does
// while the scan waits for this unit.
type cancelDevice struct{ cancel context.CancelFunc }

func (d cancelDevice) ReadBits(sim.Function, uint16, uint16) ([]bool, sim.Exception) {
	d.cancel()
	return nil, modbus.IllegalFunction
}

func (d cancelDevice) ReadRegisters(_ sim.Function, _, count uint16) ([]uint16, sim.Exception) {
	d.cancel()
	return make([]uint16, count), 0
}

func TestScanStopsWithWhatItFound(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	units := newUnits(t, map[byte]unit{
		1: {device: holding(0, 0x0102)},
		2: {device: holding(0, 0x0304)},
		4: {device: cancelDevice{cancel}},
		5: {device: holding(0, 0x0506)},
	})
	addr := simTCP(t, units, sim.TCPConfig{})

	out, err := runWith(t, ctx, Scan(), "-tcp", addr, "-range", "1-10", "-timeout", "50ms")
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "after 3 of 10 ids") {
		t.Errorf("got error %v, want one wrapping context.Canceled after 3 of 10 ids", err)
	}
	checkSection(t, out, "SLAVE", "SLAVE ANSWER DETAIL",
		"1 reply 0x0102 (258)", "2 reply 0x0304 (772)")
	if !strings.Contains(out, "3 of 10 ids probed") {
		t.Errorf("no summary of 3 of 10 probed in:\n%s", out)
	}
}

func TestScanRefusedConnection(t *testing.T) {
	t.Parallel()
	addr := closedPort(t)
	code, out, stderr := run(t, "scan", "-tcp", addr, "-range", "1-3")
	if code != 1 || !strings.Contains(stderr, "scan stopped at slave 1") ||
		!strings.Contains(stderr, "cannot open bus") {
		t.Errorf("exit %d, stderr %q; want 1 and the bus that failed to open", code, stderr)
	}
	if !strings.Contains(out, "0 of 3 ids probed") {
		t.Errorf("no summary of 0 of 3 probed in:\n%s", out)
	}
}

func TestParseIDs(t *testing.T) {
	rtu := bus{transport: transportRTU, lowest: 1, highest: 247}
	tests := []struct {
		name, in string
		want     string // formatIDs of the result, or part of the error
	}{
		{"range", "1-247", "1-247"},
		{"one id", "7", "7"},
		{"list with overlap", "5-9, 1-3,8-12,20", "1-3,5-12,20"},
		{"backwards", "9-5", `"9-5" runs backwards`},
		{"broadcast", "0-3", `"0-3" is outside 1..247`},
		{"not a number", "a-b", `"a-b" is not an id`},
		{"empty", " , ", "names no slave id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ids, err := parseIDs(tt.in, rtu)
			got := formatIDs(ids)
			if err != nil {
				got = err.Error()
			}
			if !strings.Contains(got, tt.want) {
				t.Errorf("parseIDs(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
