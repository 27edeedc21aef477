package agent

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/shopspring/decimal"

	"github.com/esep-kz/esep/internal/reading"
)

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
	n := len(p.calls)
	p.mu.Unlock()
	if err != nil {
		return reading.Reading{}, fmt.Errorf("cannot read meter %q: %w", m.ID, err)
	}
	// Time is left to the scheduler.
	return reading.Reading{Meter: m.ID, Values: []reading.Value{{
		Quantity: "energy_active_import_kwh", Unit: "kWh", Quality: reading.Good,
		Number: decimal.NewFromInt(int64(n)), Places: 2}}}, nil
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
	if o.ClockFloor.IsZero() {
		o.ClockFloor = at(0, 0, 0).AddDate(-1, 0, 0) // the fake clock is set
	}

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
			want: `meter "m1": interval 7m0s: a day (1440 minutes) is not a whole number of ` +
				`7-minute intervals; the nearest that divide a day are 6m and 8m`},
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
