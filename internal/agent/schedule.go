package agent

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/esep-kz/esep/drivers/modbus"
	"github.com/esep-kz/esep/internal/logging"
	"github.com/esep-kz/esep/internal/reading"
)

// Poller reads meters; the Modbus poller is the one the agent uses.
type Poller interface {
	// Poll reads m once. It bounds each of its transactions by the bus
	// timeout itself and returns soon after ctx is cancelled.
	Poll(ctx context.Context, m Meter) (reading.Reading, error)
}

// Sink takes what the scheduler produces; in the agent it is the spool.
//
// A Sink rather than channels, so that the policy when the consumer
// falls behind belongs to the spool, which knows its disk, and not to the
// scheduler. Each bus calls the sink from its own goroutine, so a Sink
// must be safe for concurrent use; the bus waits while a call runs, so a
// call should return quickly.
type Sink interface {
	// Reading takes the reading of one successful poll.
	Reading(reading.Reading)
	// Event takes a change in a meter's state.
	Event(Event)
}

// MeterStats counts what became of a meter's slots since Run started.
// Every slot that has begun ends up in exactly one of OK, Error, Skipped
// and Backoff, once its poll is over or it was passed over; but for one
// still waiting for its bus when the wall clock stepped back, which the
// new plan (see ClockStepped) drops uncounted.
type MeterStats struct {
	OK    uint64 // slots that produced a reading
	Error uint64 // slots in which every attempt failed, probes included
	// Skipped counts slots passed over because a poll ran into them: the
	// meter's own, or the others' on a busy bus. It means the bus is
	// given more work than it can do in the meters' intervals.
	Skipped uint64
	Backoff uint64 // slots left out to probe an offline meter less often
	Retries uint64 // attempts after a failed one, within the same slot
	Offline bool   // whether the meter is declared offline now
}

// Options tune a Scheduler. The zero value selects every default.
type Options struct {
	// Clock tells the time and waits; nil selects the system clock.
	Clock Clock
	// Location is the time zone that slots are aligned in; nil selects
	// time.Local, the box's zone (Asia/Almaty, UTC+5, in Kazakhstan).
	Location *time.Location
	// Retries is how many more attempts a failed poll gets in the same
	// slot, the bus delay apart. 0 selects 2; a negative value, none.
	Retries int
	// OfflineAfter is how many failed slots in a row declare a meter
	// offline. 0 selects 3.
	OfflineAfter int
	// MaxProbe caps the gap between probes of an offline meter, which
	// starts at twice its interval and doubles after each failed probe.
	// It is rounded down to whole intervals. 0 selects 1h.
	MaxProbe time.Duration
	// LogEvery is the shortest gap between two log lines about the same
	// meter failing, or missing slots, again; the lines left out are
	// counted in the next one. 0 selects 15m.
	LogEvery time.Duration
	// ClockFloor is the earliest time the clock can read when it is set;
	// readings stamped before it are flagged (see ClockUnsynced). The
	// zero Time selects ClockFloor().
	ClockFloor time.Time
	// Log receives the scheduler's lines; the zero Logger discards them.
	Log zerolog.Logger
}

// Defaults of Options.
const (
	// Two retries ride out a frame lost to line noise or a meter busy
	// with its own measurement, while a dead meter costs its bus at most
	// three timeouts in a slot.
	defaultRetries = 2
	// One or two bad slots happen on a healthy bus; three in a row (45
	// minutes at the usual interval) mean a meter is off or cut off.
	defaultOfflineAfter = 3
	// A dead meter then costs one timeout an hour, and a repaired one is
	// seen again within the hour.
	defaultMaxProbe = time.Hour
	defaultLogEvery = 15 * time.Minute
)

