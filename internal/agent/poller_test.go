package agent

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/esep-kz/esep/drivers/modbus"
	"github.com/esep-kz/esep/internal/reading"
	"github.com/esep-kz/esep/internal/sim"
	"github.com/esep-kz/esep/internal/testkit"
)

// The SDM120 profile reads its values in two requests, input registers
// 0-31 and 70-79, and its serial in a third, holding registers
// FC00-FC01, every poll.
const (
	sdmValueRequests    = 2
	sdmIdentityRequests = 1
)

func TestPollerReadsProfile(t *testing.T) {
	t.Parallel()
	regs := testkit.RegisterMap{7: sdmUnit(12345678, sdmPoints)}
	buses := []struct {
		name  string
		start func(t *testing.T) string // returns the bus YAML
	}{
		{"tcp", func(t *testing.T) string {
			return tcpBus(testkit.StartModbusTCP(t, regs).Addr())
		}},
		{"rtu", func(t *testing.T) string {
			return rtuBus(testkit.StartModbusRTU(t, regs, 38400).Device(), 38400, time.Second)
		}},
	}
	for _, bus := range buses {
		t.Run(bus.name, func(t *testing.T) {
			t.Parallel()
			c := loadTestConfig(t, t.TempDir(), bus.start(t), 7)
			p, sink := newTestPoller(t, c)

			before := time.Now()
			r, err := p.Poll(t.Context(), c.Meters[0])
			if err != nil {
				t.Fatalf("Poll: %v", err)
			}
			if r.Meter != "m7" || r.Serial != "12345678" {
				t.Errorf("reading of meter %q serial %q, want m7 and 12345678", r.Meter, r.Serial)
			}
			if r.Time.Location() != time.UTC || r.Time.Before(before) || r.Time.After(time.Now()) {
				t.Errorf("reading time %v is not the poll's end in UTC", r.Time)
			}
			checkValues(t, r, sdmPoints, nil)

			if got, want := requests(p), uint64(sdmValueRequests+sdmIdentityRequests); got != want {
				t.Errorf("first poll made %d requests, want %d: values and serial", got, want)
			}
			r, err = p.Poll(t.Context(), c.Meters[0])
			if err != nil || r.Serial != "12345678" {
				t.Fatalf("second Poll = serial %q, %v; want the serial known", r.Serial, err)
			}
			if got, want := requests(p), uint64(2*(sdmValueRequests+sdmIdentityRequests)); got != want {
				t.Errorf("two polls made %d requests, want %d: the serial read each time", got, want)
			}
			if len(sink.events) != 0 {
				t.Errorf("events %v, want none for a meter seen the first time", sink.events)
			}
		})
	}
}

// TestPollerRefusedRegister serves a map without the reactive power
// registers, inside the first merged request: the device refuses the
// whole request with exception 2, and the plan finds the register.
func TestPollerRefusedRegister(t *testing.T) {
	t.Parallel()
	unit := sdmUnit(1, sdmPoints)
	delete(unit.Input, 24)
	delete(unit.Input, 25)
	srv := testkit.StartModbusTCP(t, testkit.RegisterMap{1: unit})
	c := loadTestConfig(t, t.TempDir(), tcpBus(srv.Addr()), 1)
	p, _ := newTestPoller(t, c)

	bad := map[reading.Quantity]reading.Quality{"power_reactive_var": reading.Error}
	var perPoll []uint64
	for range 3 {
		before := requests(p)
		r, err := p.Poll(t.Context(), c.Meters[0])
		if err != nil {
			t.Fatalf("Poll: %v; want the values around the refused one", err)
		}
		checkValues(t, r, sdmPoints, bad)
		perPoll = append(perPoll, requests(p)-before)
	}

	t.Logf("requests per poll: %v", perPoll)
	// Once found, the refused register costs nothing: registers 0-13,
	// 18-19 and 30-31 around it, and 70-79.
	const afterSplit = 4
	if perPoll[0] <= afterSplit+sdmIdentityRequests {
		t.Errorf("first poll made %d requests; want the split's on top of %d",
			perPoll[0], afterSplit+sdmIdentityRequests)
	}
	if want := uint64(afterSplit + sdmIdentityRequests); perPoll[1] != want || perPoll[2] != want {
		t.Errorf("requests per poll = %v, want %d after the first: no discovery again, "+
			"no retry of the refused register", perPoll, want)
	}
	if got := p.BusStats()["b1"].Exceptions[modbus.IllegalDataAddress]; got == 0 {
		t.Errorf("no exception 2 counted; the map was meant to refuse a merged read")
	}
}

