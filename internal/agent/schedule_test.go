package agent

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rs/zerolog"

	"github.com/esep-kz/esep/drivers/modbus"
	"github.com/esep-kz/esep/internal/reading"
)

// errNoAnswer stands for a meter that lets a request time out.
var errNoAnswer = errors.New("no answer")

// behaviour says how long the n-th poll of m (from 0), begun at now,
// takes on the fake clock, and whether it fails.
type behaviour func(m Meter, n int, now time.Time) (time.Duration, error)

// answers polls every meter in a second.
func answers(Meter, int, time.Time) (time.Duration, error) { return time.Second, nil }

// call is one Poll the fake poller saw.
type call struct {
	meter, bus string
	start, end time.Time
	err        error
}

// fakePoller records its calls and checks that a bus carries one at a
// time. Once the scheduler's Run has returned, every call is late.
type fakePoller struct {
	clock  *fakeClock
	behave behaviour

	mu          sync.Mutex
	abortTook   time.Duration // to return once ctx is cancelled
	calls       []call
	polls       map[string]int // by meter
	inflight    map[string]int // by bus
	maxInflight int            // over all buses
	overlaps    []string
	runReturned bool
	late        int // calls begun after Run returned
	leftRunning int // calls still running when Run returned
}

func newFakePoller(clock *fakeClock, behave behaviour) *fakePoller {
	return &fakePoller{clock: clock, behave: behave,
		polls: map[string]int{}, inflight: map[string]int{}}
}

func (p *fakePoller) Poll(ctx context.Context, m Meter) (reading.Reading, error) {
	start := p.clock.Now()
	took, err := p.begin(m, start)

	timer := p.clock.NewTimer(took)
	select {
	case <-ctx.Done():
		timer.Stop()
		err = ctx.Err()
		<-p.clock.NewTimer(p.abort()).C()
	case <-timer.C():
	}

	p.mu.Lock()
	p.inflight[m.Bus]--
	p.calls = append(p.calls, call{m.ID, m.Bus, start, p.clock.Now(), err})
	p.mu.Unlock()
	if err != nil {
		return reading.Reading{}, fmt.Errorf("cannot read meter %q: %w", m.ID, err)
	}
	return reading.Reading{Meter: m.ID}, nil // Time is left to the scheduler
}

func (p *fakePoller) begin(m Meter, now time.Time) (time.Duration, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.runReturned {
		p.late++
	}
	p.inflight[m.Bus]++
	if p.inflight[m.Bus] > 1 {
		p.overlaps = append(p.overlaps, fmt.Sprintf("%s on %s at %s", m.ID, m.Bus, now))
	}
	p.maxInflight = max(p.maxInflight, p.running())

	n := p.polls[m.ID]
	p.polls[m.ID]++
	return p.behave(m, n, now)
}

// running is how many calls run now, over all buses.
func (p *fakePoller) running() int {
	total := 0
	for _, n := range p.inflight {
		total += n
	}
	return total
}

func (p *fakePoller) abort() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.abortTook
}

// returned notes that Run has returned.
func (p *fakePoller) returned() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.runReturned = true
	p.leftRunning = p.running()
}

// callsOf returns the calls to meter, or to every meter if meter is "".
func (p *fakePoller) callsOf(meter string) []call {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.DeleteFunc(slices.Clone(p.calls), func(c call) bool {
		return meter != "" && c.meter != meter
	})
}

// startsOf returns when each call to meter started.
func (p *fakePoller) startsOf(meter string) []time.Time {
	var out []time.Time
	for _, c := range p.callsOf(meter) {
		out = append(out, c.start)
	}
	return out
}

// fakeSink records what the scheduler delivers.
type fakeSink struct {
	mu       sync.Mutex
	readings []reading.Reading
	events   []Event
}

func (s *fakeSink) Reading(r reading.Reading) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.readings = append(s.readings, r)
}

func (s *fakeSink) Event(e Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, e)
}

// harness runs a scheduler on a fake clock from 10:07:13 UTC+5.
type harness struct {
	t      *testing.T
	clock  *fakeClock
	poller *fakePoller
	sink   *fakeSink
	sched  *Scheduler
	cancel context.CancelFunc
	done   chan error
}