func (o Options) withDefaults() (Options, error) {
	if o.Clock == nil {
		o.Clock = systemClock{}
	}
	if o.Location == nil {
		o.Location = time.Local
	}
	if o.ClockFloor.IsZero() {
		o.ClockFloor = ClockFloor()
	}
	switch {
	case o.Retries == 0:
		o.Retries = defaultRetries
	case o.Retries < 0:
		o.Retries = 0
	}
	setDefault(&o.OfflineAfter, defaultOfflineAfter)
	setDefault(&o.MaxProbe, defaultMaxProbe)
	setDefault(&o.LogEvery, defaultLogEvery)

	switch {
	case o.OfflineAfter < 0:
		return o, fmt.Errorf("scheduler option OfflineAfter %d is negative", o.OfflineAfter)
	case o.MaxProbe < 0:
		return o, fmt.Errorf("scheduler option MaxProbe %s is negative", o.MaxProbe)
	case o.LogEvery < 0:
		return o, fmt.Errorf("scheduler option LogEvery %s is negative", o.LogEvery)
	}
	return o, nil
}

// Scheduler polls every configured meter once per slot of its interval,
// slots being aligned to the local wall clock (see slotStart). Each bus
// has one goroutine that makes one transaction at a time, the bus delay
// apart; buses are polled in parallel. Meters due at the same instant are
// polled in the order the configuration lists them.
//
// A meter is polled at most once per slot: a slot that begins while the
// meter's own poll still runs, or that ends before the bus got to the
// meter, is skipped and counted, never made up later.
//
// When the wall clock steps back, every meter's slots are planned afresh
// from the new time (see ClockStepped). A bus whose meters all fail to
// connect, one after the other, is logged as down in one line, not one
// per meter, until a poll gets through again.
type Scheduler struct {
	opts    Options
	poller  Poller
	sink    Sink
	log     zerolog.Logger
	clock   *stepWatch  // every read of the clock, to see a step back once
	floor   *clockCheck // flags readings of a clock that was never set
	buses   []*busLoop
	running atomic.Bool

	mu    sync.Mutex // guards stats
	stats map[string]*MeterStats
}

// NewScheduler returns a scheduler for the buses and meters of c, which
// LoadConfig has checked, calling p to poll and giving the results to
// sink. Nothing runs until Run.
func NewScheduler(ctx context.Context, c *Config, p Poller, sink Sink,
	o Options) (*Scheduler, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("cannot create the scheduler: %w", err)
	}
	if p == nil || sink == nil {
		return nil, errors.New("cannot create the scheduler without a poller and a sink")
	}
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}

	s := &Scheduler{
		opts:   o,
		poller: p,
		sink:   sink,
		log:    o.Log.With().Str(logging.Component, "scheduler").Logger(),
		clock:  &stepWatch{clock: o.Clock},
		floor:  &clockCheck{floor: o.ClockFloor},
		stats:  map[string]*MeterStats{},
	}
	if err := s.addMeters(c); err != nil {
		return nil, err
	}
	return s, nil
}

// addMeters makes a bus loop for every bus with meters on it, keeping
// the configuration's order of buses and of meters.
func (s *Scheduler) addMeters(c *Config) error {
	loops := map[string]*busLoop{}
	for _, b := range c.Buses {
		loops[b.Name] = &busLoop{s: s, bus: b, log: s.log.With().Str(logging.Bus, b.Name).Logger()}
	}

	for _, m := range c.Meters {
		b := loops[m.Bus]
		if b == nil {
			return fmt.Errorf("meter %q is on bus %q, which is not configured", m.ID, m.Bus)
		}
		if m.Interval <= 0 {
			return fmt.Errorf("meter %q: interval %s is not above 0", m.ID, m.Interval)
		}
		if why := intervalMisfit(m.Interval); why != "" {
			return fmt.Errorf("meter %q: interval %s: %s", m.ID, m.Interval, why)
		}
		if s.stats[m.ID] != nil {
			return fmt.Errorf("meter %q is configured twice", m.ID)
		}

		s.stats[m.ID] = &MeterStats{}
		b.meters = append(b.meters, s.newMeterState(b, m))
	}

	for _, b := range c.Buses {
		if l := loops[b.Name]; len(l.meters) > 0 {
			s.buses = append(s.buses, l)
		}
	}
	return nil
}

