package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/esep-kz/esep/internal/spool"
	"github.com/esep-kz/esep/internal/testkit"
	"github.com/esep-kz/esep/internal/wire"
)

// seqSet is the sequence numbers a subscriber received, readings and
// events together, as the agent numbers both in one sequence.
type seqSet struct {
	mu   sync.Mutex
	seen map[uint64]bool
	bad  []error
}

func (s *seqSet) take(topics wire.TopicSet, m mqtt.Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch m.Topic() {
	case topics.Readings:
		b, err := wire.DecodeReadings(m.Payload())
		if err != nil {
			s.bad = append(s.bad, err)
			return
		}
		for _, it := range b.Readings {
			s.seen[it.Seq] = true
		}
	case topics.Events:
		b, err := wire.DecodeEvents(m.Payload())
		if err != nil {
			s.bad = append(s.bad, err)
			return
		}
		for _, it := range b.Events {
			s.seen[it.Seq] = true
		}
	}
}

// missing returns the sequence numbers 1..last not received.
func (s *seqSet) missing(last uint64) []uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []uint64
	for q := uint64(1); q <= last; q++ {
		if !s.seen[q] {
			out = append(out, q)
		}
	}
	return out
}

// TestKilledWhilePublishing kills the agent with SIGKILL at twenty random
// moments while it polls, spools and publishes, restarting it each time:
// every record it ever numbered reaches the broker's subscriber.
func TestKilledWhilePublishing(t *testing.T) {
	t.Parallel()
	broker := testkit.StartMosquitto(t, testkit.MosquittoOptions{})
	regs := testkit.RegisterMap{}
	for slave := byte(1); slave <= 4; slave++ {
		regs[slave] = sdm120(10000000 + uint32(slave))
	}
	srv := testkit.StartModbusTCP(t, regs)
	dir := t.TempDir()
	bin := filepath.Join(dir, "esep-agent")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cfg := writeFile(t, filepath.Join(dir, "agent.yaml"), fmt.Sprintf(`agent: {id: killtest, state_dir: state}
buses:
  - {name: gw, transport: tcp, address: "%s", timeout: 500ms}
meters:
  - {id: m1, bus: gw, slave: 1, profile: eastron-sdm120, interval: 1s}
  - {id: m2, bus: gw, slave: 2, profile: eastron-sdm120, interval: 1s}
  - {id: m3, bus: gw, slave: 3, profile: eastron-sdm120, interval: 1s}
  - {id: m4, bus: gw, slave: 4, profile: eastron-sdm120, interval: 1s}
uplink: {broker: "%s", backoff_min: 50ms, backoff_max: 200ms}
health: {listen: "off"}
`, srv.Addr(), broker.URL()))

	topics := wire.Topics("esep", "killtest")
	got := &seqSet{seen: map[uint64]bool{}}
	sub := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(broker.URL()).
		SetClientID("kill-centre").SetCleanSession(false))
	if tok := sub.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscriber: %v", tok.Error())
	}
	defer sub.Disconnect(100)
	tok := sub.SubscribeMultiple(map[string]byte{topics.Readings: 1, topics.Events: 1},
		func(_ mqtt.Client, m mqtt.Message) { got.take(topics, m) })
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}

	rng := rand.New(rand.NewPCG(20261204, 1))
	for kill := range 20 {
		cmd := exec.Command(bin, "-log-level", "warn", "run", "-config", cfg)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200*time.Millisecond + time.Duration(rng.Int64N(int64(1300*time.Millisecond))))
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatalf("kill %d: %v", kill, err)
		}
		_ = cmd.Wait()
	}

	// A last run, stopped cleanly once the spool is drained.
	cmd := exec.Command(bin, "-log-level", "warn", "run", "-config", cfg)
	var stderr testkit.SyncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := waitExit(cmd, 30*time.Second); err != nil {
		t.Fatalf("last run: %v\n%s", err, stderr.String())
	}

	sp, err := spool.Open(context.Background(), filepath.Join(dir, "state", "spool.db"),
		spool.Options{MaxBytes: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	st := sp.Stats()
	pending, err := sp.Pending(0, 0, 0)
	_ = sp.Close()
	if err != nil {
		t.Fatal(err)
	}
	last := st.NextSeq - 1
	if last < 40 {
		t.Fatalf("only %d records numbered over 21 runs", last)
	}
	// What the last run had not delivered yet is still pending, not lost.
	held := map[uint64]bool{}
	for _, r := range pending {
		held[r.Seq] = true
	}
	var lost []uint64
	for _, q := range got.missing(last) {
		if !held[q] {
			lost = append(lost, q)
		}
	}
	if len(lost) > 0 {
		t.Errorf("%d of %d records neither delivered nor pending: %v", len(lost), last,
			lost[:min(len(lost), 20)])
	}
	got.mu.Lock()
	defer got.mu.Unlock()
	if len(got.bad) > 0 {
		t.Errorf("undecodable messages: %v", got.bad)
	}
	t.Logf("%d records over 21 runs, %d delivered, %d pending at the end", last,
		len(got.seen), st.Pending)
}