// start must be called inside synctest.Test.
func start(t *testing.T, c *Config, o Options, behave behaviour) *harness {
	t.Helper()
	h := &harness{t: t, clock: newFakeClock(at(10, 7, 13)), sink: &fakeSink{},
		done: make(chan error, 1)}
	h.poller = newFakePoller(h.clock, behave)
	o.Clock, o.Location = h.clock, almaty

	ctx, cancel := context.WithCancel(t.Context())
	s, err := NewScheduler(ctx, c, h.poller, h.sink, o)
	if err != nil {
		cancel()
		t.Fatalf("NewScheduler: %v", err)
	}
	h.sched, h.cancel = s, cancel
	go func() {
		err := s.Run(ctx)
		h.poller.returned()
		h.done <- err
	}()
	return h
}

// stop cancels the scheduler and checks that Run returns within a minute
// of that, with no poll running then or begun after, a day on.
func (h *harness) stop() {
	h.t.Helper()
	select {
	case err := <-h.done:
		h.t.Fatalf("Run returned %v before its context was cancelled", err)
	default:
	}

	h.cancel()
	h.clock.runUntil(h.clock.Now().Add(time.Minute))
	select {
	case err := <-h.done:
		if err != nil {
			h.t.Errorf("Run() = %v, want nil", err)
		}
	default:
		h.t.Fatalf("Run has not returned a minute after its context was cancelled")
	}

	h.clock.runUntil(h.clock.Now().Add(24 * time.Hour))
	p := h.poller
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.leftRunning > 0 || p.late > 0 {
		h.t.Errorf("Run returned with %d polls running and %d begun after",
			p.leftRunning, p.late)
	}
}

// testConfig puts meters on buses named by their Bus field, each bus
// with the given delay, in the order given.
func testConfig(delay time.Duration, meters ...Meter) *Config {
	c := &Config{Agent: AgentSection{ID: "test"}}
	for i, m := range meters {
		if !slices.ContainsFunc(c.Buses, func(b Bus) bool { return b.Name == m.Bus }) {
			c.Buses = append(c.Buses, Bus{Name: m.Bus, Transport: TransportTCP,
				Address: "127.0.0.1:502", Timeout: time.Second, Delay: delay})
		}
		m.Slave = i + 1
		c.Meters = append(c.Meters, m)
	}
	return c
}

func meter(id, bus string, every time.Duration) Meter {
	return Meter{ID: id, Bus: bus, Profile: "test", Interval: every}
}

// minutes returns the times hh:mm:00 for each mm from first to last.
func minutes(hh, first, last int) []time.Time {
	var out []time.Time
	for mm := first; mm <= last; mm++ {
		out = append(out, at(hh, mm, 0))
	}
	return out
}

func equalTimes(a, b []time.Time) bool {
	return slices.EqualFunc(a, b, time.Time.Equal)
}

func TestFirstPollAligned(t *testing.T) {
	tests := []struct {
		name  string
		every time.Duration
		want  time.Time
	}{
		{name: "1m", every: time.Minute, want: at(10, 8, 0)},
		{name: "15m", every: 15 * time.Minute, want: at(10, 15, 0)},
		{name: "1h", every: time.Hour, want: at(11, 0, 0)},
		{name: "day at local midnight", every: 24 * time.Hour, want: at(24, 0, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := start(t, testConfig(0, meter("m1", "b1", tt.every)), Options{}, answers)
				h.clock.runUntil(tt.want.Add(time.Second))
				h.stop()

				got := h.poller.startsOf("m1")
				if len(got) == 0 || !got[0].Equal(tt.want) {
					t.Fatalf("every %s from 10:07:13: first poll at %v, want %s",
						tt.every, got, tt.want)
				}
			})
		})
	}
}

func TestOneTransactionPerBus(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const delay = 80 * time.Millisecond
		c := testConfig(delay, meter("c", "b1", time.Minute),
			meter("a", "b1", time.Minute), meter("b", "b1", time.Minute))
		h := start(t, c, Options{}, answers)
		h.clock.runUntil(at(10, 12, 30))
		h.stop()

		if len(h.poller.overlaps) > 0 {
			t.Fatalf("polls overlapped on a bus: %v", h.poller.overlaps)
		}
		calls := h.poller.callsOf("")
		if len(calls) != 3*5 {
			t.Fatalf("got %d polls, want 15 (3 meters, 10:08 to 10:12)", len(calls))
		}
		for i, c := range calls {
			// Meters due at the same instant go in configuration order.
			if want := []string{"c", "a", "b"}[i%3]; c.meter != want {
				t.Errorf("poll %d is of %q at %s, want %q", i, c.meter, c.start, want)
			}
			if i%3 == 0 {
				continue
			}
			if gap := c.start.Sub(calls[i-1].end); gap != delay {
				t.Errorf("poll %d of %q: %s after the one before, want the bus delay %s",
					i, c.meter, gap, delay)
			}
		}
	})
}

