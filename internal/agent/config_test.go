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
    profile: p
`

func TestLoadConfigDefaults(t *testing.T) {
	c, err := LoadConfig(writeConfig(t, validConfig))
	if err != nil {
		t.Fatal(err)
	}
	b := c.Buses[0]
	if b.Baud != 9600 || b.Parity != "E" || b.DataBits != 8 || b.StopBits != 1 ||
		b.Timeout != time.Second {
		t.Errorf("bus defaults = %+v", b)
	}
	if got := c.Meters[0].Interval; got != 15*time.Minute {
		t.Errorf("meter interval default = %s, want 15m", got)
	}
}

func TestLoadConfigErrors(t *testing.T) {
	tests := []struct {
		name    string
		replace [2]string // applied to validConfig
		want    string
	}{
		{"unknown key", [2]string{"slave: 1", "slave: 1\n    slav: 2"}, ":11: field slav not found"},
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
		{"unknown bus", [2]string{"bus: rs485", "bus: rs232"}, `:9:5: meters[0].bus: no bus is named "rs232"`},
		{"slave out of range", [2]string{"slave: 1", "slave: 248"}, "meters[0].slave: 248 is outside 1..247"},
		{"broadcast slave", [2]string{"slave: 1", "slave: 0"}, "meters[0].slave: 0 is outside 1..247"},
		{"interval not dividing a day", [2]string{"profile: p", "profile: p\n    interval: 7m"},
			"meters[0].interval: 7m0s does not divide a day"},
		{"sub-second interval", [2]string{"profile: p", "profile: p\n    interval: 1500ms"},
			"meters[0].interval: 1.5s does not divide a day"},
		{"id with a slash", [2]string{"id: m1", "id: m/1"}, `meters[0].id: "m/1" is not a valid meter name`},
		{"agent id missing", [2]string{"id: b1", "id: \"\""}, `agent.id: "" is not a valid ID`},
		{"no profile", [2]string{"profile: p", ""}, "meters[0].profile: a device profile is required"},
		{"duplicate meter", [2]string{"profile: p", "profile: p\n  - id: m1\n    bus: rs485\n    slave: 2\n    profile: p"},
			`meters[1].id: meter "m1" is defined twice`},
		{"duplicate slave", [2]string{"profile: p", "profile: p\n  - id: m2\n    bus: rs485\n    slave: 1\n    profile: p"},
			`meters[1].slave: slave 1 on bus "rs485" is already used`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := strings.Replace(validConfig, tt.replace[0], tt.replace[1], 1)
			path := writeConfig(t, body)
			_, err := LoadConfig(path)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("LoadConfig:\n%s\nerror = %v\nwant it to contain %q", body, err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), path) {
				t.Errorf("error %q does not start with the file name", err)
			}
		})
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
