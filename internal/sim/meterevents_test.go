package sim

import (
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/esep-kz/esep/drivers/modbus"
)

// TestMeterSwap swaps one meter at a set time and another on command:
// each then shows a new serial and an index that starts near zero.
func TestMeterSwap(t *testing.T) {
	p := shippedProfile(t, "eastron-sdm120")
	clock := newTestClock()
	index := 5000.0
	swapAt := testStart.Add(36 * time.Hour)
	timed := newTestMeter(t, MeterConfig{Profile: p, Clock: clock, Seed: 1, Index: &index,
		Serial: "22010001", SwapAt: swapAt})
	onCommand := newTestMeter(t, MeterConfig{Profile: p, Clock: clock, Seed: 1, Index: &index})

	before := timed.Expected(swapAt.Add(-time.Second))
	after := timed.Expected(swapAt.Add(time.Minute))
	checkSwapped(t, "at 36h", before, after)
	if before.Serial != "22010001" {
		t.Errorf("serial before the swap = %q, want the configured 22010001", before.Serial)
	}

	clock.set(testStart.Add(5 * time.Hour))
	old := onCommand.Expected(clock.Now().Add(-time.Minute))
	serial := onCommand.Swap()
	clock.set(testStart.Add(6 * time.Hour))
	now := poll(t, onCommand, p)
	checkSwapped(t, "on command", old, now)
	if now.Serial != serial || onCommand.Serial() != serial {
		t.Errorf("Swap() = %q, then serial %q and Serial() %q", serial, now.Serial,
			onCommand.Serial())
	}
	// The past stays as it was.
	past := onCommand.Expected(testStart.Add(5*time.Hour - time.Minute))
	if !reflect.DeepEqual(past, old) {
		t.Errorf("before the swap now reads %v, was %v", past, old)
	}
}

func checkSwapped(t *testing.T, when string, before, after modbus.Decoded) {
	t.Helper()
	main := MainQuantity("electricity")
	if before.Serial == after.Serial {
		t.Errorf("swap %s: serial stayed %q", when, after.Serial)
	}
	if b, a := value(t, before, main), value(t, after, main); b < 5000 || a > 3 {
		t.Errorf("swap %s: index %.2f, then %.2f; want it to start again near zero", when, b, a)
	}
}

// TestMeterRollover starts a Garo meter, whose energy is a u32 of 0.1
// kWh, just below 429496729.5 kWh: within a few simulated hours the
// register wraps to zero once, and counts on from there.
func TestMeterRollover(t *testing.T) {
	p := shippedProfile(t, "garo-gnm3d")
	clock := newTestClock()
	m := newTestMeter(t, MeterConfig{Profile: p, Clock: clock, Seed: 2, Rollover: true})

	const top = 429496729.5
	main := MainQuantity(p.Kind)
	last, wraps := value(t, m.Expected(testStart), main), 0
	if last < top-10 || last > top {
		t.Fatalf("starts at %.1f kWh, want just below %.1f", last, top)
	}
	for at := testStart; at.Before(testStart.Add(4 * time.Hour)); at = at.Add(time.Minute) {
		clock.set(at)
		now := value(t, poll(t, m, p), main)
		if now < last {
			wraps++
			if now > 10 || last < top-10 {
				t.Errorf("at %s: went from %.1f to %.1f, not through the rollover", at, last, now)
			}
		}
		last = now
	}
	if wraps != 1 || last <= 0 {
		t.Errorf("wrapped %d times, ending at %.1f kWh; want once, then counting on", wraps, last)
	}
}

// TestMeterRefuses checks that the meter answers like a real one for
// registers outside its profile, its request limit and its separate
// ranges.
func TestMeterRefuses(t *testing.T) {
	sdm120 := shippedProfile(t, "eastron-sdm120")
	garo := shippedProfile(t, "garo-gnm3d")
	tests := []struct {
		name        string
		profile     *modbus.Profile
		strict      bool
		fn          Function
		addr, count uint16
		want        Exception
	}{
		{"voltage", sdm120, false, ReadInputRegisters, 0, 2, 0},
		{"through a documented gap", sdm120, false, ReadInputRegisters, 0, 8, 0},
		{"a gap on a strict meter", sdm120, true, ReadInputRegisters, 0, 8,
			modbus.IllegalDataAddress},
		{"beyond the last register", sdm120, false, ReadInputRegisters, 0x4E, 4,
			modbus.IllegalDataAddress},
		{"far from any register", sdm120, false, ReadInputRegisters, 0x1000, 2,
			modbus.IllegalDataAddress},
		{"the holding table has only the serial", sdm120, false, ReadHoldingRegisters, 0, 2,
			modbus.IllegalDataAddress},
		{"serial", sdm120, false, ReadHoldingRegisters, 0xFC00, 2, 0},
		{"more than 40 values at once", sdm120, false, ReadInputRegisters, 0, 82,
			modbus.IllegalDataValue},
		{"no coils", sdm120, false, ReadCoils, 0, 1, modbus.IllegalDataAddress},
		{"firmware alone", garo, false, ReadInputRegisters, 770, 1, 0},
		{"firmware with its neighbour", garo, false, ReadInputRegisters, 769, 2,
			modbus.IllegalDataAddress},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newTestMeter(t, MeterConfig{Profile: tt.profile, Seed: 1, Strict: tt.strict})
			var ex Exception
			if tt.fn == ReadCoils {
				_, ex = m.ReadBits(tt.fn, tt.addr, tt.count)
			} else {
				_, ex = m.ReadRegisters(tt.fn, tt.addr, tt.count)
			}
			if ex != tt.want {
				t.Errorf("read %d from 0x%04X of function %d: exception %d (%s), want %d (%s)",
					tt.count, tt.addr, tt.fn, byte(ex), ex, byte(tt.want), tt.want)
			}
		})
	}
}

