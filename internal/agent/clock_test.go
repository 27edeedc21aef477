package agent

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
	_ "time/tzdata" // zones with DST for the slot tests, on any machine

	"github.com/rs/zerolog"
)

// fakeClock is a Clock that moves only when a test says so. Run inside a
// synctest bubble, runUntil moves it from timer to timer once every
// goroutine is blocked, so a test sees each step in the same order on
// every run, whatever the machine's load and wall clock.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	mono   time.Duration // time let pass, steps of the wall clock not counted
	timers []*fakeTimer  // pending, in no order
}

// Mono implements monotonic.
func (c *fakeClock) Mono() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mono
}

type fakeTimer struct {
	clock *fakeClock
	at    time.Time
	c     chan time.Time
}

func newFakeClock(now time.Time) *fakeClock { return &fakeClock{now: now} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) NewTimer(d time.Duration) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{clock: c, at: c.now.Add(d), c: make(chan time.Time, 1)}
	if d <= 0 {
		t.c <- c.now
		return t
	}
	c.timers = append(c.timers, t)
	return t
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }

func (t *fakeTimer) Stop() bool {
	c := t.clock
	c.mu.Lock()
	defer c.mu.Unlock()
	n := len(c.timers)
	c.timers = slices.DeleteFunc(c.timers, func(p *fakeTimer) bool { return p == t })
	return len(c.timers) < n
}

// next returns when the earliest pending timer fires.
func (c *fakeClock) next() (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.timers) == 0 {
		return time.Time{}, false
	}
	first := c.timers[0].at
	for _, t := range c.timers[1:] {
		if t.at.Before(first) {
			first = t.at
		}
	}
	return first, true
}

// advanceTo sets the clock to t and fires every timer due by then.
func (c *fakeClock) advanceTo(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.After(c.now) {
		c.mono += t.Sub(c.now)
		c.now = t
	}
	c.timers = slices.DeleteFunc(c.timers, func(p *fakeTimer) bool {
		if p.at.After(c.now) {
			return false
		}
		p.c <- p.at
		return true
	})
}

// stepWall moves the wall clock by d, as NTP stepping it does. Timers
// keep their elapsed time, as real ones on the monotonic clock do.
func (c *fakeClock) stepWall(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	for _, t := range c.timers {
		t.at = t.at.Add(d)
	}
}

// runUntil lets the bubble's goroutines work, moving the clock to each
// timer in turn, and returns with the clock at end and every goroutine
// blocked. It must be called inside synctest.Test.
func (c *fakeClock) runUntil(end time.Time) {
	for {
		synctest.Wait()
		at, ok := c.next()
		if !ok || at.After(end) {
			c.advanceTo(end)
			synctest.Wait()
			return
		}
		c.advanceTo(at)
	}
}

// almaty is Kazakhstan's time, fixed so that tests need no zone files.
var almaty = time.FixedZone("UTC+5", 5*60*60)

// at returns the time of day hh:mm:ss on 2024-03-15 in almaty.
func at(hh, mm, ss int) time.Time {
	return time.Date(2024, 3, 15, hh, mm, ss, 0, almaty)
}

