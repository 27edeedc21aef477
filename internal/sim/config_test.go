package sim

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/esep-kz/esep/drivers/modbus"
)

func writeSimConfig(t *testing.T, dir, body string) string {
	t.Helper()
	path := filepath.Join(dir, "sim.yaml")
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestLoadExampleConfig loads configs/sim.yaml, which documents the keys.
func TestLoadExampleConfig(t *testing.T) {
	c, err := LoadConfig(filepath.Join("..", "..", "configs", "sim.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Buses) != 2 || c.TimeScale != 1440 || c.Start.IsZero() {
		t.Fatalf("loaded %d buses at time scale %v from %s; want 2 at 1440 from a start",
			len(c.Buses), c.TimeScale, c.Start)
	}
	riser, gw := c.Buses[0], c.Buses[1]
	if riser.Baud != 9600 || riser.Turnaround != 5*time.Millisecond || gw.Listen != "127.0.0.1:5020" {
		t.Errorf("bus settings %+v, %+v", riser, gw)
	}
	if got := riser.Units[0].Slaves(); !slices.Equal(got, []byte{1, 2, 3, 4, 5, 6, 7, 8}) {
		t.Errorf("slave 1-8 = %v", got)
	}
	if f := riser.Units[2].Faults.faults(1); f.SilentRate != 0.05 || f.CorruptCRCRate != 0.01 {
		t.Errorf("faults of slave 10 = %+v", f)
	}
	rule := gw.Units[3].Faults.faults(1).Exceptions[0]
	if rule.Code != modbus.ServerDeviceBusy || rule.Start != 0x5B00 || rule.Count != 2 ||
		!slices.Equal(rule.Functions, []Function{ReadHoldingRegisters}) {
		t.Errorf("exception rule %+v", rule)
	}
}

// validSimConfig is the base the error cases change; line numbers in
// their wants refer to it.
const validSimConfig = `time_scale: 60
buses:
  - name: riser
    transport: rtu
    baud: 9600
    units:
      - slave: 1-4
        profile: eastron-sdm120
  - name: gateway
    transport: tcp
    units:
      - slave: 1
        profile: garo-gnm3d
        faults:
          silent_rate: 0.1
`

func TestConfigErrors(t *testing.T) {
	sdm := "profile: eastron-sdm120"
	garo := "profile: garo-gnm3d"
	rate := "silent_rate: 0.1"
	tests := []struct {
		name     string
		old, new string // replaced in validSimConfig
		want     string
	}{
		{"unknown key", "baud: 9600", "baud: 9600\n    parity: E",
			`sim.yaml:6:5: buses[0].parity: unknown key "parity"; known keys here are name, ` +
				"transport, link, baud, listen, no_device, turnaround, units"},
		{"wrong type", rate, "silent_rate: often",
			`sim.yaml:15:11: buses[1].units[0].faults.silent_rate: "often" is not a number`},
		{"time scale", "time_scale: 60", "time_scale: -1",
			"sim.yaml:1:1: time_scale: -1 is not above 0"},
		{"no buses", validSimConfig, "time_scale: 1\n", "sim.yaml:1:1: buses: no buses configured"},
		{"profiles dir", "time_scale: 60", "time_scale: 60\nprofiles_dir: nope",
			"sim.yaml:2:1: profiles_dir: \"" + "DIR/nope\" is not a directory"},
		{"baud", "baud: 9600", "baud: 9601", "sim.yaml:5:5: buses[0].baud: 9601 is not one of"},
		{"transport", "transport: rtu", "transport: ascii",
			`sim.yaml:4:5: buses[0].transport: "ascii" is not one of rtu, tcp`},
		{"bus defined twice", "name: gateway", "name: riser",
			`sim.yaml:9:5: buses[1].name: bus "riser" is defined twice`},
		{"turnaround", "baud: 9600", "turnaround: 11s",
			"sim.yaml:5:5: buses[0].turnaround: 11s is outside"},
		{"listen on rtu", "baud: 9600", "listen: 127.0.0.1:5020",
			"sim.yaml:5:5: buses[0].listen: applies to transport tcp"},
		{"listen not host:port", "transport: tcp", "transport: tcp\n    listen: \"5020\"",
			`sim.yaml:11:5: buses[1].listen: "5020" is not host:port`},
		{"baud on tcp", "transport: tcp", "transport: tcp\n    baud: 9600",
			"sim.yaml:11:5: buses[1].baud: applies to transport rtu only"},
		{"no device code", "transport: tcp", "transport: tcp\n    no_device: 5",
			"sim.yaml:11:5: buses[1].no_device: 5 is not 0 (no answer), 10"},
		{"unknown profile", garo, "profile: garo",
			`sim.yaml:13:9: buses[1].units[0].profile: no profile is named "garo" (known: 2flow`},
		{"slave range backwards", "slave: 1-4", "slave: 4-1",
			`sim.yaml:7:9: buses[0].units[0].slave: "4-1" is not a slave id`},
		{"slave beyond 247", "slave: 1-4", "slave: 240-250",
			`sim.yaml:7:9: buses[0].units[0].slave: "240-250" is outside 1..247`},
		{"slave taken", sdm, sdm + "\n      - slave: 3\n        " + sdm,
			"sim.yaml:9:9: buses[0].units[1].slave: slave 3 is already simulated by buses[0]"},
		{"serial for a range", sdm, sdm + "\n        serial: \"22010001\"",
			"sim.yaml:9:9: buses[0].units[0].serial: 4 slaves cannot share one serial"},
		{"serial too long", garo, garo + "\n        serial: GARO-0123456789",
			`sim.yaml:14:9: buses[1].units[0].serial: serial "GARO-0123456789" does not fit`},
		{"rollover of a float", sdm, sdm + "\n        rollover: true",
			"sim.yaml:9:9: buses[0].units[0].rollover: the f32 register of energy_active_import"},
		{"negative index", sdm, sdm + "\n        index: -5",
			"sim.yaml:9:9: buses[0].units[0].index: -5 is outside 0..10000000000"},
		{"index and rollover", garo, garo + "\n        rollover: true\n        index: 5",
			"sim.yaml:15:9: buses[1].units[0].index: rollover sets the index"},
		{"swap before the start", sdm, sdm + "\n        swap_at: -1h",
			"sim.yaml:9:9: buses[0].units[0].swap_at: -1h0m0s is negative"},
		{"rate", rate, "silent_rate: 1.5",
			"sim.yaml:15:11: buses[1].units[0].faults.silent_rate: 1.5 is not a probability"},
		{"CRC on tcp", rate, "corrupt_crc_rate: 0.1",
			"sim.yaml:15:11: buses[1].units[0].faults.corrupt_crc_rate: Modbus TCP carries no CRC"},
		{"exception code", rate, "exceptions: [{code: 12}]",
			"sim.yaml:15:25: buses[1].units[0].faults.exceptions[0].code: 12 is not an exception"},
		{"exception every", rate, "exceptions: [{code: 6, every: -2}]",
			"buses[1].units[0].faults.exceptions[0].every: -2 is negative"},
		{"refused function", rate, "refused: [{functions: [7], count: 1}]",
			"buses[1].units[0].faults.refused[0].functions[0]: 7 is not one of [1 2 3 4 5 6 15"},
		{"refused past the end", rate, "refused: [{start: 65535, count: 2}]",
			"buses[1].units[0].faults.refused[0].count: 2 from 65535 runs past address 65535"},
		{"chunk size", rate, "chunks: [4, 0]",
			"sim.yaml:15:23: buses[1].units[0].faults.chunks[1]: 0 is not a positive size"},
		{"latency", rate, "latency: [1s, -1s]",
			"buses[1].units[0].faults.latency[1]: -1s is outside 0..10s"},
		{"foreign unit is itself", rate, "foreign_unit: 1",
			"buses[1].units[0].faults.foreign_unit: 1 is not another slave id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(validSimConfig, tt.old) {
				t.Fatalf("%q is not in the base config", tt.old)
			}
			dir := t.TempDir()
			path := writeSimConfig(t, dir, strings.Replace(validSimConfig, tt.old, tt.new, 1))
			want := strings.ReplaceAll(tt.want, "DIR/", dir+"/")
			_, err := LoadConfig(path)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("LoadConfig = %v\nwant an error containing %q", err, want)
			}
		})
	}
}

