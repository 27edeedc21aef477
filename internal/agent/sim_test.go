package agent

import (
	"context"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/esep-kz/esep/internal/sim"
	"github.com/esep-kz/esep/internal/testkit"
)

// simBank returns a simulator device holding the registers of u.
func simBank(u testkit.UnitRegisters) *sim.Bank {
	b := sim.NewBank()
	for addr, v := range u.Input {
		b.SetRegisters(sim.ReadInputRegisters, addr, v)
	}
	for addr, v := range u.Holding {
		b.SetRegisters(sim.ReadHoldingRegisters, addr, v)
	}
	return b
}

// count returns how many readings and events of each kind the sink
// holds for meter.
func (s *fakeSink) count(meter string) (readings int, events map[EventKind]int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	events = map[EventKind]int{}
	for _, r := range s.readings {
		if r.Meter == meter {
			readings++
		}
	}
	for _, e := range s.events {
		if e.Meter == meter {
			events[e.Kind]++
		}
	}
	return readings, events
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %s", what, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestDeadUnitOnSharedBus runs the scheduler and the poller on the real
// clock against three simulated meters on one RTU bus, slots a second
// apart. Meter 2 dies after its first reading: it goes offline once
// while meters 1 and 3 keep being read. It is swapped for another meter
// while dead, and when it answers again the poller reads its identity
// and reports the swap.
func TestDeadUnitOnSharedBus(t *testing.T) {
	t.Parallel()
	units := sim.NewUnits()
	for slave, serial := range map[byte]uint32{1: 1001, 2: 1002, 3: 1003} {
		mustNot(t, units.SetDevice(slave, simBank(sdmUnit(serial, sdmPoints))))
	}
	srv, err := sim.ServeRTU(t.Context(), units, sim.RTUConfig{Baud: 38400})
	if err != nil {
		t.Fatalf("ServeRTU: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close() })

	c := loadTestConfig(t, t.TempDir(), rtuBus(srv.Path(), 38400, 100*time.Millisecond), 1, 2, 3)
	p, sink := newTestPoller(t, c)
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel)
	s, err := NewScheduler(t.Context(), c, p, sink, Options{Location: c.Location(),
		Retries: -1, OfflineAfter: 2, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	waitFor(t, "reading of m2", 10*time.Second, func() bool {
		n, _ := sink.count("m2")
		return n > 0
	})
	mustNot(t, units.SetFaults(2, sim.Faults{Dead: true}))
	waitFor(t, "offline event of m2", 10*time.Second, func() bool {
		_, ev := sink.count("m2")
		return ev[MeterOffline] > 0
	})
	mustNot(t, units.SetDevice(2, simBank(sdmUnit(9009, newMeter))))
	mustNot(t, units.SetFaults(2, sim.Faults{}))
	waitFor(t, "online event of m2", 10*time.Second, func() bool {
		_, ev := sink.count("m2")
		return ev[MeterOnline] > 0
	})

	checkSharedBus(t, sink)
	if st := s.Stats()["m2"]; st.Offline || st.Error < 2 {
		t.Errorf("stats of m2 = %+v, want online again after at least 2 failed slots", st)
	}
}

func checkSharedBus(t *testing.T, sink *fakeSink) {
	t.Helper()
	for _, m := range []string{"m1", "m3"} {
		n, ev := sink.count(m)
		if n < 3 || len(ev) > 0 {
			t.Errorf("meter %s: %d readings and events %v; want a reading a second, no event",
				m, n, ev)
		}
	}
	_, ev := sink.count("m2")
	want := map[EventKind]int{MeterOffline: 1, MeterOnline: 1, MeterReplaced: 1}
	for kind, n := range want {
		if ev[kind] != n {
			t.Errorf("m2 has %d %s events, want %d (all: %v)", ev[kind], kind, n, ev)
		}
	}

	sink.mu.Lock()
	defer sink.mu.Unlock()
	for _, e := range sink.events {
		if e.Kind == MeterReplaced && (e.OldSerial != "1002" || e.NewSerial != "9009") {
			t.Errorf("replacement of m2 from serial %q to %q, want 1002 to 9009",
				e.OldSerial, e.NewSerial)
		}
	}
}

func mustNot(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