func TestBusesInParallel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := testConfig(0, meter("m1", "b1", time.Minute), meter("m2", "b2", time.Minute))
		h := start(t, c, Options{}, answers)
		h.clock.runUntil(at(10, 8, 30))
		h.stop()

		for _, id := range []string{"m1", "m2"} {
			if got := h.poller.startsOf(id); !equalTimes(got, minutes(10, 8, 8)) {
				t.Errorf("%s polled at %v, want 10:08:00 on its own bus", id, got)
			}
		}
		if h.poller.maxInflight != 2 {
			t.Errorf("at most %d polls ran at once, want 2", h.poller.maxInflight)
		}
	})
}

func TestRetries(t *testing.T) {
	const delay = 50 * time.Millisecond
	tests := []struct {
		name      string
		retries   int
		failFirst int   // polls that fail before the meter answers
		failWith  error // what they fail with; errNoAnswer when nil
		wantCalls int   // in the first slot
		wantStats MeterStats
	}{
		{name: "illegal address is not retried", retries: 2, failFirst: 99,
			failWith:  &modbus.ExceptionError{Function: 3, Code: modbus.IllegalDataAddress},
			wantCalls: 1, wantStats: MeterStats{Error: 1}},
		{name: "busy device is retried", retries: 2, failFirst: 99,
			failWith:  &modbus.ExceptionError{Function: 3, Code: modbus.ServerDeviceBusy},
			wantCalls: 3, wantStats: MeterStats{Error: 1, Retries: 2}},
		{name: "default two", retries: 0, failFirst: 99, wantCalls: 3,
			wantStats: MeterStats{Error: 1, Retries: 2}},
		{name: "none", retries: -1, failFirst: 99, wantCalls: 1,
			wantStats: MeterStats{Error: 1}},
		{name: "five", retries: 5, failFirst: 99, wantCalls: 6,
			wantStats: MeterStats{Error: 1, Retries: 5}},
		{name: "answers on the last", retries: 2, failFirst: 2, wantCalls: 3,
			wantStats: MeterStats{OK: 1, Retries: 2}},
		{name: "answers at once", retries: 2, failFirst: 0, wantCalls: 1,
			wantStats: MeterStats{OK: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				behave := func(_ Meter, n int, _ time.Time) (time.Duration, error) {
					if n < tt.failFirst {
						if tt.failWith != nil {
							return time.Second, fmt.Errorf("cannot read meter: %w", tt.failWith)
						}
						return time.Second, errNoAnswer
					}
					return time.Second, nil
				}
				o := Options{Retries: tt.retries}
				h := start(t, testConfig(delay, meter("m1", "b1", time.Minute)), o, behave)
				h.clock.runUntil(at(10, 8, 59))
				h.stop()

				calls := h.poller.callsOf("m1")
				if len(calls) != tt.wantCalls {
					t.Fatalf("Retries %d: %d polls in the slot, want %d",
						tt.retries, len(calls), tt.wantCalls)
				}
				for i := 1; i < len(calls); i++ {
					if gap := calls[i].start.Sub(calls[i-1].end); gap != delay {
						t.Errorf("retry %d came %s after the failure, want %s", i, gap, delay)
					}
				}
				if got := h.sched.Stats()["m1"]; got != tt.wantStats {
					t.Errorf("Stats() = %+v, want %+v", got, tt.wantStats)
				}
			})
		})
	}
}

// deadUntil makes meter dead fail every poll, each after a 1s timeout,
// until back; other meters answer in 100ms.
func deadUntil(dead string, back time.Time) behaviour {
	return func(m Meter, _ int, now time.Time) (time.Duration, error) {
		if m.ID == dead && now.Before(back) {
			return time.Second, errNoAnswer
		}
		return 100 * time.Millisecond, nil
	}
}