// TestPollerImpossibleNumbers checks that NaN, an infinity and a value
// outside its quantity's range never pass as data.
func TestPollerImpossibleNumbers(t *testing.T) {
	t.Parallel()
	points := withPoint(sdmPoints, "voltage_v", math.Float32frombits(0x7FC00000), "")
	points = withPoint(points, "current_a", float32(math.Inf(1)), "")
	points = withPoint(points, "power_factor", 5, "")
	srv := testkit.StartModbusTCP(t, testkit.RegisterMap{1: sdmUnit(1, points)})
	c := loadTestConfig(t, t.TempDir(), tcpBus(srv.Addr()), 1)
	p, _ := newTestPoller(t, c)

	r, err := p.Poll(t.Context(), c.Meters[0])
	if err != nil {
		t.Fatalf("Poll: %v", err)
	}
	checkValues(t, r, points, map[reading.Quantity]reading.Quality{
		"voltage_v": reading.Error, "current_a": reading.Error,
		"power_factor": reading.OutOfRange,
	})
}

// TestPollerRetriesTransientFailure fails requests of one poll for a
// reason that may pass (FC-12 item 4, issue 3 item 4). The poller sends
// each failed one again within the poll, at most twice and the bus delay
// apart, and publishes what it then has: a failure that passed leaves no
// trace, one that lasts stays flagged, and a serial that cannot be read
// fails the poll.
func TestPollerRetriesTransientFailure(t *testing.T) {
	t.Parallel()
	busy := func(fn sim.Function, start, count uint16, code modbus.ExceptionCode) sim.Faults {
		r := sim.Range{Functions: []sim.Function{fn}, Start: start, Count: count}
		return sim.Faults{Exceptions: []sim.ExceptionRule{{Range: r, Code: code}}}
	}
	// What the request of input registers 70-79 serves.
	block70 := map[reading.Quantity]reading.Quality{
		"energy_active_import_kwh": reading.Error, "energy_active_export_kwh": reading.Error,
		"energy_reactive_import_kvarh": reading.Error, "energy_reactive_export_kvarh": reading.Error,
		"frequency_hz": reading.Error,
	}
	tests := []struct {
		name    string
		faults  sim.Faults
		bad     map[reading.Quantity]reading.Quality // values left flagged
		wantErr bool
		retries int // of the failed request: 2, or 0 where noRetry
		noRetry bool
	}{
		// Every second request fails, the value block at 70 among them,
		// and again when first sent again.
		{name: "crc error every second reply", faults: sim.Faults{CorruptCRCEvery: 2}},
		{name: "no reply to every second request", faults: sim.Faults{SilentEvery: 2}},
		{name: "busy for good", bad: block70,
			faults: busy(sim.ReadInputRegisters, 70, 10, modbus.ServerDeviceBusy)},
		// The gateway waited its own timeout already: no retry at once.
		{name: "gateway target silent", bad: block70, noRetry: true,
			faults: busy(sim.ReadInputRegisters, 70, 10, modbus.GatewayTargetFailedToRespond)},
		{name: "gateway path unavailable", bad: block70, noRetry: true,
			faults: busy(sim.ReadInputRegisters, 70, 10, modbus.GatewayPathUnavailable)},
		{name: "serial busy for good", wantErr: true,
			faults: busy(sim.ReadHoldingRegisters, sdmSerialReg, 2, modbus.Acknowledge)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			retries := 2
			if tt.noRetry {
				retries = 0
			}
			checkRetries(t, tt.faults, tt.bad, tt.wantErr, retries)
		})
	}
}