func TestNewMeterRefuses(t *testing.T) {
	tests := []struct {
		name string
		cfg  MeterConfig
	}{
		{"no profile", MeterConfig{}},
		{"rollover of a float register", MeterConfig{Profile: shippedProfile(t, "eastron-sdm120"),
			Rollover: true}},
		{"rollover beyond what a meter counts", MeterConfig{Profile: shippedProfile(t, "abb-b23"),
			Rollover: true}},
		{"serial that is not a number", MeterConfig{Profile: shippedProfile(t, "abb-b23"),
			Serial: "AB-12"}},
		{"serial beyond u32", MeterConfig{Profile: shippedProfile(t, "abb-b23"),
			Serial: "4294967296"}},
		{"serial longer than its str field", MeterConfig{Profile: shippedProfile(t, "garo-gnm3d"),
			Serial: "GARO-0123456789"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if m, err := NewMeter(tt.cfg); !errors.Is(err, ErrInvalidMeter) {
				t.Errorf("NewMeter = %v, %v; want ErrInvalidMeter", m, err)
			}
		})
	}
}

// scaledProfile has SunSpec scale registers, an i16 shared by two
// points, and a holding register point on coils.
const scaledProfile = `name: scaled
maker: Test
model: Scaled meter with a long model name
kind: electricity
source: {document: test, revision: A}
function: holding
addressing: pdu
identity:
  serial: {address: 0x100, type: bcd32}
  model: {address: 0x102, type: str, registers: 4, order: BA}
  firmware: {address: 0x106, type: u16}
values:
  - {quantity: voltage_v, address: 0, type: u16, unit: V, places: 1,
     scale_register: {address: 10, type: i16}}
  - {quantity: current_a, address: 1, type: u16, unit: A, places: 2,
     scale_register: {address: 10, type: i16}}
  - {quantity: energy_active_import_kwh, address: 2, type: u32, order: CDAB, scale: 0.01,
     unit: kWh}
  - {quantity: power_w, address: 4, type: i32, scale: 0.1, offset: -1000, unit: W}
`

// TestMeterScaleRegisters serves a profile with scale registers, an
// offset, a BCD serial and a swapped str model.
func TestMeterScaleRegisters(t *testing.T) {
	p, err := modbus.ParseProfile("scaled.yaml", []byte(scaledProfile))
	if err != nil {
		t.Fatal(err)
	}
	clock := newTestClock()
	m := newTestMeter(t, MeterConfig{Profile: p, Clock: clock, Seed: 4, Serial: "123456"})
	got, want := poll(t, m, p), m.Expected(testStart)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("polled\n%v\nwant\n%v", got, want)
	}
	if got.Serial != "00123456" || got.Model != "Scaled m" || got.Firmware != "1" {
		t.Errorf("identity %q %q %q; want 00123456, Scaled m, 1", got.Serial, got.Model,
			got.Firmware)
	}
	sf, _ := m.ReadRegisters(ReadHoldingRegisters, 10, 1)
	if !slices.Equal(sf, []uint16{0xFFFF}) {
		t.Errorf("scale register holds %04X, want FFFF (-1: voltage's one place)", sf)
	}
	if v := value(t, got, "current_a"); v*10 != float64(int(v*10)) {
		t.Errorf("current %v has more than the shared scale register's one place", v)
	}
}

// TestMeterOverTCP reads a meter through the engine's TCP server with
// goburrow's client and decodes the words with the profile.
func TestMeterOverTCP(t *testing.T) {
	p := shippedProfile(t, "eastron-sdm120")
	m := newTestMeter(t, MeterConfig{Profile: p, Clock: newTestClock(), Seed: 8})
	units := NewUnits()
	mustSet(t, units.SetDevice(7, m))
	s := startTCP(t, units, TCPConfig{})
	c := goburrowTCP(t, s.Addr(), 7)

	regs, err := c.ReadInputRegisters(0x48, 2) // energy_active_import_kwh
	if err != nil {
		t.Fatal(err)
	}
	words := []uint16{uint16(regs[0])<<8 | uint16(regs[1]), uint16(regs[2])<<8 | uint16(regs[3])}
	got, err := modbus.Decode(words, modbus.F32, "ABCD")
	want := value(t, m.Expected(testStart), "energy_active_import_kwh")
	if err != nil || got.Round(2).InexactFloat64() != want {
		t.Errorf("energy over TCP = %v, %v; want %.2f", got, err, want)
	}
	if _, err := c.ReadInputRegisters(0x200, 2); exceptionOf(err) != 2 {
		t.Errorf("read outside the profile: %v, want exception 2", err)
	}
}