func TestOfflineThenOnline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const delay = 50 * time.Millisecond
		c := testConfig(delay, meter("dead", "b1", time.Minute), meter("ok", "b1", time.Minute))
		o := Options{MaxProbe: 8 * time.Minute}
		h := start(t, c, o, deadUntil("dead", at(10, 40, 0)))
		h.clock.runUntil(at(10, 45, 30))
		h.stop()

		// Three slots of three attempts, then probes 2, 4, 8 and 8
		// minutes apart; the one at 10:40 answers.
		var firsts []time.Time
		for _, s := range h.poller.startsOf("dead") {
			if s.Equal(slotStart(s, time.Minute, almaty)) {
				firsts = append(firsts, s)
			}
		}
		want := append(minutes(10, 8, 10), at(10, 12, 0), at(10, 16, 0), at(10, 24, 0),
			at(10, 32, 0))
		want = append(want, minutes(10, 40, 45)...)
		if !equalTimes(firsts, want) {
			t.Errorf("dead meter polled in slots\n%v\nwant\n%v", firsts, want)
		}

		wantEvents := []Event{
			{Kind: MeterOffline, Meter: "dead", Time: at(10, 10, 3).Add(2 * delay).UTC()},
			{Kind: MeterOnline, Meter: "dead",
				Time: at(10, 40, 0).Add(100 * time.Millisecond).UTC()},
		}
		if !slices.EqualFunc(h.sink.events, wantEvents, sameEvent) {
			t.Fatalf("events = %v, want %v", h.sink.events, wantEvents)
		}
		if err := h.sink.events[0].Err; !errors.Is(err, errNoAnswer) {
			t.Errorf("offline event error = %v, want the last failure", err)
		}

		// The healthy meter keeps every slot, a dead meter's timeouts
		// late at most.
		if got := h.poller.startsOf("ok"); len(got) != 38 {
			t.Errorf("healthy meter polled %d times, want 38 (10:08 to 10:45)", len(got))
		}
		for _, s := range h.poller.startsOf("ok") {
			if late := s.Sub(slotStart(s, time.Minute, almaty)); late > 3*time.Second+3*delay {
				t.Errorf("healthy meter polled %s late at %s", late, s)
			}
		}

		stats := h.sched.Stats()
		wantDead := MeterStats{OK: 6, Error: 7, Backoff: 25, Retries: 6}
		if stats["dead"] != wantDead {
			t.Errorf("dead meter Stats() = %+v, want %+v", stats["dead"], wantDead)
		}
		if wantOK := (MeterStats{OK: 38}); stats["ok"] != wantOK {
			t.Errorf("healthy meter Stats() = %+v, want %+v", stats["ok"], wantOK)
		}
	})
}

func sameEvent(a, b Event) bool {
	return a.Kind == b.Kind && a.Meter == b.Meter && a.Time.Equal(b.Time)
}

func TestBackoff(t *testing.T) {
	tests := []struct {
		name     string
		every    time.Duration
		maxProbe time.Duration
		until    time.Time
		wantGaps []time.Duration // between probes, after going offline
	}{
		{name: "1m capped at 8m", every: time.Minute, maxProbe: 8 * time.Minute,
			until: at(11, 0, 0), wantGaps: mins(2, 4, 8, 8, 8, 8, 8)},
		{name: "15m capped at 1h by default", every: 15 * time.Minute,
			until: at(24+6, 0, 0), wantGaps: append(mins(30), slices.Repeat(mins(60), 18)...)},
		{name: "5m with a cap not in whole intervals", every: 5 * time.Minute,
			maxProbe: 17 * time.Minute, until: at(12, 0, 0),
			wantGaps: append(mins(10), slices.Repeat(mins(15), 6)...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := testConfig(0, meter("dead", "b1", tt.every), meter("ok", "b1", tt.every))
				o := Options{MaxProbe: tt.maxProbe, Retries: -1}
				h := start(t, c, o, deadUntil("dead", at(24*7, 0, 0)))
				h.clock.runUntil(tt.until)
				h.stop()

				probes := h.poller.startsOf("dead")[defaultOfflineAfter-1:]
				var gaps []time.Duration
				for i := 1; i < len(probes); i++ {
					gaps = append(gaps, probes[i].Sub(probes[i-1]))
				}
				if !slices.Equal(gaps, tt.wantGaps) {
					t.Errorf("gaps between probes = %v, want %v", gaps, tt.wantGaps)
				}
				// The slot at until is still being polled when the test stops.
				first := slotAtOrAfter(at(10, 7, 13), tt.every, almaty)
				slots := slotsBetween(first, tt.until, tt.every)
				if got := h.sched.Stats()["ok"].OK; got != slots {
					t.Errorf("healthy meter answered %d slots, want all %d", got, slots)
				}
			})
		})
	}
}

