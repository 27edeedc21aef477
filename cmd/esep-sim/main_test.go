package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	goburrow "github.com/goburrow/modbus"

	"github.com/esep-kz/esep/drivers/modbus"
	"github.com/esep-kz/esep/internal/cli"
	"github.com/esep-kz/esep/internal/reading"
	"github.com/esep-kz/esep/internal/testkit"
)

// runSim runs esep-sim in this process, as main does.
func runSim(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = cli.Run(&out, &errOut, "esep-sim", "test", args, serveCommand(), profilesCommand())
	return code, out.String(), errOut.String()
}

func TestProfilesCommand(t *testing.T) {
	code, out, errOut := runSim("profiles")
	ps, err := modbus.ShippedProfiles()
	if err != nil {
		t.Fatal(err)
	}
	if code != 0 {
		t.Fatalf("profiles exited %d: %s", code, errOut)
	}
	for _, name := range ps.Names() {
		if !strings.Contains(out, "\n"+name+" ") {
			t.Errorf("profiles does not list %s:\n%s", name, out)
		}
	}
}

func TestServeRefuses(t *testing.T) {
	dir := t.TempDir()
	bad := writeFile(t, filepath.Join(dir, "bad.yaml"), "buses:\n  - name: b\n"+
		"    transport: rtu\n    baud: 9601\n    units: [{slave: 1, profile: x}]\n")
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"invalid file", []string{"serve", "-config", bad}, 1,
			bad + ":4:5: buses[0].baud: 9601 is not one of"},
		{"unknown profile", []string{"serve", "-config", bad}, 1,
			bad + `:5:24: buses[0].units[0].profile: no profile is named "x"`},
		{"missing file", []string{"serve", "-config", filepath.Join(dir, "none.yaml")}, 1,
			"none.yaml: no such file"},
		{"no bus", []string{"serve"}, 2, "give -config FILE, or a bus with -tcp ADDR or -rtu"},
		{"file and bus flags", []string{"serve", "-config", bad, "-tcp", "127.0.0.1:0"}, 2,
			"-tcp describes a bus without a file"},
		{"two buses by flags", []string{"serve", "-tcp", "127.0.0.1:0", "-rtu"}, 2,
			"-tcp and -rtu serve one bus each"},
		{"bad flag value", []string{"serve", "-tcp", "127.0.0.1:0", "-units", "0-3"}, 1,
			`command line: buses[0].units[0].slave: "0-3" is outside 1..247`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := runSim(tt.args...)
			if code != tt.code || !strings.Contains(errOut, tt.want) {
				t.Errorf("esep-sim %q exited %d with\n%s\nwant %d and %q", tt.args, code, errOut,
					tt.code, tt.want)
			}
		})
	}
}

// TestServeEndToEnd builds esep-sim and runs it with a file, then with
// flags: it reads the meters it prints over TCP with goburrow and over
// the pty with mbpoll, swaps one on SIGUSR1 and stops on SIGINT.
func TestServeEndToEnd(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "esep-sim")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	link := filepath.Join(dir, "bus0")
	cfg := writeFile(t, filepath.Join(dir, "sim.yaml"), fmt.Sprintf(`time_scale: 1440
buses:
  - {name: riser, transport: rtu, link: %s, baud: 19200, turnaround: 2ms,
     units: [{slave: 1, profile: eastron-sdm120}]}
  - {name: gateway, transport: tcp,
     units: [{slave: 1-2, profile: eastron-sdm120, swap_on_signal: true}]}
`, link))

	p := startSim(t, bin, "serve", "-config", cfg)
	addr := p.where(t, "gateway")
	if got := p.where(t, "riser"); !strings.HasPrefix(got, link+" -> /dev/pts/") {
		t.Errorf("riser is at %q, want %s and its pty", got, link)
	}
	serial := checkSDM120(t, addr, 2)
	if !strings.Contains(p.stdout.String(), "slave   2  eastron-sdm120, serial "+serial) {
		t.Errorf("the summary does not give serial %s to slave 2:\n%s", serial, p.stdout.String())
	}
	t.Run("mbpoll on the pty", func(t *testing.T) { checkMbpoll(t, link) })

	p.signal(t, syscall.SIGUSR1)
	p.waitFor(t, &p.stderr, "meter swapped")
	if now := checkSDM120(t, addr, 2); now == serial {
		t.Errorf("serial %s unchanged after SIGUSR1", now)
	}
	p.stop(t)
	if _, err := os.Lstat(link); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("link %s still there after the stop: %v", link, err)
	}

	p = startSim(t, bin, "serve", "-tcp", "127.0.0.1:0", "-units", "1-3", "-seed", "5")
	checkSDM120(t, p.where(t, "tcp"), 3)
	p.stop(t)
}

// simProcess is a running esep-sim.
type simProcess struct {
	cmd            *exec.Cmd
	stdout, stderr testkit.SyncBuffer
}

