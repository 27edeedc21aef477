package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/esep-kz/esep/internal/testkit"
)

// Scale of BenchmarkAgent1024Meters: 1024 apartment meters on five
// Modbus TCP gateways, each polled every second, as a large building
// polled far faster than in the field.
const (
	benchBuses     = 5
	benchMeters    = 1024
	benchRunFor    = 20 * time.Second
	benchClockTick = 100 // USER_HZ: /proc/PID/stat counts CPU in 1/100 s
)

// BenchmarkAgent1024Meters runs the real esep-agent binary against
// esep-sim with 1024 meters configured and reports its peak resident
// memory (goal: at most 64 MB) and the CPU it spends per 1000 meter reads.
func BenchmarkAgent1024Meters(b *testing.B) {
	dir := b.TempDir()
	agentBin := buildBinary(b, dir, "esep-agent")
	simBin := buildBinary(b, dir, "esep-sim")
	addrs := startBenchSim(b, dir, simBin, benchBuses, benchMeters)

	for b.Loop() {
		reads, rssKB, cpu := runAgent(b, agentBin, writeBenchFile(b, dir, "agent.yaml",
			agentConfig(addrs, filepath.Join(dir, "state"), benchMeters, "")))
		if reads == 0 {
			b.Fatal("the agent produced no readings")
		}
		perK := cpu / time.Duration(reads) * 1000
		b.ReportMetric(float64(rssKB)/1024, "peak-RSS-MB")
		b.ReportMetric(float64(perK.Milliseconds()), "CPU-ms/1000reads")
		fmt.Printf("REPORT: agent peak RSS with %d meters: %.1f MB (goal <= 64 MB)\n",
			benchMeters, float64(rssKB)/1024)
		fmt.Printf("REPORT: agent CPU per 1000 meter reads: %d ms (%d reads in %s)\n",
			perK.Milliseconds(), reads, benchRunFor)
	}
}

// startBenchSim starts esep-sim serving meters SDM120 meters on buses
// Modbus TCP gateways, and returns their addresses.
func startBenchSim(b *testing.B, dir, simBin string, buses, meters int) []string {
	addrs := make([]string, buses)
	for i := range addrs {
		addrs[i] = "127.0.0.1:" + strconv.Itoa(testkit.FreePort(b))
	}
	sim := testkit.NewProcess(b, simBin, "serve", "-config",
		writeBenchFile(b, dir, "sim.yaml", simConfig(addrs, meters)))
	if err := sim.Start(); err != nil {
		b.Fatal(err)
	}
	for _, a := range addrs {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := testkit.WaitTCP(ctx, a)
		cancel()
		if err != nil {
			b.Fatalf("simulator did not listen: %v\n%s", err, sim.LogTail(2000))
		}
	}
	return addrs
}

// runAgent runs the agent for benchRunFor and returns how many readings
// it wrote, its peak resident memory in kB and the CPU time it used.
func runAgent(b *testing.B, bin, config string) (reads int, rssKB int, cpu time.Duration) {
	cmd := exec.Command(bin, "-log-level", "warn", "run", "-config", config)
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}

	counted := make(chan int)
	go func() {
		n := 0
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			if bytes.HasPrefix(sc.Bytes(), []byte(`{"type":"reading"`)) {
				n++
			}
		}
		counted <- n
	}()

	time.Sleep(benchRunFor)
	rssKB, cpu = procUsage(b, cmd.Process.Pid)
	_ = cmd.Process.Signal(syscall.SIGINT)
	reads = <-counted
	if err := cmd.Wait(); err != nil {
		b.Fatalf("agent: %v\n%s", err, stderr.String())
	}
	return reads, rssKB, cpu
}

// procUsage reads the peak resident set (VmHWM) and the user plus system
// CPU time of a running process from /proc.
func procUsage(b *testing.B, pid int) (rssKB int, cpu time.Duration) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, l := range strings.Split(string(status), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmHWM:" {
			rssKB, _ = strconv.Atoi(f[1])
		}
	}

	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// Fields after the command name, which is in parentheses and may
	// hold spaces: utime and stime are the 12th and 13th of them.
	f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	utime, _ := strconv.Atoi(f[11])
	stime, _ := strconv.Atoi(f[12])
	return rssKB, time.Duration(utime+stime) * time.Second / benchClockTick
}

func buildBinary(b *testing.B, dir, name string) string {
	out := filepath.Join(dir, name)
	cmd := exec.Command("go", "build", "-o", out, "../"+name)
	if msg, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("build %s: %v\n%s", name, err, msg)
	}
	return out
}

func writeBenchFile(b *testing.B, dir, name, body string) string {
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		b.Fatal(err)
	}
	return p
}

// perBus spreads meters over buses buses: slave IDs 1..n on bus bus.
func perBus(meters, buses, bus int) int {
	n := meters / buses
	if bus < meters%buses {
		n++
	}
	return n
}

func simConfig(addrs []string, meters int) string {
	var s strings.Builder
	s.WriteString("buses:\n")
	for i, a := range addrs {
		fmt.Fprintf(&s, "  - name: gw%d\n    transport: tcp\n    listen: %s\n"+
			"    units:\n      - slave: 1-%d\n        profile: eastron-sdm120\n",
			i, a, perBus(meters, len(addrs), i))
	}
	return s.String()
}

// agentConfig configures meters meters on the gateways at addrs, polled
// every second, and appends extra sections.
func agentConfig(addrs []string, state string, meters int, extra string) string {
	var s strings.Builder
	fmt.Fprintf(&s, "agent:\n  id: bench\n  state_dir: %s\nbuses:\n", state)
	for i, a := range addrs {
		fmt.Fprintf(&s, "  - name: gw%d\n    transport: tcp\n    address: %s\n", i, a)
	}
	s.WriteString("meters:\n")
	for i := range addrs {
		for slave := 1; slave <= perBus(meters, len(addrs), i); slave++ {
			fmt.Fprintf(&s, "  - {id: m%d-%d, bus: gw%d, slave: %d, "+
				"profile: eastron-sdm120, interval: 1s}\n", i, slave, i, slave)
		}
	}
	return s.String() + extra
}