func TestSlots(t *testing.T) {
	india := time.FixedZone("UTC+5:30", 5*60*60+30*60)
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	berlinAt := func(month time.Month, day, hh, mm int) time.Time {
		return time.Date(2024, month, day, hh, mm, 0, 0, berlin)
	}

	tests := []struct {
		name       string
		t          time.Time
		every      time.Duration
		loc        *time.Location
		start      time.Time // slotStart
		after      time.Time // slotAfter
		atOrAfter  time.Time // slotAtOrAfter
		startsSlot bool
	}{
		{name: "15m", t: at(10, 7, 13), every: 15 * time.Minute, loc: almaty,
			start: at(10, 0, 0), after: at(10, 15, 0), atOrAfter: at(10, 15, 0)},
		{name: "1h", t: at(10, 7, 13), every: time.Hour, loc: almaty,
			start: at(10, 0, 0), after: at(11, 0, 0), atOrAfter: at(11, 0, 0)},
		{name: "1m", t: at(10, 7, 13), every: time.Minute, loc: almaty,
			start: at(10, 7, 0), after: at(10, 8, 0), atOrAfter: at(10, 8, 0)},
		{name: "on a slot", t: at(10, 15, 0), every: 15 * time.Minute, loc: almaty,
			start: at(10, 15, 0), after: at(10, 30, 0), atOrAfter: at(10, 15, 0)},
		{name: "day at local midnight", t: at(10, 7, 13), every: 24 * time.Hour, loc: almaty,
			start: at(0, 0, 0), after: at(24, 0, 0), atOrAfter: at(24, 0, 0)},
		{name: "1h in a half-hour zone", t: at(10, 7, 13), every: time.Hour, loc: india,
			start: at(9, 30, 0), after: at(10, 30, 0), atOrAfter: at(10, 30, 0)},
		{name: "day on a 23h day", t: berlinAt(3, 31, 12, 0), every: 24 * time.Hour, loc: berlin,
			start: berlinAt(3, 31, 0, 0), after: berlinAt(4, 1, 0, 0),
			atOrAfter: berlinAt(4, 1, 0, 0)},
		{name: "1h after spring forward", t: berlinAt(3, 31, 3, 20), every: time.Hour,
			loc: berlin, start: berlinAt(3, 31, 3, 0), after: berlinAt(3, 31, 4, 0),
			atOrAfter: berlinAt(3, 31, 4, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := slotStart(tt.t, tt.every, tt.loc); !got.Equal(tt.start) {
				t.Errorf("slotStart(%s, %s) = %s, want %s", tt.t, tt.every, got, tt.start)
			}
			if got := slotAfter(tt.t, tt.every, tt.loc); !got.Equal(tt.after) {
				t.Errorf("slotAfter(%s, %s) = %s, want %s", tt.t, tt.every, got, tt.after)
			}
			if got := slotAtOrAfter(tt.t, tt.every, tt.loc); !got.Equal(tt.atOrAfter) {
				t.Errorf("slotAtOrAfter(%s, %s) = %s, want %s",
					tt.t, tt.every, got, tt.atOrAfter)
			}
		})
	}
}

func TestSlotsBetween(t *testing.T) {
	tests := []struct {
		name     string
		from, to time.Time
		want     uint64
	}{
		{name: "same slot", from: at(10, 0, 0), to: at(10, 0, 0), want: 0},
		{name: "backwards", from: at(10, 15, 0), to: at(10, 0, 0), want: 0},
		{name: "one", from: at(10, 0, 0), to: at(10, 15, 0), want: 1},
		{name: "three", from: at(10, 0, 0), to: at(10, 45, 0), want: 3},
		{name: "part of one counts", from: at(10, 0, 0), to: at(10, 15, 1), want: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := slotsBetween(tt.from, tt.to, 15*time.Minute); got != tt.want {
				t.Errorf("slotsBetween(%s, %s) = %d, want %d", tt.from, tt.to, got, tt.want)
			}
		})
	}
}

func TestSleepUntil(t *testing.T) {
	tests := []struct {
		name     string
		until    time.Time
		cancelAt time.Time // zero: never
		want     bool
		wantNow  time.Time // clock when sleepUntil returned
	}{
		{name: "past", until: at(9, 0, 0), want: true, wantNow: at(10, 0, 0)},
		{name: "now", until: at(10, 0, 0), want: true, wantNow: at(10, 0, 0)},
		{name: "in an hour, by one-minute timers", until: at(11, 0, 0), want: true,
			wantNow: at(11, 0, 0)},
		{name: "cancelled first", until: at(11, 0, 0), cancelAt: at(10, 30, 0), want: false,
			wantNow: at(10, 30, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				clock := newFakeClock(at(10, 0, 0))
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()

				type result struct {
					ok  bool
					now time.Time
				}
				done := make(chan result, 1)
				go func() {
					ok := sleepUntil(ctx, clock, func() time.Time { return tt.until })
					done <- result{ok, clock.Now()}
				}()
				if !tt.cancelAt.IsZero() {
					clock.runUntil(tt.cancelAt)
					cancel()
				}
				clock.runUntil(at(12, 0, 0))

				r := <-done
				if got, gotNow := r.ok, r.now; got != tt.want || !gotNow.Equal(tt.wantNow) {
					t.Errorf("sleepUntil(%s) = %v at %s, want %v at %s",
						tt.until, got, gotNow, tt.want, tt.wantNow)
				}
			})
		})
	}
}

