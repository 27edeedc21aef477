package agent

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "agent.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const validConfig = `agent:
  id: b1
buses:
  - name: rs485
    transport: rtu
    device: /dev/ttyUSB0
meters:
  - id: m1
    bus: rs485
    slave: 1
    profile: eastron-sdm120
`

func TestLoadConfigDefaults(t *testing.T) {
	c, err := LoadConfig(writeConfig(t, validConfig))
	if err != nil {
		t.Fatal(err)
	}
	b := c.Buses[0]
	if b.Baud != 9600 || b.Parity != "E" || b.DataBits != 8 || b.StopBits != 1 ||
		b.Timeout != time.Second || b.Guard != 0 {
		t.Errorf("bus defaults = %+v", b)
	}
	if m := c.Meters[0]; m.Interval != 15*time.Minute || m.Timeout != 0 {
		t.Errorf("meter defaults = %+v, want interval 15m and no timeout of its own", m)
	}
	a := c.Agent
	if a.Timezone != "Asia/Almaty" || a.StateDir != "/var/lib/esep-agent" || a.ProfilesDir != "" {
		t.Errorf("agent defaults = %+v", a)
	}
	if loc := c.Location(); loc == nil || loc.String() != "Asia/Almaty" {
		t.Errorf("Location() = %v, want Asia/Almaty", loc)
	}
	if _, ok := c.Profiles()["eastron-sdm120"]; !ok {
		t.Errorf("Profiles() = %v, want the shipped ones", c.Profiles().Names())
	}
}

// prof is the profile line of validConfig, where most rows add a line.
const prof = "profile: eastron-sdm120"

// secondMeter appends a meter with the given id and slave to validConfig.
func secondMeter(id, slave string) [2]string {
	return [2]string{prof, prof + "\n  - id: " + id + "\n    bus: rs485\n    slave: " + slave +
		"\n    " + prof}
}

func TestLoadConfigErrors(t *testing.T) {
	tests := []struct {
		name    string
		replace [2]string // applied to validConfig
		want    string
	}{
		{"unknown key", [2]string{"slave: 1", "slave: 1\n    slav: 2"},
			`:11:5: meters[0].slav: unknown key "slav"; did you mean "slave"?`},
		{"misspelt key", [2]string{"device: /dev/ttyUSB0", "device: /dev/ttyUSB0\n    pairty: N"},
			`:7:5: buses[0].pairty: unknown key "pairty"; did you mean "parity"?`},
		{"word for a number", [2]string{"device: /dev/ttyUSB0", "device: /dev/ttyUSB0\n    baud: fast"},
			`:7:5: buses[0].baud: "fast" is not a whole number`},
		{"quoted number", [2]string{"device: /dev/ttyUSB0", "device: /dev/ttyUSB0\n    baud: \"9600\""},
			`:7:5: buses[0].baud: "9600" is not a whole number`},
		{"duration without a unit", [2]string{"device: /dev/ttyUSB0",
			"device: /dev/ttyUSB0\n    timeout: 500"},
			":7:5: buses[0].timeout: 500 is not a duration: write it with a unit, such as 500ms or 2s"},
		{"typo hides no other problem", [2]string{"device: /dev/ttyUSB0",
			"device: /dev/ttyUSB0\n    pairty: N\n    baud: 9601"},
			`:7:5: buses[0].pairty: unknown key "pairty"; did you mean "parity"?` + "\n" +
				`:8:5: buses[0].baud: 9601 is not one of`}, // each line of want is in the error
		{"bad baud", [2]string{"device: /dev/ttyUSB0", "device: /dev/ttyUSB0\n    baud: 9601"},
			":7:5: buses[0].baud: 9601 is not one of"},
		{"bad parity", [2]string{"device: /dev/ttyUSB0", "device: /dev/ttyUSB0\n    parity: X"},
			`buses[0].parity: "X" is not one of N, E, O`},
		{"rtu without device", [2]string{"device: /dev/ttyUSB0", ""},
			"buses[0].device: a serial device is required"},
		{"tcp without address", [2]string{"transport: rtu", "transport: tcp"},
			`buses[0].address: "" is not host:port`},
		{"unknown transport", [2]string{"transport: rtu", "transport: ascii"},
			`buses[0].transport: "ascii" is not one of`},
		{"guard too long", [2]string{"device: /dev/ttyUSB0", "device: /dev/ttyUSB0\n    guard: 11s"},
			":7:5: buses[0].guard: 11s is outside 0..10s"},
		{"connect timeout too long", [2]string{"device: /dev/ttyUSB0",
			"device: /dev/ttyUSB0\n    connect_timeout: 2m"},
			":7:5: buses[0].connect_timeout: 2m0s is outside 0..1m0s"},
		{"guard on tcp", [2]string{"transport: rtu\n    device: /dev/ttyUSB0",
			"transport: tcp\n    address: 127.0.0.1:502\n    guard: 1s"},
			"buses[0].guard: applies to RTU framing only"},
		{"unknown bus", [2]string{"bus: rs485", "bus: rs232"},
			`:9:5: meters[0].bus: no bus is named "rs232"`},
		{"slave out of range", [2]string{"slave: 1", "slave: 248"},
			"meters[0].slave: 248 is outside 1..247"},
		{"broadcast slave", [2]string{"slave: 1", "slave: 0"}, "meters[0].slave: 0 is outside 1..247"},
		{"interval not dividing a day", [2]string{prof, prof + "\n    interval: 7m"},
			"meters[0].interval: a day (1440 minutes) is not a whole number of 7-minute " +
				"intervals; the nearest that divide a day are 6m and 8m (others: 1m, 2m, 3m, 4m, " +
				"5m, 6m, 10m, 12m, 15m, 20m, 30m, 1h, 2h, ...)"},
		{"hours not dividing a day", [2]string{prof, prof + "\n    interval: 5h"},
			"meters[0].interval: a day (24 hours) is not a whole number of 5-hour intervals; " +
				"the nearest that divide a day are 4h and 6h"},
		{"interval longer than a day", [2]string{prof, prof + "\n    interval: 25h"},
			"meters[0].interval: a day (24 hours) is not a whole number of 25-hour intervals; " +
				"the nearest that divides a day is 24h"},
		{"fraction of a second", [2]string{prof, prof + "\n    interval: 1500ms"},
			"meters[0].interval: 1.5s is not a whole number of seconds"},
		{"sub-second interval", [2]string{prof, prof + "\n    interval: 500ms"},
			"meters[0].interval: 500ms is shorter than 1s"},
		{"meter timeout too long", [2]string{prof, prof + "\n    timeout: 20s"},
			":12:5: meters[0].timeout: 20s is outside 1ms..10s"},
		{"meter timeout negative", [2]string{prof, prof + "\n    timeout: -1s"},
			"meters[0].timeout: -1s is outside 1ms..10s"},
		{"id with a slash", [2]string{"id: m1", "id: m/1"}, `meters[0].id: "m/1" is not a valid meter name`},
		{"agent id missing", [2]string{"id: b1", "id: \"\""}, `agent.id: "" is not a valid ID`},
		{"unknown time zone", [2]string{"id: b1", "id: b1\n  timezone: Asia/Astana"},
			`:3:3: agent.timezone: "Asia/Astana" is not a zone of the tz database`},
		{"no profile", [2]string{prof, ""}, "meters[0].profile: a device profile is required"},
		{"unknown profile", [2]string{prof, "profile: eastron-sdm121"},
			`:11:5: meters[0].profile: no profile is named "eastron-sdm121" ` +
				"(known: 2flow-mag-11, abb-b23,"},
		{"profiles dir missing", [2]string{"id: b1", "id: b1\n  profiles_dir: no-such-dir"},
			`:3:3: agent.profiles_dir: "`},
		{"duplicate meter", secondMeter("m1", "2"), `meters[1].id: meter "m1" is defined twice`},
		{"duplicate slave", secondMeter("m2", "1"),
			`meters[1].slave: slave 1 on bus "rs485" is already used`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := strings.Replace(validConfig, tt.replace[0], tt.replace[1], 1)
			path := writeConfig(t, body)
			_, err := LoadConfig(path)
			if err == nil {
				t.Fatalf("LoadConfig:\n%s\nerror = nil, want %q", body, tt.want)
			}
			for want := range strings.SplitSeq(tt.want, "\n") {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("LoadConfig:\n%s\nerror = %v\nwant it to contain %q", body, err, want)
				}
			}
			if !strings.HasPrefix(err.Error(), path) {
				t.Errorf("error %q does not start with the file name", err)
			}
		})
	}
}