func (s *Scheduler) newMeterState(b *busLoop, m Meter) *meterState {
	return &meterState{
		Meter:    m,
		stats:    s.stats[m.ID],
		maxProbe: max(m.Interval, s.opts.MaxProbe.Truncate(m.Interval)),
		log:      b.log.With().Str(logging.Meter, m.ID).Int(logging.Slave, m.Slave).Logger(),
	}
}

// Run polls until ctx is cancelled, then returns nil once every bus
// goroutine has stopped; the poller is not called after Run returns.
// A Scheduler runs once: a second call returns an error at once.
func (s *Scheduler) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return errors.New("scheduler has already been started")
	}
	start, _, _ := s.clock.now()
	s.log.Info().Int(logging.Count, len(s.stats)).Msg("scheduler started")

	var wg sync.WaitGroup
	for _, b := range s.buses {
		wg.Go(func() { b.run(ctx, start) })
	}
	wg.Wait()

	s.log.Info().Msg("scheduler stopped")
	return nil
}

// Stats returns a snapshot of the counters of every meter, by meter ID.
func (s *Scheduler) Stats() map[string]MeterStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]MeterStats, len(s.stats))
	for id, st := range s.stats {
		out[id] = *st
	}
	return out
}

// stepped reports that the wall clock moved by step to now, negative
// when back. The bus whose reading saw the step calls it, so it runs once
// per step.
func (s *Scheduler) stepped(now time.Time, step time.Duration) {
	msg := "wall clock stepped back: meters' slots planned afresh"
	if step > 0 {
		msg = "wall clock stepped forward: meters' slots planned afresh"
	}
	s.log.Warn().Dur(logging.Step, step).Msg(msg)
	s.sink.Event(Event{Kind: ClockStepped, Time: now.UTC(), Step: step})
}

// count changes the counters of m under the stats lock.
func (s *Scheduler) count(m *meterState, change func(*MeterStats)) {
	s.mu.Lock()
	change(m.stats)
	s.mu.Unlock()
}

// busLoop is the goroutine of one bus. Its fields and the meter states
// are touched by that goroutine only, the counters excepted.
type busLoop struct {
	s       *Scheduler
	bus     Bus
	meters  []*meterState // in configuration order, which breaks ties
	lastEnd time.Time     // end of the last transaction, for Bus.Delay
	steps   int           // steps back of the clock planned for
	log     zerolog.Logger

	// The bus is down once the slots of all its meters failed in a row
	// to connect (unreached of them); its meters are then reported by
	// one line for the bus instead of one each.
	unreached int
	down      bool
	connLog   throttle // of connection failures, while the bus is up
}

// meterState is where a meter stands in its schedule.
type meterState struct {
	Meter
	stats    *MeterStats // guarded by Scheduler.mu
	log      zerolog.Logger
	next     time.Time     // start of the next slot to poll it in
	failed   int           // failed slots in a row
	offline  bool          // declared offline: polled once a probe gap
	quiet    bool          // went offline while the bus was down: not logged
	unreach  bool          // its last slot failed to connect to the bus
	probe    time.Duration // gap between probes while offline
	maxProbe time.Duration // cap of probe, in whole intervals

	failLog, skipLog throttle
}

func (b *busLoop) run(ctx context.Context, start time.Time) {
	b.plan(start)
	b.log.Info().Int(logging.Count, len(b.meters)).Msg("bus polling started")
	defer func() { b.log.Info().Msg("bus polling stopped") }()

	for {
		if !b.sleepUntil(ctx, b.nextTurn) {
			return
		}
		b.turn(ctx, b.due())
	}
}

// plan sets the next slot of every meter to the first at or after now.
// An offline meter is thus probed in it too, rather than carrying its
// probe gap over from another clock.
func (b *busLoop) plan(now time.Time) {
	for _, m := range b.meters {
		m.next = slotAtOrAfter(now, m.Interval, b.s.opts.Location)
	}
}

