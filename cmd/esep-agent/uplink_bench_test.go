package main

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/esep-kz/esep/internal/testkit"
	"github.com/esep-kz/esep/internal/wire"
)

// uplinkBenchMeters is the building of issue 4's memory goal.
const uplinkBenchMeters = 250

// BenchmarkAgent250MetersUplink runs the real esep-agent with 250 meters
// polled every second, spooling every reading and publishing it to
// Mosquitto, and reports its peak resident memory (goal: under 40 MB)
// and the readings a subscriber received.
func BenchmarkAgent250MetersUplink(b *testing.B) {
	dir := b.TempDir()
	agentBin := buildBinary(b, dir, "esep-agent")
	simBin := buildBinary(b, dir, "esep-sim")
	addrs := startBenchSim(b, dir, simBin, 2, uplinkBenchMeters)
	broker := testkit.StartMosquitto(b, testkit.MosquittoOptions{MaxQueuedMessages: -1})

	var delivered atomic.Int64
	topics := wire.Topics("esep", "bench")
	sub := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(broker.URL()).
		SetClientID("bench-centre"))
	if tok := sub.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		b.Fatalf("subscriber: %v", tok.Error())
	}
	defer sub.Disconnect(100)
	tok := sub.Subscribe(topics.Readings, 1, func(_ mqtt.Client, m mqtt.Message) {
		if batch, err := wire.DecodeReadings(m.Payload()); err == nil {
			delivered.Add(int64(len(batch.Readings)))
		}
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		b.Fatalf("subscribe: %v", tok.Error())
	}

	for b.Loop() {
		delivered.Store(0)
		extra := fmt.Sprintf("uplink: {broker: %q}\nhealth: {listen: \"off\"}\n", broker.URL())
		cfg := writeBenchFile(b, dir, "agent.yaml", agentConfig(addrs,
			filepath.Join(dir, "state"), uplinkBenchMeters, extra))
		cmd := exec.Command(agentBin, "-log-level", "warn", "run", "-config", cfg)
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		time.Sleep(benchRunFor)
		rssKB, _ := procUsage(b, cmd.Process.Pid)
		_ = cmd.Process.Signal(syscall.SIGINT)
		if err := waitExit(cmd, 30*time.Second); err != nil {
			b.Fatalf("agent: %v", err)
		}
		if delivered.Load() == 0 {
			b.Fatal("no reading reached the subscriber")
		}
		b.ReportMetric(float64(rssKB)/1024, "peak-RSS-MB")
		fmt.Printf("REPORT: agent peak RSS with %d meters, spooling and publishing: "+
			"%.1f MB (goal < 40 MB); %d readings delivered in %s\n",
			uplinkBenchMeters, float64(rssKB)/1024, delivered.Load(), benchRunFor)
	}
}