// TestConfigProfilesDir simulates a profile of the configuration's own
// directory.
func TestConfigProfilesDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "profiles"), 0o755); err != nil {
		t.Fatal(err)
	}
	own := filepath.Join(dir, "profiles", "scaled.yaml")
	if err := os.WriteFile(own, []byte(scaledProfile), 0o644); err != nil {
		t.Fatal(err)
	}
	body := strings.Replace(validSimConfig, "time_scale: 60",
		"time_scale: 60\nprofiles_dir: profiles", 1)
	body = strings.Replace(body, "profile: garo-gnm3d", "profile: scaled", 1)
	c, err := LoadConfig(writeSimConfig(t, dir, body))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Profiles().Get("scaled"); err != nil {
		t.Error(err)
	}
}

// TestStart serves a configuration: a meter behind TCP and one on a pty,
// read with goburrow's clients, and a meter swapped as on SIGUSR1.
func TestStart(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(dir, "bus0")
	body := "buses:\n" +
		"  - {name: riser, transport: rtu, link: " + link + ", baud: 38400, units: [\n" +
		"      {slave: 3, profile: eastron-sdm120, index: 1234.5}]}\n" +
		"  - {name: gateway, transport: tcp, no_device: 11, units: [\n" +
		"      {slave: 1-2, profile: garo-gnm3d, swap_on_signal: true}]}\n"
	c, err := LoadConfig(writeSimConfig(t, dir, body))
	if err != nil {
		t.Fatal(err)
	}
	s, err := Start(t.Context(), c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	rtu, tcp := s.Buses()[0], s.Buses()[1]
	if !strings.HasPrefix(rtu.Where(), link+" -> /dev/pts/") || len(tcp.Meters) != 2 {
		t.Fatalf("buses at %q with %d meters, %q with %d", rtu.Where(), len(rtu.Meters),
			tcp.Where(), len(tcp.Meters))
	}

	// Energy import, a float at 0x48, and u32 tenths of kWh at 52.
	checkEnergy(t, rtu.Meters[0].Meter, readFloat(t, goburrowRTU(t, link, 38400, 3), 0x48))
	garo := goburrowTCP(t, tcp.Where(), 2)
	regs, err := garo.ReadInputRegisters(52, 2)
	if err != nil {
		t.Fatal(err)
	}
	checkEnergy(t, tcp.Meters[1].Meter, float64(uint32(regs[2])<<24|uint32(regs[3])<<16|
		uint32(regs[0])<<8|uint32(regs[1]))/10)

	old := tcp.Meters[1].Meter.Serial()
	swapped := s.SwapMarked()
	if len(swapped) != 2 || swapped[1].Serial == old || swapped[1].Bus != "gateway" {
		t.Errorf("SwapMarked = %+v; want both garo meters with new serials (was %s)", swapped, old)
	}
}

func readFloat(t *testing.T, c interface {
	ReadInputRegisters(addr, qty uint16) ([]byte, error)
}, addr uint16) float64 {
	t.Helper()
	b, err := c.ReadInputRegisters(addr, 2)
	if err != nil {
		t.Fatal(err)
	}
	return float64(math.Float32frombits(uint32(b[0])<<24 | uint32(b[1])<<16 |
		uint32(b[2])<<8 | uint32(b[3])))
}

// checkEnergy compares what was read with the meter's index now: in real
// time it grows by less than a hundredth in a second.
func checkEnergy(t *testing.T, m *Meter, got float64) {
	t.Helper()
	want := value(t, m.Expected(time.Now()), "energy_active_import_kwh")
	if math.Abs(got-want) > 0.11 {
		t.Errorf("%s: energy read %.2f, the meter's index is %.2f", m.Profile().Name, got, want)
	}
}