// now reads the clock. After a step it plans the bus afresh from the new
// time: after a step back, the slots and the bus delay were set on the
// old, later clock, and waiting for it to come round again would stop
// polling for as long as the step; after a step forward, the slots it
// jumped over are not overrun polls, to be counted and logged as such.
// The bus then counts as having just carried a transaction, which keeps
// its delay.
func (b *busLoop) now() time.Time {
	now, steps, step := b.s.clock.now()
	if step != 0 {
		b.s.stepped(now, step)
	}
	if steps != b.steps {
		b.steps = steps
		b.plan(now)
		b.lastEnd = now
	}
	return now
}

// sleepUntil waits until the bus clock reads until() or later, and
// reports false if ctx is cancelled first.
func (b *busLoop) sleepUntil(ctx context.Context, until func() time.Time) bool {
	return sleepUntil(ctx, busClock{b}, until)
}

// busClock is the clock as a bus reads it, through busLoop.now.
type busClock struct{ b *busLoop }

func (c busClock) Now() time.Time                 { return c.b.now() }
func (c busClock) NewTimer(d time.Duration) Timer { return c.b.s.opts.Clock.NewTimer(d) }

// nextTurn is when the bus may poll the meter due first.
func (b *busLoop) nextTurn() time.Time { return later(b.due().next, b.ready()) }

// due returns the meter whose next slot begins first; of meters due at
// the same instant, the first configured.
func (b *busLoop) due() *meterState {
	first := b.meters[0]
	for _, m := range b.meters[1:] {
		if m.next.Before(first.next) {
			first = m
		}
	}
	return first
}

// ready is when the bus may carry the next request.
func (b *busLoop) ready() time.Time { return b.lastEnd.Add(b.bus.Delay) }

// turn polls m in the slot that holds now and sets its next slot.
func (b *busLoop) turn(ctx context.Context, m *meterState) {
	steps := b.steps
	now := b.now()
	if b.steps != steps {
		return // stepped back since the wait: m.next is planned afresh
	}
	slot := slotStart(now, m.Interval, b.s.opts.Location)
	if slot.Before(m.next) {
		slot = m.next // the wall clock went back, within stepTolerance
	}
	if n := slotsBetween(m.next, slot, m.Interval); n > 0 {
		b.skip(m, n, now)
	}

	attempts := 1 + b.s.opts.Retries
	if m.offline || b.down {
		// A probe only asks whether the meter is back: retries would
		// triple what a meter known to be dead costs the others. On a
		// bus that is down, each would only fail to connect again.
		attempts = 1
	}
	r, err := b.poll(ctx, m, attempts)
	if ctx.Err() != nil {
		return // stopping: the slot is neither answered nor failed
	}

	end := b.now()
	if err != nil {
		b.fail(m, end, err)
	} else {
		b.answer(m, r, end)
	}
	if b.steps != steps {
		return // the clock stepped back during the poll: m.next is planned afresh
	}
	b.schedule(m, slot, end)
}

// poll makes up to attempts transactions with m, the bus delay apart, and
// returns the first reading or the last error. An error no retry can mend
// ends the slot's attempts at once.
func (b *busLoop) poll(ctx context.Context, m *meterState, attempts int) (reading.Reading, error) {
	var err error
	for i := range attempts {
		if i > 0 {
			b.s.count(m, func(st *MeterStats) { st.Retries++ })
		}
		if !b.sleepUntil(ctx, b.ready) {
			return reading.Reading{}, ctx.Err()
		}

		start := b.now()
		var r reading.Reading
		r, err = b.s.poller.Poll(ctx, m.Meter)
		b.lastEnd = b.now()
		took := b.lastEnd.Sub(start)
		if err == nil {
			m.log.Debug().Dur(logging.Took, took).Msg("meter polled")
			return r, nil
		}

		m.log.Debug().Err(err).Dur(logging.Took, took).Msg("meter poll failed")
		if ctx.Err() != nil {
			return reading.Reading{}, ctx.Err()
		}
		if !retryable(err) {
			break
		}
	}
	return reading.Reading{}, err
}

