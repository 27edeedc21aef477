package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/esep-kz/esep/internal/cli"
	"github.com/esep-kz/esep/internal/testkit"
)

// sdm120 returns the registers of an Eastron SDM120 (input registers
// 0-31 and 70-79 as its register map numbers them less 30001, serial in
// holding FC00-FC01) holding 230.1 V and an import index of 12345.67 kWh.
func sdm120(serial uint32) testkit.UnitRegisters {
	u := testkit.UnitRegisters{Input: map[uint16]uint16{}, Holding: map[uint16]uint16{
		0xFC00: uint16(serial >> 16), 0xFC01: uint16(serial)}}
	for _, span := range [][2]uint16{{0, 31}, {70, 79}} {
		for r := span[0]; r <= span[1]; r++ {
			u.Input[r] = 0
		}
	}
	for reg, f := range map[uint16]float32{0: 230.1, 72: 12345.67} {
		bits := math.Float32bits(f)
		u.Input[reg], u.Input[reg+1] = uint16(bits>>16), uint16(bits)
	}
	return u
}

func writeFile(t *testing.T, path, body string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// line is what the test reads of a JSON line of esep-agent run.
type line struct {
	Type   string    `json:"type"`
	Kind   string    `json:"kind"`
	Meter  string    `json:"meter"`
	Serial string    `json:"serial"`
	Time   time.Time `json:"time"`
	Values []struct {
		Quantity string `json:"quantity"`
		Value    string `json:"value"`
		Quality  string `json:"quality"`
	} `json:"values"`
}

// TestRunEndToEnd builds esep-agent, runs it against a pymodbus slave
// for a few readings, stops it with SIGINT and checks its lines and its
// clean exit.
func TestRunEndToEnd(t *testing.T) {
	t.Parallel()
	srv := testkit.StartModbusTCP(t, testkit.RegisterMap{1: sdm120(12345678)})
	dir := t.TempDir()
	bin := filepath.Join(dir, "esep-agent")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cfg := writeFile(t, filepath.Join(dir, "agent.yaml"), fmt.Sprintf(`agent:
  id: e2e
  state_dir: state
buses:
  - {name: b1, transport: tcp, address: "%s", timeout: 500ms}
meters:
  - {id: m1, bus: b1, slave: 1, profile: eastron-sdm120, interval: 1s}
`, srv.Addr()))

	cmd := exec.Command(bin, "-log-format", "json", "run", "-config", cfg)
	var stdout, stderr testkit.SyncBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Should the test stop before the signal; after it, a no-op.
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	waitReadings(t, &stdout, 2)

	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := waitExit(cmd, 10*time.Second); err != nil {
		t.Fatalf("esep-agent after SIGINT: %v\nstderr:\n%s", err, stderr.String())
	}
	for _, want := range []string{`"zone":"Asia/Almaty"`, "agent starting", "agent stopped"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("log does not contain %s:\n%s", want, stderr.String())
		}
	}
	for _, l := range parseLines(t, stdout.String()) {
		checkLine(t, l)
	}
	if _, err := os.Stat(filepath.Join(dir, "state", "state.json")); err != nil {
		t.Errorf("no state file after a clean stop: %v", err)
	}
}

// parseLines parses the whole lines of out.
func parseLines(t *testing.T, out string) []line {
	t.Helper()
	var lines []line
	for _, text := range strings.SplitAfter(out, "\n") {
		if !strings.HasSuffix(text, "\n") {
			break // a line still being written
		}
		var l line
		if err := json.Unmarshal([]byte(text), &l); err != nil {
			t.Fatalf("line %q is not JSON: %v", text, err)
		}
		lines = append(lines, l)
	}
	return lines
}

// waitReadings waits until out holds n reading lines, failing the test
// after 20 s: slots are a second apart.
func waitReadings(t *testing.T, out *testkit.SyncBuffer, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		readings := 0
		for _, l := range parseLines(t, out.String()) {
			if l.Type == "reading" {
				readings++
			}
		}
		if readings >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d readings within 20s, want %d; output:\n%s", readings, n, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func checkLine(t *testing.T, l line) {
	t.Helper()
	if l.Type != "reading" {
		t.Errorf("line of type %q kind %q, want readings only", l.Type, l.Kind)
		return
	}
	if l.Meter != "m1" || l.Serial != "12345678" || l.Time.Location() != time.UTC ||
		time.Since(l.Time) > time.Minute {
		t.Errorf("reading of meter %q serial %q at %v, want m1, 12345678, now in UTC",
			l.Meter, l.Serial, l.Time)
	}
	want := map[string]string{"voltage_v": "230.10", "energy_active_import_kwh": "12345.67"}
	for _, v := range l.Values {
		if w, ok := want[v.Quantity]; ok && (v.Value != w || v.Quality != "good") {
			t.Errorf("%s = %q (%s), want %s", v.Quantity, v.Value, v.Quality, w)
		}
	}
}

// waitExit waits for cmd and returns its error, or one when it has not
// exited within d.
func waitExit(cmd *exec.Cmd, d time.Duration) error {
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		_ = cmd.Process.Kill()
		return fmt.Errorf("still running %s after the signal", d)
	}
}

func TestCheckConfig(t *testing.T) {
	t.Parallel()
	unknown := writeFile(t, filepath.Join(t.TempDir(), "agent.yaml"), `agent: {id: b1}
buses:
  - {name: b1, transport: tcp, address: "127.0.0.1:502"}
meters:
  - id: m1
    bus: b1
    slave: 1
    profile: sdm120
`)
	tests := []struct {
		name, config string
		code         int
		want         string
	}{
		{"example", "../../configs/agent.yaml", 0,
			"2 buses, 3 meters, 2 profiles in use (8 known)\n" +
				"  spool /var/lib/esep-agent/spool.db, at most 256MiB, delivered records kept 168h0m0s\n" +
				"  uplink ssl://mqtt.esep.example.kz:8883, topics esep/v1/ala-bldg-0042/...\n" +
				"  health 127.0.0.1:9464"},
		{"unknown profile", unknown, 1, unknown + `:8:5: meters[0].profile: ` +
			`no profile is named "sdm120" (known: 2flow-mag-11, abb-b23, arad-octave, eastron-sdm120,`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			code := cli.Run(&out, &out, "esep-agent", "", []string{"check-config", "-config",
				tt.config}, checkConfigCommand())
			if code != tt.code || !strings.Contains(out.String(), tt.want) {
				t.Errorf("check-config %s = %d:\n%s\nwant %d and %q", tt.config, code, out.String(),
					tt.code, tt.want)
			}
		})
	}
}
