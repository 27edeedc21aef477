package sim

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	goburrow "github.com/goburrow/modbus"

	"github.com/esep-kz/esep/drivers/modbus"
)

// outcome names what a goburrow read of holding registers 100..102 of
// testBank gave: "ok" for the right values, else the kind of failure.
func outcome(got []byte, err error) string {
	switch {
	case err == nil && bytes.Equal(got, regWords(1, 2, 0xFFFF)):
		return "ok"
	case err == nil:
		return fmt.Sprintf("wrong values % X", got)
	case timedOut(err):
		return "timeout"
	case exceptionOf(err) != 0:
		return fmt.Sprintf("exception %d", exceptionOf(err))
	case strings.Contains(err.Error(), "crc"):
		return "bad crc"
	case strings.Contains(err.Error(), "slave id"):
		return "wrong unit"
	}
	return err.Error()
}

// faultCases are faults of unit 1 and what a client sees on successive
// reads of holding registers 100..102.
var faultCases = []struct {
	name   string
	faults Faults
	want   []string
}{
	{name: "healthy", want: []string{"ok", "ok"}},
	{name: "dead", faults: Faults{Dead: true}, want: []string{"timeout"}},
	{name: "silent every 2nd", faults: Faults{SilentEvery: 2},
		want: []string{"ok", "timeout", "ok", "timeout"}},
	{name: "silent always", faults: Faults{SilentRate: 1}, want: []string{"timeout"}},
	{name: "exception for the function", want: []string{"exception 6"},
		faults: Faults{Exceptions: []ExceptionRule{
			{Code: modbus.ServerDeviceBusy, Range: Range{Functions: []Function{ReadHoldingRegisters}}},
		}}},
	{name: "exception for another function", want: []string{"ok"},
		faults: Faults{Exceptions: []ExceptionRule{
			{Code: modbus.ServerDeviceBusy, Range: Range{Functions: []Function{ReadInputRegisters}}},
		}}},
	{name: "gateway exception for the addresses", want: []string{"exception 11"},
		faults: Faults{Exceptions: []ExceptionRule{
			{Code: modbus.GatewayTargetFailedToRespond, Range: Range{Start: 102, Count: 10}},
		}}},
	{name: "refused range touched", want: []string{"exception 2"},
		faults: Faults{Refused: []Range{{Start: 90, Count: 11}}}},
	{name: "refused range next to the read", want: []string{"ok"},
		faults: Faults{Refused: []Range{{Start: 103, Count: 100}}}},
	{name: "CRC corrupt every 2nd", faults: Faults{CorruptCRCEvery: 2},
		want: []string{"ok", "bad crc", "ok", "bad crc"}},
	{name: "CRC corrupt always", faults: Faults{CorruptCRCRate: 1}, want: []string{"bad crc"}},
	{name: "split in chunks (FC-10)", want: []string{"ok", "ok"},
		faults: Faults{Chunks: []int{1, 4}, ChunkGap: 16 * time.Millisecond}},
	{name: "foreign unit first (FC-15.3)", faults: Faults{ForeignUnit: 9},
		want: []string{"wrong unit"}},
}

func TestRTUFaults(t *testing.T) {
	t.Parallel()
	for _, tc := range faultCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			units := testUnits(t)
			mustSet(t, units.SetFaults(1, tc.faults))
			s := startRTU(t, units, RTUConfig{Baud: slowBaud})
			c := goburrowRTU(t, s.Path(), slowBaud, 1)
			checkOutcomes(t, c, tc.want)
		})
	}
}

// checkOutcomes reads holding registers 100..102 once per entry of want.
func checkOutcomes(t *testing.T, c goburrow.Client, want []string) {
	t.Helper()
	for i, w := range want {
		if got := outcome(c.ReadHoldingRegisters(100, 3)); got != w {
			t.Errorf("read %d: got %s; want %s", i+1, got, w)
		}
	}
}

// TestRTULatencyScript reads through esep's own RTU master: goburrow's
// fixed waits lose replies that come late under a loaded machine, which
// would test goburrow rather than the script.
func TestRTULatencyScript(t *testing.T) {
	t.Parallel()
	script := []time.Duration{60 * time.Millisecond, 120 * time.Millisecond}
	units := testUnits(t)
	mustSet(t, units.SetFaults(1, Faults{Latency: script}))
	s := startRTU(t, units, RTUConfig{Baud: 19200})
	tr, err := modbus.NewSerialRTU(
		modbus.SerialConfig{Device: s.Path(), Baud: 19200, DataBits: 8, Parity: "N", StopBits: 1},
		modbus.RTUOptions{Baud: 19200, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	c := modbus.NewClient(tr)
	t.Cleanup(func() { _ = c.Close() })

	for i := range 3 {
		want := script[i%len(script)]
		start := time.Now()
		_, err := c.ReadRegisters(context.Background(), 1, modbus.FuncHolding, 100, 3)
		if took := time.Since(start); err != nil || took < want {
			t.Errorf("read %d: %v after %s; want ok after at least %s", i+1, err, took, want)
		}
	}
}

func TestRTUForeignUnit(t *testing.T) {
	t.Parallel()
	units := testUnits(t)
	mustSet(t, units.SetFaults(1, Faults{ForeignUnit: 9}))
	l := line{9600}
	s := startRTU(t, units, RTUConfig{Baud: l.baud})
	pty := openRaw(t, s.Path())

	start := time.Now()
	send(t, pty, read3)
	foreign, own := readN(t, pty, 11), readN(t, pty, 11)
	if foreign[0] != 9 || own[0] != 1 || !crcOK(foreign) || !crcOK(own) ||
		!bytes.Equal(foreign[1:9], own[1:9]) {
		t.Errorf("got % X then % X; want the same valid reply from unit 9, then unit 1",
			foreign, own)
	}
	// The addressed slave waits t3.5 after the foreign reply.
	if took, want := time.Since(start), l.chars(8+2*11)+l.silence(); took < want {
		t.Errorf("both replies took %s; want at least %s", took, want)
	}
}

func TestRTUSetDevice(t *testing.T) {
	t.Parallel()
	units := testUnits(t)
	s := startRTU(t, units, RTUConfig{Baud: 19200})
	c := goburrowRTU(t, s.Path(), 19200, 2)
	swapped := NewBank()
	swapped.SetRegisters(ReadHoldingRegisters, 100, 0x3333)

	steps := []struct {
		name string
		dev  Device
		want []byte
	}{
		{name: "as started", want: regWords(0x2222)},
		{name: "meter swapped", dev: swapped, want: regWords(0x3333)},
		{name: "meter removed", dev: nil},
	}
	for i, st := range steps {
		if i > 0 {
			mustSet(t, units.SetDevice(2, st.dev))
		}
		got, err := c.ReadHoldingRegisters(100, 1)
		if st.want == nil && !timedOut(err) || st.want != nil && !bytes.Equal(got, st.want) {
			t.Errorf("%s: got %x, %v; want %x or no reply when nil", st.name, got, err, st.want)
		}
	}
}