// retryable reports whether another attempt in the same slot may succeed.
// A Modbus exception of the permanent class (illegal function, address or
// value: FC-12) or a request the driver refuses to send comes back the
// same however often it is sent, and retrying it only keeps the bus busy.
// Exception 11 means a gateway already waited its own timeout for the
// meter behind it; FC-12 asks to back off from it, so the meter is asked
// again in its next slot, not at once.
func retryable(err error) bool {
	var ex *modbus.ExceptionError
	if errors.As(err, &ex) {
		switch ex.Class() {
		case modbus.ClassPermanent, modbus.ClassGatewayTransient:
			return false
		}
	}
	return !errors.Is(err, modbus.ErrInvalidRequest)
}

// failureText words the log line of a failed slot by its cause.
func failureText(err error) string {
	var ex *modbus.ExceptionError
	switch {
	case errors.Is(err, modbus.ErrConnection):
		return "meter not reached: bus connection failed"
	case errors.As(err, &ex) && ex.Class() == modbus.ClassGatewayTransient:
		return "meter did not answer its gateway"
	case errors.As(err, &ex):
		return "meter answered with an exception"
	case errors.Is(err, modbus.ErrTimeout):
		return "meter did not answer"
	case errors.Is(err, modbus.ErrCRC), errors.Is(err, modbus.ErrShortFrame),
		errors.Is(err, modbus.ErrBadFrame), errors.Is(err, modbus.ErrWrongSlave),
		errors.Is(err, modbus.ErrWrongFunction), errors.Is(err, modbus.ErrByteCount):
		return "meter reply was garbled"
	}
	return "meter poll failed"
}

// answer hands a reading to the sink, bringing m back online if it was
// offline. A reading keeps the time the poller gave it, when it
// completed, not the start of its slot.
func (b *busLoop) answer(m *meterState, r reading.Reading, now time.Time) {
	b.s.count(m, func(st *MeterStats) {
		st.OK++
		st.Offline = false
	})
	m.failed = 0
	m.failLog = throttle{}
	b.reached(m, nil)
	if m.offline {
		m.offline = false
		m.log.WithLevel(stateLevel(m.quiet)).Msg("meter online")
		b.s.sink.Event(Event{Kind: MeterOnline, Meter: m.ID, Time: now.UTC()})
	}

	if r.Meter == "" {
		r.Meter = m.ID
	}
	if r.Time.IsZero() {
		r.Time = now.UTC()
	}
	b.s.checkClock(&r, now)
	b.s.sink.Reading(r)
}

// checkClock flags r if the clock that stamped it was never set, and
// reports the clock going below or back above its floor, once each.
func (s *Scheduler) checkClock(r *reading.Reading, now time.Time) {
	kind := s.floor.flag(r, now)
	switch kind {
	case 0:
		return
	case ClockUnsynced:
		s.log.Error().Time(logging.Floor, s.floor.floor).
			Msg("clock reads before this build was made: readings flagged clock_unsynced")
	case ClockSynced:
		s.log.Info().Msg("clock set: readings no longer flagged")
	}
	s.sink.Event(Event{Kind: kind, Time: now.UTC()})
}

// fail counts a failed slot and declares m offline after OfflineAfter of
// them in a row, or probes it less often if it already is.
func (b *busLoop) fail(m *meterState, now time.Time, err error) {
	b.s.count(m, func(st *MeterStats) { st.Error++ })
	m.failed++
	b.reached(m, err)
	b.logFailure(m, now, err)

	switch {
	case m.offline:
		m.probe = min(2*m.probe, m.maxProbe)
	case m.failed >= b.s.opts.OfflineAfter:
		m.offline = true
		m.quiet = b.down
		m.probe = min(2*m.Interval, m.maxProbe)
		b.s.count(m, func(st *MeterStats) { st.Offline = true })
		m.log.WithLevel(stateLevel(m.quiet)).Err(err).Int(logging.Count, m.failed).
			Msg("meter offline")
		b.s.sink.Event(Event{Kind: MeterOffline, Meter: m.ID, Time: now.UTC(), Err: err})
	}
}

