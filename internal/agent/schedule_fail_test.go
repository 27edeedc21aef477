package agent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rs/zerolog"

	"github.com/esep-kz/esep/drivers/modbus"
)

// Tests of what the scheduler does about meters and buses that fail:
// retries, offline and back, probing, and the lines it logs about them.

// errNoAnswer stands for a meter that lets a request time out.
var errNoAnswer = fmt.Errorf("no answer: %w", modbus.ErrTimeout)

// errRefused stands for a TCP gateway that refuses connections.
var errRefused = fmt.Errorf(`cannot open bus "b1": %w: connection refused`, modbus.ErrConnection)

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
		{name: "gateway target that failed to respond waits for the next slot",
			retries: 2, failFirst: 99,
			failWith: &modbus.ExceptionError{Function: 3,
				Code: modbus.GatewayTargetFailedToRespond},
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

func TestFailureLogThrottled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var buf bytes.Buffer
		o := Options{Log: zerolog.New(zerolog.SyncWriter(&buf)), MaxProbe: time.Minute, Retries: -1}
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

func TestRetryable(t *testing.T) {
	exception := func(c modbus.ExceptionCode) error {
		return fmt.Errorf("cannot read meter: %w", &modbus.ExceptionError{Function: 3, Code: c})
	}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{name: "timeout", err: errNoAnswer, want: true},
		{name: "crc", err: modbus.ErrCRC, want: true},
		{name: "connection, which the next attempt opens again", err: errRefused, want: true},
		{name: "illegal function", err: exception(modbus.IllegalFunction), want: false},
		{name: "illegal data address", err: exception(modbus.IllegalDataAddress), want: false},
		{name: "illegal data value", err: exception(modbus.IllegalDataValue), want: false},
		{name: "server device busy", err: exception(modbus.ServerDeviceBusy), want: true},
		{name: "acknowledge", err: exception(modbus.Acknowledge), want: true},
		{name: "server device failure", err: exception(modbus.ServerDeviceFailure), want: true},
		{name: "gateway target failed to respond",
			err: exception(modbus.GatewayTargetFailedToRespond), want: false},
		{name: "invalid request", err: modbus.ErrInvalidRequest, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := retryable(tt.err); got != tt.want {
				t.Errorf("retryable(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

func TestFailureText(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{name: "connection", err: errRefused, want: "meter not reached: bus connection failed"},
		{name: "timeout", err: errNoAnswer, want: "meter did not answer"},
		{name: "gateway target",
			err:  &modbus.ExceptionError{Function: 3, Code: modbus.GatewayTargetFailedToRespond},
			want: "meter did not answer its gateway"},
		{name: "exception",
			err:  &modbus.ExceptionError{Function: 3, Code: modbus.IllegalDataAddress},
			want: "meter answered with an exception"},
		{name: "crc", err: fmt.Errorf("slave 3: %w", modbus.ErrCRC),
			want: "meter reply was garbled"},
		{name: "other", err: errors.New("profile cannot decode"), want: "meter poll failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := failureText(tt.err); got != tt.want {
				t.Errorf("failureText(%v) = %q, want %q", tt.err, got, tt.want)
			}
		})
	}
}

// logLine is what the tests read of a JSON log line.
type logLine struct {
	Level      string
	Message    string
	Meter      string
	Count      int
	Suppressed int
}

// readLog parses the JSON lines of a log.
func readLog(t *testing.T, log *bytes.Buffer) []logLine {
	t.Helper()
	var out []logLine
	for line := range strings.Lines(log.String()) {
		var l logLine
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, l)
	}
	return out
}

func TestDeadBusLogged(t *testing.T) {
	// cutOff makes the meters named fail to connect until 13:00.
	cutOff := func(ids ...string) behaviour {
		return func(m Meter, _ int, now time.Time) (time.Duration, error) {
			if slices.Contains(ids, m.ID) && now.Before(at(13, 0, 0)) {
				return 10 * time.Millisecond, errRefused
			}
			return 100 * time.Millisecond, nil
		}
	}
	var fifty []Meter
	var fiftyIDs []string
	for i := range 50 {
		id := fmt.Sprintf("m%02d", i+1)
		fifty = append(fifty, meter(id, "b1", 15*time.Minute))
		fiftyIDs = append(fiftyIDs, id)
	}
	tests := []struct {
		name   string
		meters []Meter
		behave behaviour
		// lines by message, of those at info and above but for the
		// scheduler's and the bus's start and stop
		wantLines  map[string]int
		wantEvents int  // offline and online, each
		busEvents  bool // one bus_down and one bus_up
	}{
		{name: "dead gateway", meters: fifty, behave: cutOff(fiftyIDs...),
			wantLines: map[string]int{
				"meter not reached: bus connection failed": 1,
				"bus unreachable":                          1,
				"bus reachable again":                      1,
			},
			wantEvents: 50, busEvents: true},
		{name: "one meter of two", behave: cutOff("m01"),
			meters: []Meter{meter("m01", "b1", 15*time.Minute), meter("m02", "b1", 15*time.Minute)},
			// Failures at 10:15, 10:30, 10:45 and probes at 11:15 and
			// 12:15, 15 minutes or more apart.
			wantLines: map[string]int{
				"meter not reached: bus connection failed": 5,
				"meter offline": 1,
				"meter online":  1,
			},
			wantEvents: 1},
	}
	lifecycle := []string{"scheduler started", "scheduler stopped",
		"bus polling started", "bus polling stopped"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var buf bytes.Buffer
				o := Options{Log: zerolog.New(zerolog.SyncWriter(&buf)).Level(zerolog.InfoLevel)}
				h := start(t, testConfig(0, tt.meters...), o, tt.behave)
				h.clock.runUntil(at(14, 0, 0))
				h.stop()

				got := map[string]int{}
				for _, l := range readLog(t, &buf) {
					if !slices.Contains(lifecycle, l.Message) {
						got[l.Message]++
					}
					if l.Message == "bus unreachable" && l.Count != len(tt.meters) {
						t.Errorf("bus unreachable with count %d, want %d meters",
							l.Count, len(tt.meters))
					}
				}
				if !maps.Equal(got, tt.wantLines) {
					t.Errorf("lines logged %v, want %v", got, tt.wantLines)
				}

				// Events are data for the centre, not log lines: every
				// meter still has its own.
				kinds := map[EventKind]int{}
				for _, e := range h.sink.events {
					kinds[e.Kind]++
					if (e.Kind == BusDown || e.Kind == BusUp) && (e.Bus != "b1" || e.Meter != "") {
						t.Errorf("%s event names bus %q, meter %q; want bus b1 alone",
							e.Kind, e.Bus, e.Meter)
					}
				}
				want := map[EventKind]int{MeterOffline: tt.wantEvents, MeterOnline: tt.wantEvents}
				if tt.busEvents {
					want[BusDown], want[BusUp] = 1, 1
				}
				if !maps.Equal(kinds, want) {
					t.Errorf("events %v, want %v", kinds, want)
				}
			})
		})
	}
}

func TestThrottleClockBack(t *testing.T) {
	var th throttle
	steps := []struct {
		now       time.Time
		wantOK    bool
		wantCount int
	}{
		{at(10, 0, 0), true, 0},
		{at(10, 5, 0), false, 0},
		{at(4, 5, 0), true, 1}, // the wall clock stepped back
		{at(4, 10, 0), false, 0},
	}
	for _, s := range steps {
		n, ok := th.allow(s.now, 15*time.Minute)
		if ok != s.wantOK || n != s.wantCount {
			t.Errorf("allow(%s) = %d, %v; want %d, %v", s.now, n, ok, s.wantCount, s.wantOK)
		}
	}
}
