package agent

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/esep-kz/esep/internal/reading"
	"github.com/esep-kz/esep/internal/testkit"
)

// sdmPoint is one value of an Eastron SDM120, written here from the
// maker's register map and not from the shipped profile under test: its
// input register on the wire (the map's 3xxxx number less 30001), the
// float the meter holds, and the decimal the reading must carry at the
// resolution the profile keeps.
type sdmPoint struct {
	q    reading.Quantity
	reg  uint16
	f    float32
	want string
}

var sdmPoints = []sdmPoint{
	{"voltage_v", 0, 230.1, "230.10"},
	{"current_a", 6, 5.125, "5.125"},
	{"power_w", 12, 1179.3, "1179.3"},
	{"power_apparent_va", 18, 1180.5, "1180.5"},
	{"power_reactive_var", 24, -12.5, "-12.5"},
	{"power_factor", 30, 0.998, "0.998"},
	{"frequency_hz", 70, 50.02, "50.02"},
	{"energy_active_import_kwh", 72, 12345.67, "12345.67"},
	{"energy_active_export_kwh", 74, 0, "0.00"},
	{"energy_reactive_import_kvarh", 76, 321.5, "321.50"},
	{"energy_reactive_export_kvarh", 78, 7.25, "7.25"},
}

// sdmSerialReg is the holding register of the SDM120's serial number,
// an unsigned 32-bit integer (the map's 464513, FC00h).
const sdmSerialReg = 0xFC00

// sdmUnit returns the registers of an SDM120 with the given serial that
// holds points. The registers between the points are there too, holding
// 0, as on the meter: the planner reads through them.
func sdmUnit(serial uint32, points []sdmPoint) testkit.UnitRegisters {
	u := testkit.UnitRegisters{Input: map[uint16]uint16{}, Holding: map[uint16]uint16{
		sdmSerialReg: uint16(serial >> 16), sdmSerialReg + 1: uint16(serial),
	}}
	for _, span := range [][2]uint16{{0, 31}, {70, 79}} {
		for r := span[0]; r <= span[1]; r++ {
			u.Input[r] = 0
		}
	}
	for _, p := range points {
		bits := math.Float32bits(p.f)
		u.Input[p.reg], u.Input[p.reg+1] = uint16(bits>>16), uint16(bits)
	}
	return u
}

// withPoint returns points with the float of quantity q replaced by f,
// which the reading must carry as want.
func withPoint(points []sdmPoint, q reading.Quantity, f float32, want string) []sdmPoint {
	out := append([]sdmPoint(nil), points...)
	for i := range out {
		if out[i].q == q {
			out[i].f, out[i].want = f, want
		}
	}
	return out
}

// tcpBus and rtuBus are the YAML of a bus named b1.
func tcpBus(addr string) string {
	return fmt.Sprintf("transport: tcp\n    address: %s\n    timeout: 500ms", addr)
}

func rtuBus(device string, baud int, timeout time.Duration) string {
	return fmt.Sprintf("transport: rtu\n    device: %s\n    baud: %d\n    parity: N\n"+
		"    timeout: %s", device, baud, timeout)
}

// loadTestConfig writes and loads an agent configuration with bus b1,
// the given bus YAML, one SDM120 per slave, meters m<slave>, polled
// every second, and its state in stateDir.
func loadTestConfig(t *testing.T, stateDir, bus string, slaves ...int) *Config {
	t.Helper()
	var meters strings.Builder
	for _, s := range slaves {
		fmt.Fprintf(&meters, "  - {id: m%d, bus: b1, slave: %d, profile: eastron-sdm120, "+
			"interval: 1s}\n", s, s)
	}
	body := fmt.Sprintf("agent:\n  id: test\n  state_dir: %s\nbuses:\n  - name: b1\n    %s\n"+
		"meters:\n%s", stateDir, bus, meters.String())
	return loadConfigText(t, body)
}

// loadConfigText writes body as a configuration file and loads it.
func loadConfigText(t *testing.T, body string) *Config {
	t.Helper()
	path := filepath.Join(t.TempDir(), "agent.yaml")
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := LoadConfig(path)
	if err != nil {
		t.Fatalf("LoadConfig:\n%s\n%v", body, err)
	}
	return c
}

// newTestPoller returns a poller for c with a state in c's state
// directory and a sink that records its events; it is closed when the
// test ends.
func newTestPoller(t *testing.T, c *Config) (*ModbusPoller, *fakeSink) {
	t.Helper()
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel)
	state, err := OpenState(c.Agent.StateDir, log)
	if err != nil {
		t.Fatal(err)
	}
	sink := &fakeSink{}
	p, err := NewModbusPoller(t.Context(), c, PollerOptions{State: state, Sink: sink, Log: log})
	if err != nil {
		t.Fatalf("NewModbusPoller: %v", err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return p, sink
}

// checkValues compares the values of r with points: each good with its
// decimal, except the quantities in bad, which must carry that quality
// and no number.
func checkValues(t *testing.T, r reading.Reading, points []sdmPoint,
	bad map[reading.Quantity]reading.Quality) {
	t.Helper()
	if len(r.Values) != len(points) {
		t.Fatalf("reading has %d values, want %d: %v", len(r.Values), len(points), r.Values)
	}
	for i, p := range points {
		v := r.Values[i]
		want, flagged := bad[p.q]
		switch {
		case v.Quantity != p.q:
			t.Errorf("value %d is %s, want %s", i, v.Quantity, p.q)
		case flagged && (v.Quality != want || !v.Number.IsZero()):
			t.Errorf("%s = %v (quality %s, number %s), want quality %s and no number",
				p.q, v, v.Quality, v.Number, want)
		case !flagged && (v.Quality != reading.Good || v.Number.StringFixed(v.Places) != p.want):
			t.Errorf("%s from float %v = %v (quality %s), want %s", p.q, p.f, v, v.Quality, p.want)
		}
	}
}

// requests returns the requests bus b1 of p has made so far.
func requests(p *ModbusPoller) uint64 { return p.BusStats()["b1"].Requests }