func TestSleepUntilWallClockStep(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clock := newFakeClock(at(10, 0, 0))
		done := make(chan struct{})
		go func() {
			sleepUntil(t.Context(), clock, func() time.Time { return at(12, 0, 0) })
			close(done)
		}()
		synctest.Wait()

		// NTP steps the wall clock an hour forward: the sleep must end
		// within a minute of 12:00 on the new clock, not an hour late.
		clock.stepWall(time.Hour)
		clock.runUntil(at(12, 1, 0))

		select {
		case <-done:
		default:
			t.Fatalf("sleepUntil(12:00) still asleep at %s after a step", clock.Now())
		}
	})
}

func TestSystemClock(t *testing.T) {
	var c Clock = systemClock{}
	if got := c.Now(); got.IsZero() {
		t.Errorf("Now() = %s", got)
	}
	<-c.NewTimer(0).C() // fires at once

	long := c.NewTimer(time.Hour)
	if !long.Stop() {
		t.Errorf("Stop() of a pending timer = false, want true")
	}
}

// readings is a Clock that returns the times given, one per Now.
type readings []time.Time

func (r *readings) Now() time.Time {
	t := (*r)[0]
	*r = (*r)[1:]
	return t
}

func (r *readings) NewTimer(time.Duration) Timer { panic("readings: no timers") }

// monoReadings are readings of a monotonic clock: each wall time with
// the time really elapsed by then.
type monoReadings struct {
	wall []time.Time
	mono []time.Duration
}

func (r *monoReadings) Now() time.Time {
	t := r.wall[0]
	r.wall = r.wall[1:]
	return t
}

func (r *monoReadings) Mono() time.Duration {
	d := r.mono[0]
	r.mono = r.mono[1:]
	return d
}

func (r *monoReadings) NewTimer(time.Duration) Timer { panic("readings: no timers") }

func TestStepWatch(t *testing.T) {
	sys := time.Now() // with a monotonic reading, which Add keeps
	tests := []struct {
		name      string
		readings  []time.Time
		mono      []time.Duration // elapsed at each reading; nil: not monotonic
		wantSteps int
		wantStep  time.Duration // seen by the last reading, negative when back
	}{
		{name: "forward", readings: []time.Time{at(10, 0, 0), at(10, 0, 30), at(11, 0, 0)}},
		{name: "back within tolerance, as a leap second",
			readings: []time.Time{at(10, 0, 0), at(10, 0, 30), at(10, 0, 29)}},
		{name: "back six hours",
			readings:  []time.Time{at(10, 0, 0), at(10, 0, 30), at(4, 0, 40)},
			wantSteps: 1, wantStep: -(6*time.Hour - 10*time.Second)},
		{name: "one step, then time runs on",
			readings:  []time.Time{at(10, 0, 0), at(4, 0, 0), at(4, 1, 0)},
			wantSteps: 1},
		{name: "two steps",
			readings:  []time.Time{at(10, 0, 0), at(9, 0, 0), at(8, 0, 0)},
			wantSteps: 2, wantStep: -time.Hour},
		{name: "system clock running on", readings: []time.Time{sys, sys.Add(time.Minute)}},
		{name: "monotonic: back, exactly",
			readings:  []time.Time{at(10, 0, 0), at(10, 0, 30), at(4, 0, 40)},
			mono:      []time.Duration{0, 30 * time.Second, 40 * time.Second},
			wantSteps: 1, wantStep: -6 * time.Hour},
		{name: "monotonic: forward two hours",
			readings:  []time.Time{at(10, 0, 0), at(10, 0, 30), at(12, 0, 40)},
			mono:      []time.Duration{0, 30 * time.Second, 40 * time.Second},
			wantSteps: 1, wantStep: 2 * time.Hour},
		{name: "monotonic: slewed within tolerance",
			readings: []time.Time{at(10, 0, 0), at(10, 1, 0)},
			mono:     []time.Duration{0, time.Minute - 50*time.Millisecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c Clock
			if tt.mono != nil {
				c = &monoReadings{wall: slices.Clone(tt.readings), mono: slices.Clone(tt.mono)}
			} else {
				r := readings(slices.Clone(tt.readings))
				c = &r
			}
			w := &stepWatch{clock: c}
			var steps int
			var step time.Duration
			for range tt.readings {
				_, steps, step = w.now()
			}
			if steps != tt.wantSteps || step != tt.wantStep {
				t.Errorf("readings %v: %d steps, the last %s; want %d, %s",
					tt.readings, steps, step, tt.wantSteps, tt.wantStep)
			}
		})
	}
}