// siteProfile is a profile of the site's own, in a profiles_dir.
const siteProfile = `name: site-meter
maker: Site
model: M1
kind: water
source: {document: site register map, revision: "1"}
function: holding
addressing: pdu
values:
  - {quantity: volume_m3, address: 0, type: u32, scale: 0.001, unit: m3}
`

func TestLoadConfigProfilesDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "profiles"), 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name, body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("profiles/site.yaml", siteProfile)
	body := strings.Replace(validConfig, "id: b1",
		"id: b1\n  profiles_dir: profiles\n  state_dir: state", 1)
	write("agent.yaml", strings.Replace(body, prof, "profile: site-meter", 1))

	c, err := LoadConfig(filepath.Join(dir, "agent.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Agent.ProfilesDir, filepath.Join(dir, "profiles"); got != want {
		t.Errorf("profiles_dir = %q, want %q: relative to the file", got, want)
	}
	if got, want := c.Agent.StateDir, filepath.Join(dir, "state"); got != want {
		t.Errorf("state_dir = %q, want %q: relative to the file", got, want)
	}
	for _, name := range []string{"site-meter", "eastron-sdm120"} {
		if _, ok := c.Profiles()[name]; !ok {
			t.Errorf("profile %q not loaded; have %v", name, c.Profiles().Names())
		}
	}

	// A broken profile is reported with its own file and line.
	write("profiles/broken.yaml", strings.Replace(siteProfile, "name: site-meter",
		"name: broken\nmakr: x", 1))
	_, err = LoadConfig(filepath.Join(dir, "agent.yaml"))
	want := filepath.Join(dir, "profiles", "broken.yaml") + ":2"
	if err == nil || !strings.Contains(err.Error(), "agent.profiles_dir") ||
		!strings.Contains(err.Error(), want) {
		t.Errorf("LoadConfig with a broken profile: error = %v\nwant agent.profiles_dir and %q",
			err, want)
	}
}

// TestShippedConfigs loads every agent example under configs/, so an
// example can never drift out of step with the code that reads it.
func TestShippedConfigs(t *testing.T) {
	paths, err := filepath.Glob("../../configs/agent*.yaml")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no agent examples found: %v", err)
	}
	for _, p := range paths {
		t.Run(filepath.Base(p), func(t *testing.T) {
			if _, err := LoadConfig(p); err != nil {
				t.Fatal(err)
			}
		})
	}
}