func mins(n ...int) []time.Duration {
	var out []time.Duration
	for _, m := range n {
		out = append(out, time.Duration(m)*time.Minute)
	}
	return out
}

func TestOverrun(t *testing.T) {
	// slow makes the first poll of meter "slow" take took, and every other
	// poll a second.
	slow := func(took time.Duration) behaviour {
		return func(m Meter, n int, _ time.Time) (time.Duration, error) {
			if m.ID == "slow" && n == 0 {
				return took, nil
			}
			return time.Second, nil
		}
	}
	tests := []struct {
		name        string
		meters      []Meter
		behave      behaviour
		wantStarts  map[string][]time.Time
		wantSkipped map[string]uint64
	}{
		{
			name:   "own poll runs into the next slot",
			meters: []Meter{meter("slow", "b1", time.Minute)},
			behave: slow(70 * time.Second),
			wantStarts: map[string][]time.Time{
				"slow": {at(10, 8, 0), at(10, 10, 0), at(10, 11, 0)},
			},
			wantSkipped: map[string]uint64{"slow": 1},
		},
		{
			name:        "no burst after a long overrun",
			meters:      []Meter{meter("slow", "b1", time.Minute)},
			behave:      slow(5*time.Minute + 30*time.Second),
			wantStarts:  map[string][]time.Time{"slow": {at(10, 8, 0), at(10, 14, 0)}},
			wantSkipped: map[string]uint64{"slow": 5},
		},
		{
			name:   "another meter holds the bus past a slot",
			meters: []Meter{meter("slow", "b1", time.Minute), meter("next", "b1", time.Minute)},
			behave: slow(130 * time.Second),
			wantStarts: map[string][]time.Time{
				"slow": {at(10, 8, 0), at(10, 11, 0)},
				"next": {at(10, 10, 10), at(10, 11, 1)},
			},
			wantSkipped: map[string]uint64{"slow": 2, "next": 2},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := start(t, testConfig(0, tt.meters...), Options{}, tt.behave)
				end := h.clock.Now()
				for _, s := range tt.wantStarts {
					end = later(end, s[len(s)-1].Add(30*time.Second))
				}
				h.clock.runUntil(end)
				h.stop()

				for id, want := range tt.wantStarts {
					if got := h.poller.startsOf(id); !equalTimes(got, want) {
						t.Errorf("%s polled at\n%v\nwant\n%v", id, got, want)
					}
					if got := h.sched.Stats()[id].Skipped; got != tt.wantSkipped[id] {
						t.Errorf("%s skipped %d slots, want %d", id, got, tt.wantSkipped[id])
					}
				}
				checkReadingTimes(t, h)
			})
		})
	}
}

// checkReadingTimes checks that each reading is stamped with the end of
// its poll in UTC, not with its slot.
func checkReadingTimes(t *testing.T, h *harness) {
	t.Helper()
	var ends []time.Time
	for _, c := range h.poller.callsOf("") {
		if c.err == nil {
			ends = append(ends, c.end)
		}
	}
	var got []time.Time
	for _, r := range h.sink.readings {
		if r.Time.Location() != time.UTC {
			t.Errorf("reading of %s at %s is not in UTC", r.Meter, r.Time)
		}
		got = append(got, r.Time)
	}
	if !equalTimes(got, ends) {
		t.Errorf("readings stamped\n%v\nwant the ends of their polls\n%v", got, ends)
	}
}