// TestClockStepForward steps the wall clock forward two hours while the
// scheduler waits: the step is reported once, slots are planned afresh
// from the new time, and none of those jumped over counts as skipped.
func TestClockStepForward(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, testConfig(0, meter("m1", "b1", 15*time.Minute)), Options{},
			func(Meter, int, time.Time) (time.Duration, error) { return time.Second, nil })
		h.clock.runUntil(at(10, 20, 0))
		h.clock.stepWall(2 * time.Hour)
		h.clock.runUntil(at(12, 50, 0))
		h.stop()

		want := []time.Time{at(10, 15, 0), at(12, 30, 0), at(12, 45, 0)}
		if got := h.poller.startsOf("m1"); !equalTimes(got, want) {
			t.Errorf("m1 polled at\n%v\nwant\n%v", got, want)
		}
		var steps []time.Duration
		for _, e := range h.sink.events {
			if e.Kind == ClockStepped {
				steps = append(steps, e.Step)
			}
		}
		if len(steps) != 1 || steps[0] != 2*time.Hour {
			t.Errorf("ClockStepped steps %v, want one of 2h", steps)
		}
		if st := h.sched.Stats()["m1"]; st.Skipped != 0 {
			t.Errorf("%d slots counted skipped, want none: the clock jumped them", st.Skipped)
		}
	})
}

func TestClockStepBack(t *testing.T) {
	const step = -6 * time.Hour
	// quarters returns the quarter hours from 04:30 to 05:30, plus d.
	quarters := func(d time.Duration) []time.Time {
		var out []time.Time
		for s := at(4, 30, 0); !s.After(at(5, 30, 0)); s = s.Add(15 * time.Minute) {
			out = append(out, s.Add(d))
		}
		return out
	}
	tests := []struct {
		name       string
		meters     []Meter
		delay      time.Duration
		took       time.Duration // of every poll
		stepAt     time.Time
		wantStarts map[string][]time.Time
	}{
		{
			name:   "while waiting for a slot",
			meters: []Meter{meter("m1", "b1", 15*time.Minute), meter("m2", "b2", 15*time.Minute)},
			took:   time.Second, stepAt: at(10, 20, 0),
			wantStarts: map[string][]time.Time{
				"m1": append([]time.Time{at(10, 15, 0)}, quarters(0)...),
				"m2": append([]time.Time{at(10, 15, 0)}, quarters(0)...),
			},
		},
		{
			name:   "during a poll",
			meters: []Meter{meter("m1", "b1", 15*time.Minute), meter("m2", "b2", 15*time.Minute)},
			took:   10 * time.Second, stepAt: at(10, 15, 5),
			wantStarts: map[string][]time.Time{
				"m1": append([]time.Time{at(10, 15, 0)}, quarters(0)...),
				"m2": append([]time.Time{at(10, 15, 0)}, quarters(0)...),
			},
		},
		{
			// m2's slot of 10:15 on the old clock is dropped: a new
			// plan begins at 04:30.
			name:   "during the bus delay",
			meters: []Meter{meter("m1", "b1", 15*time.Minute), meter("m2", "b1", 15*time.Minute)},
			delay:  20 * time.Second, took: time.Second, stepAt: at(10, 15, 10),
			wantStarts: map[string][]time.Time{
				"m1": append([]time.Time{at(10, 15, 0)}, quarters(0)...),
				"m2": quarters(21 * time.Second),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var buf bytes.Buffer
				o := Options{Log: zerolog.New(zerolog.SyncWriter(&buf))}
				h := start(t, testConfig(tt.delay, tt.meters...), o,
					func(Meter, int, time.Time) (time.Duration, error) { return tt.took, nil })
				h.clock.runUntil(tt.stepAt)
				h.clock.stepWall(step)
				h.clock.runUntil(at(5, 31, 0))
				h.stop()

				for id, want := range tt.wantStarts {
					if got := h.poller.startsOf(id); !equalTimes(got, want) {
						t.Errorf("%s polled at\n%v\nwant\n%v", id, got, want)
					}
				}
				checkClockStepped(t, h.sink.events, &buf, step)
			})
		})
	}
}