func checkRetries(t *testing.T, f sim.Faults, bad map[reading.Quantity]reading.Quality,
	wantErr bool, retries int) {
	t.Helper()
	const delay = 20 * time.Millisecond
	units := sim.NewUnits()
	mustNot(t, units.SetDevice(1, simBank(sdmUnit(1111, sdmPoints))))
	mustNot(t, units.SetFaults(1, f))
	// A timeout well above the simulated line's worst case: this test
	// counts requests, and a loaded machine must not add timeouts.
	bus := startSimRTU(t, units, 500*time.Millisecond) + "\n    delay: " + delay.String()
	c := loadTestConfig(t, t.TempDir(), bus, 1)
	p, _ := newTestPoller(t, c)

	start := time.Now()
	r, err := p.Poll(t.Context(), c.Meters[0])
	took := time.Since(start)
	switch {
	case wantErr && err == nil:
		t.Errorf("Poll = serial %q, want an error: the serial was never read", r.Serial)
	case !wantErr && err != nil:
		t.Fatalf("Poll: %v; want the failed requests sent again", err)
	case !wantErr:
		checkValues(t, r, sdmPoints, bad)
	}

	// One request failed, and failed again each time it was sent again.
	if got, want := requests(p), uint64(sdmValueRequests+sdmIdentityRequests+retries); got != want {
		t.Errorf("Poll made %d requests, want %d: each request once, the failed one %d "+
			"times more", got, want, retries)
	}
	if took < time.Duration(retries)*delay {
		t.Errorf("Poll took %s, want at least the bus delay %s before each of %d retries",
			took, delay, retries)
	}
}

// startSimRTU serves units on a simulated serial line, stopped when the
// test ends, and returns the YAML of bus b1 on it.
func startSimRTU(t *testing.T, units *sim.Units, timeout time.Duration) string {
	t.Helper()
	srv, err := sim.ServeRTU(t.Context(), units, sim.RTUConfig{Baud: 38400})
	if err != nil {
		t.Fatalf("ServeRTU: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return rtuBus(srv.Path(), 38400, timeout)
}

func TestPollerNoAnswer(t *testing.T) {
	t.Parallel()
	srv := testkit.StartModbusTCP(t, testkit.RegisterMap{1: sdmUnit(1, sdmPoints)})
	c := loadTestConfig(t, t.TempDir(), tcpBus(srv.Addr()), 2) // nobody at slave 2
	c.Buses[0].Timeout = 100 * time.Millisecond
	p, _ := newTestPoller(t, c)

	_, err := p.Poll(t.Context(), c.Meters[0])
	if !errors.Is(err, modbus.ErrTimeout) {
		t.Fatalf("Poll of a silent slave = %v, want a timeout", err)
	}
	if msg := err.Error(); !strings.Contains(msg, `meter "m2" (bus "b1", slave 2)`) {
		t.Errorf("error %q does not name the meter, bus and slave", msg)
	}
	if msg := err.Error(); !strings.Contains(msg, `no reply from unit 2 on bus "b1"`) {
		t.Errorf("error %q does not name the bus as configured", msg)
	}
	// A meter that answers nothing is the scheduler's to retry: retries
	// of each request within the poll would triple what it costs.
	if got := requests(p); got != sdmValueRequests {
		t.Errorf("Poll of a silent slave made %d requests, want %d: no retry within the poll",
			got, sdmValueRequests)
	}
}

func TestPollerUnknownMeter(t *testing.T) {
	c := loadTestConfig(t, t.TempDir(), tcpBus("127.0.0.1:1"), 1)
	p, _ := newTestPoller(t, c)
	_, err := p.Poll(t.Context(), Meter{ID: "m9"})
	if err == nil || !strings.Contains(err.Error(), `"m9"`) {
		t.Errorf("Poll of an unknown meter = %v, want an error naming it", err)
	}
}