func TestCancel(t *testing.T) {
	tests := []struct {
		name      string
		cancelAt  time.Time
		abortTook time.Duration // for the poller to notice
		wantErr   error         // of the last call
		wantOK    uint64
	}{
		{name: "between slots", cancelAt: at(10, 9, 30), wantOK: 2},
		{name: "during a poll", cancelAt: at(10, 9, 5), wantErr: context.Canceled, wantOK: 1},
		{name: "during a poll slow to abort", cancelAt: at(10, 9, 5),
			abortTook: 20 * time.Second, wantErr: context.Canceled, wantOK: 1},
		{name: "before the first slot", cancelAt: at(10, 7, 30), wantOK: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := testConfig(0, meter("m1", "b1", time.Minute), meter("m2", "b2", time.Minute))
				h := start(t, c, Options{}, func(Meter, int, time.Time) (time.Duration, error) {
					return 10 * time.Second, nil
				})
				h.poller.mu.Lock()
				h.poller.abortTook = tt.abortTook
				h.poller.mu.Unlock()
				h.clock.runUntil(tt.cancelAt)
				h.stop() // checks that Run returned and nothing polls after

				calls := h.poller.callsOf("m1")
				if n := len(calls); n > 0 && !errors.Is(calls[n-1].err, tt.wantErr) {
					t.Errorf("last poll ended with %v, want %v", calls[n-1].err, tt.wantErr)
				}
				if got := h.sched.Stats()["m1"]; got != (MeterStats{OK: tt.wantOK}) {
					t.Errorf("Stats() = %+v, want only OK %d", got, tt.wantOK)
				}
			})
		})
	}
}

func TestRunTwice(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, testConfig(0, meter("m1", "b1", time.Minute)), Options{}, answers)
		synctest.Wait()
		if err := h.sched.Run(t.Context()); err == nil {
			t.Errorf("second Run() = nil, want an error")
		}
		h.stop()
	})
}

func TestFailureLogThrottled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var buf bytes.Buffer
		o := Options{Log: zerolog.New(&buf), MaxProbe: time.Minute, Retries: -1}
		h := start(t, testConfig(0, meter("m1", "b1", time.Minute)), o,
			deadUntil("m1", at(24*7, 0, 0)))
		h.clock.runUntil(at(11, 7, 30))
		h.stop()

		var suppressed []int
		offline := 0
		for line := range strings.Lines(buf.String()) {
			var l struct {
				Message    string
				Suppressed int
			}
			if err := json.Unmarshal([]byte(line), &l); err != nil {
				t.Fatalf("log line %q: %v", line, err)
			}
			switch l.Message {
			case "meter did not answer":
				suppressed = append(suppressed, l.Suppressed)
			case "meter offline":
				offline++
			}
		}
		// 60 failed slots, 10:08 to 11:07, one line per 15 minutes.
		if want := []int{0, 14, 14, 14}; !slices.Equal(suppressed, want) {
			t.Errorf("failure lines with suppressed counts %v, want %v", suppressed, want)
		}
		if offline != 1 {
			t.Errorf("%d \"meter offline\" lines, want 1", offline)
		}
		if got := h.sched.Stats()["m1"].Error; got != 60 {
			t.Errorf("Stats().Error = %d, want 60: every failure is counted", got)
		}
	})
}

func TestNewSchedulerErrors(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	good := testConfig(0, meter("m1", "b1", time.Minute))
	tests := []struct {
		name   string
		ctx    context.Context
		config *Config
		poller Poller
		opts   Options
		want   string
	}{
		{name: "cancelled", ctx: cancelled, config: good, want: "context canceled"},
		{name: "no poller", config: good, want: "without a poller"},
		{name: "unknown bus", config: &Config{Meters: []Meter{meter("m1", "b9", time.Hour)}},
			poller: &fakePoller{}, want: `meter "m1" is on bus "b9", which is not configured`},
		{name: "interval not dividing a day",
			config: testConfig(0, meter("m1", "b1", 7*time.Minute)), poller: &fakePoller{},
			want: `meter "m1": interval 7m0s does not divide a day`},
		{name: "meter twice",
			config: testConfig(0, meter("m1", "b1", time.Hour), meter("m1", "b1", time.Hour)),
			poller: &fakePoller{}, want: `meter "m1" is configured twice`},
		{name: "negative option", config: good, poller: &fakePoller{},
			opts: Options{OfflineAfter: -1}, want: "OfflineAfter -1 is negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := cmp.Or(tt.ctx, context.Background())
			_, err := NewScheduler(ctx, tt.config, tt.poller, &fakeSink{}, tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("NewScheduler() error = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestEventKindString(t *testing.T) {
	for k, want := range map[EventKind]string{
		MeterOffline: "meter_offline", MeterOnline: "meter_online", 0: "EventKind(0)",
	} {
		if got := k.String(); got != want {
			t.Errorf("EventKind(%d).String() = %q, want %q", int(k), got, want)
		}
	}
}