// logFailure logs a failed slot of m at warn, once per LogEvery for the
// meter, or for the whole bus if the cause is its connection. While the
// bus is down, its "bus unreachable" line stands for these, and poll
// has logged each attempt at debug.
func (b *busLoop) logFailure(m *meterState, now time.Time, err error) {
	t := &m.failLog
	if errors.Is(err, modbus.ErrConnection) {
		if b.down {
			return
		}
		t = &b.connLog
	}
	if n, ok := t.allow(now, b.s.opts.LogEvery); ok {
		m.log.Warn().Err(err).Int(logging.Suppressed, n).Msg(failureText(err))
	}
}

// reached notes whether the slot of m got through to the bus: err is nil
// or any error but a failure to connect. The bus is down once the slots
// of all its meters in a row failed to connect, and is up again when one
// gets through; both are logged once for the bus.
func (b *busLoop) reached(m *meterState, err error) {
	if !errors.Is(err, modbus.ErrConnection) {
		if b.unreached > 0 {
			for _, m := range b.meters {
				m.unreach = false
			}
			b.unreached = 0
		}
		if b.down {
			b.down = false
			b.log.Info().Int(logging.Count, len(b.meters)).Msg("bus reachable again")
			b.s.sink.Event(Event{Kind: BusUp, Bus: b.bus.Name, Time: b.now().UTC()})
		}
		return
	}

	if !m.unreach {
		m.unreach = true
		b.unreached++
	}
	if !b.down && b.unreached == len(b.meters) {
		b.down = true
		b.log.Warn().Err(err).Int(logging.Count, len(b.meters)).Msg("bus unreachable")
		b.s.sink.Event(Event{Kind: BusDown, Bus: b.bus.Name, Time: b.now().UTC(), Err: err})
	}
}

// stateLevel is info for a line about a meter's state, or debug when
// quiet: its bus is or was down, which one line for the bus has said.
func stateLevel(quiet bool) zerolog.Level {
	if quiet {
		return zerolog.DebugLevel
	}
	return zerolog.InfoLevel
}

// schedule sets the next slot of m after it was polled in slot until
// end. Slots that began while the poll ran are skipped, not made up; an
// offline meter waits out its probe gap on its own slots.
func (b *busLoop) schedule(m *meterState, slot, end time.Time) {
	loc := b.s.opts.Location
	next := slotAfter(slot, m.Interval, loc)
	if m.offline {
		next = slotAtOrAfter(slot.Add(m.probe), m.Interval, loc)
	}
	if end.After(next) {
		next = slotAtOrAfter(end, m.Interval, loc)
	}
	m.next = next

	n := slotsBetween(slot, next, m.Interval) - 1
	switch {
	case n == 0:
	case m.offline:
		b.s.count(m, func(st *MeterStats) { st.Backoff += n })
	default:
		b.skip(m, n, end)
	}
}

// skip counts n slots of m that polls overran. It logs at warn: the bus
// has more work than it can do in the meters' intervals. While the bus
// is down the cause is known, failed connections, and is logged already.
func (b *busLoop) skip(m *meterState, n uint64, now time.Time) {
	b.s.count(m, func(st *MeterStats) { st.Skipped += n })
	if b.down {
		return
	}
	if k, ok := m.skipLog.allow(now, b.s.opts.LogEvery); ok {
		m.log.Warn().Uint64(logging.Count, n).Int(logging.Suppressed, k).
			Msg("meter slots skipped: polls overran them")
	}
}

// throttle lets one log line through per period and counts the others.
type throttle struct {
	last       time.Time
	suppressed int
}

// allow reports whether a line may be logged at now and, if so, how many
// were held back since the last one. A now before the last line means
// the wall clock stepped back, and lets a line through.
func (t *throttle) allow(now time.Time, every time.Duration) (int, bool) {
	if d := now.Sub(t.last); !t.last.IsZero() && d >= 0 && d < every {
		t.suppressed++
		return 0, false
	}
	n := t.suppressed
	t.last, t.suppressed = now, 0
	return n, true
}