func startSim(t *testing.T, bin string, args ...string) *simProcess {
	t.Helper()
	p := &simProcess{cmd: exec.Command(bin, append([]string{"-log-format", "json"}, args...)...)}
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Should the test stop early; after the stop, a no-op.
	t.Cleanup(func() { _ = p.cmd.Process.Kill() })
	p.waitFor(t, &p.stdout, "Ctrl-C stops")
	return p
}

// waitFor waits until out contains want, for at most ten seconds.
func (p *simProcess) waitFor(t *testing.T, out *testkit.SyncBuffer, want string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		if strings.Contains(out.String(), want) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("esep-sim did not print %q:\nstdout:\n%s\nstderr:\n%s", want, p.stdout.String(),
		p.stderr.String())
}

// where returns where the summary says a bus is served.
func (p *simProcess) where(t *testing.T, bus string) string {
	t.Helper()
	re := regexp.MustCompile(`(?m)^bus ` + regexp.QuoteMeta(bus) + `: .* on (.+)$`)
	m := re.FindStringSubmatch(p.stdout.String())
	if m == nil {
		t.Fatalf("no line for bus %s in\n%s", bus, p.stdout.String())
	}
	return m[1]
}

func (p *simProcess) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
}

// stop sends SIGINT, as Ctrl-C does, and wants a clean exit.
func (p *simProcess) stop(t *testing.T) {
	t.Helper()
	p.signal(t, syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("esep-sim after SIGINT: %v\n%s", err, p.stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("esep-sim still runs 10s after SIGINT:\n%s", p.stderr.String())
	}
}

// checkSDM120 reads an SDM120 with goburrow's TCP client, in the
// requests that the planner makes of its profile, checks that every
// value is plausible and returns its serial.
func checkSDM120(t *testing.T, addr string, slave byte) string {
	t.Helper()
	h := goburrow.NewTCPClientHandler(addr)
	h.SlaveId, h.Timeout = slave, 2*time.Second
	defer h.Close()
	c := goburrow.NewClient(h)

	ps, err := modbus.ShippedProfiles()
	if err != nil {
		t.Fatal(err)
	}
	p := ps["eastron-sdm120"]
	plan, err := modbus.NewPlan(p.Needs(), p.PlanOptions(modbus.DefaultPlanOptions()))
	if err != nil {
		t.Fatal(err)
	}
	results := make([]modbus.NeedResult, len(plan.Needs))
	for _, b := range plan.Blocks {
		read := c.ReadInputRegisters
		if b.Func == 3 {
			read = c.ReadHoldingRegisters
		}
		reply, err := read(b.Addr, b.Count)
		if err != nil {
			t.Fatalf("read %s of slave %d at %s: %v", b, slave, addr, err)
		}
		for _, i := range b.Needs {
			results[i].Words = b.Words(words(reply), plan.Needs[i])
		}
	}
	d, err := p.Decode(modbus.PlanWords(plan.Needs, results))
	if err != nil {
		t.Fatalf("decode slave %d: %v", slave, err)
	}
	for _, v := range d.Values {
		checkRange(t, v)
	}
	return d.Serial
}

// ranges bound what a flat's SDM120 shows; indexes and powers are
// bounded by the vocabulary alone.
var ranges = map[reading.Quantity][2]float64{
	"voltage_v": {215, 240}, "frequency_hz": {49.9, 50.1}, "power_factor": {0.9, 1},
	"current_a": {0, 60}, "power_w": {0, 14000},
}

func checkRange(t *testing.T, v reading.Value) {
	t.Helper()
	n := v.Number.InexactFloat64()
	if r, ok := ranges[v.Quantity]; v.Quality != reading.Good || ok && (n < r[0] || n > r[1]) {
		t.Errorf("%s (%s) is not within %v", v, v.Quality, ranges[v.Quantity])
	}
}

func words(b []byte) []uint16 {
	out := make([]uint16, len(b)/2)
	for i := range out {
		out[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
	}
	return out
}

// checkMbpoll reads the voltage on the pty with Debian's mbpoll, whose
// references count from 1 and whose -B reads floats high word first.
func checkMbpoll(t *testing.T, link string) {
	mbpoll := testkit.LookBinary(t, "mbpoll", "mbpoll")
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, mbpoll, "-1", "-B", "-m", "rtu", "-b", "19200",
		"-P", "none", "-a", "1", "-r", "1", "-c", "1", "-t", "3:float", link).CombinedOutput()
	m := regexp.MustCompile(`(?m)^\[1\]:\s+(\S+)`).FindSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("mbpoll: %v\n%s", err, out)
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil || v < 215 || v > 240 {
		t.Errorf("mbpoll read voltage %s, want 215..240 V", m[1])
	}
}

func writeFile(t *testing.T, path, body string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