// checkClockStepped checks that a step of the wall clock by step was
// reported once, exactly, to the sink and to the log, whatever the number
// of buses: the fake clock is monotonic, as the system clock is.
func checkClockStepped(t *testing.T, events []Event, log *bytes.Buffer, step time.Duration) {
	t.Helper()
	var stepped []Event
	for _, e := range events {
		if e.Kind == ClockStepped {
			stepped = append(stepped, e)
		}
	}
	if len(stepped) != 1 {
		t.Fatalf("%d ClockStepped events, want 1: %v", len(stepped), events)
	}
	if e := stepped[0]; e.Step != step || e.Meter != "" {
		t.Errorf("ClockStepped event %+v, want Step %s, no meter", e, step)
	}

	lines := 0
	for line := range strings.Lines(log.String()) {
		if strings.Contains(line, "wall clock stepped back") {
			lines++
			if !strings.Contains(line, `"level":"warn"`) {
				t.Errorf("clock step logged as %s, want at warn", line)
			}
		}
	}
	if lines != 1 {
		t.Errorf("clock step logged %d times, want once:\n%s", lines, log)
	}
}

// TestClockUnsynced checks that readings stamped before the clock floor
// have their numbers flagged clock_unsynced, and that going below the
// floor and back above it are each reported once, also after a step back.
func TestClockUnsynced(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		floor := at(10, 20, 0)
		o := Options{ClockFloor: floor}
		h := start(t, testConfig(0, meter("m1", "b1", 5*time.Minute)), o,
			func(Meter, int, time.Time) (time.Duration, error) { return time.Second, nil })
		h.clock.runUntil(at(10, 31, 0))
		h.clock.stepWall(-20 * time.Minute) // back to 10:11, below the floor
		h.clock.runUntil(at(10, 26, 0))
		h.stop()

		var got []string
		for _, r := range h.sink.readings {
			got = append(got, fmt.Sprintf("%s %s", r.Time.In(almaty).Format("15:04"),
				r.Values[0].Quality))
		}
		want := []string{"10:10 clock_unsynced", "10:15 clock_unsynced", "10:20 good",
			"10:25 good", "10:30 good", "10:15 clock_unsynced", "10:20 good", "10:25 good"}
		if !slices.Equal(got, want) {
			t.Errorf("readings\n%q\nwant\n%q", got, want)
		}
		var kinds []string
		for _, e := range h.sink.events {
			kinds = append(kinds, e.Kind.String())
		}
		wantKinds := []string{"clock_unsynced", "clock_synced", "clock_stepped",
			"clock_unsynced", "clock_synced"}
		if !slices.Equal(kinds, wantKinds) {
			t.Errorf("events %q, want %q", kinds, wantKinds)
		}
	})
}
