package agent

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/esep-kz/esep/internal/logging"
	"github.com/esep-kz/esep/internal/reading"
	"github.com/esep-kz/esep/internal/spool"
	"github.com/esep-kz/esep/internal/wire"
)

// SpoolSink is the Sink of an agent with an uplink: it encodes each
// reading and event in payload schema v1 (internal/wire) and appends it
// to the spool, durably, before the poll that made it goes on. The
// uplink takes them from there.
type SpoolSink struct {
	spool *spool.Spool
	log   zerolog.Logger

	wg sync.WaitGroup // Pressure's appends

	mu           sync.Mutex // guards the fields below
	failures     uint64     // records that could not be spooled: lost
	failLog      throttle
	lastErr      error
	lastPressure time.Time
}

// NewSpoolSink returns a sink appending to sp.
func NewSpoolSink(sp *spool.Spool, log zerolog.Logger) *SpoolSink {
	return &SpoolSink{spool: sp, log: log.With().Str(logging.Component, "spool").Logger()}
}

// spoolAppendTimeout bounds one append: a disk that takes longer is
// failing, and the bus must not stall behind it for good.
const spoolAppendTimeout = 30 * time.Second

// Reading implements Sink. A reading whose serial the wire refuses (not
// printable ASCII: a meter's garbled identity) is spooled without it
// rather than lost.
func (s *SpoolSink) Reading(r reading.Reading) {
	var flags []string
	if slices.ContainsFunc(r.Values, func(v reading.Value) bool {
		return v.Quality == reading.ClockUnsynced
	}) {
		flags = append(flags, wire.FlagClockUnsynced)
	}
	data, err := wire.EncodeReading(r, flags...)
	if err != nil && r.Serial != "" {
		s.log.Warn().Err(err).Str(logging.Meter, r.Meter).
			Msg("reading spooled without the meter's serial, which the wire refuses")
		r.Serial = ""
		data, err = wire.EncodeReading(r, flags...)
	}
	if err != nil {
		s.fail(fmt.Errorf("cannot encode the reading of meter %q: %w", r.Meter, err))
		return
	}
	s.append(spool.Record{Kind: spool.KindReading, Meter: r.Meter, Time: r.Time, Data: data})
}

// Event implements Sink.
func (s *SpoolSink) Event(e Event) {
	we, ok := toWireEvent(e)
	if !ok {
		return
	}
	data, err := wire.EncodeEvent(we)
	if err != nil {
		s.fail(fmt.Errorf("cannot encode event %s: %w", e.Kind, err))
		return
	}
	s.append(spool.Record{Kind: spool.KindEvent, Meter: e.Meter, Time: e.Time, Data: data})
}

// pressureEvery spaces the spool_pressure events. Each event is itself
// appended to the full spool, which may make room again and call
// Pressure again: without spacing, the events would feed themselves and
// thin or drop a record each. The spool's counters keep every count;
// the next event carries them.
const pressureEvery = time.Minute

// Pressure is the spool's OnPressure: what the spool removed to make room
// becomes an event, itself spooled, at most once per pressureEvery, so
// that the centre learns of it.
func (s *SpoolSink) Pressure(p spool.Pressure) {
	s.mu.Lock()
	now := time.Now()
	due := now.Sub(s.lastPressure) >= pressureEvery
	if due {
		s.lastPressure = now
	}
	s.mu.Unlock()
	if !due {
		return
	}

	st := s.spool.Stats()
	s.log.Error().Uint64(logging.Thinned, st.Thinned).Uint64(logging.Dropped, st.Dropped).
		Uint64(logging.HistoryDrop, st.HistoryDropped).Time(logging.OldestPending, p.Oldest).
		Msg("spool full: oldest records thinned or dropped to make room")
	data, err := wire.EncodeEvent(wire.Event{Kind: wire.SpoolPressure, Time: now.UTC(),
		HistoryDropped: st.HistoryDropped, Thinned: st.Thinned, Dropped: st.Dropped,
		Oldest: p.Oldest})
	if err != nil {
		s.fail(fmt.Errorf("cannot encode the spool pressure event: %w", err))
		return
	}
	// Called as the spool finishes an Append: append from a goroutine of
	// our own, which Close waits for.
	s.wg.Go(func() {
		s.append(spool.Record{Kind: spool.KindEvent, Time: now.UTC(), Data: data})
	})
}

// Close waits for the events Pressure is still appending; the spool is
// closed after it.
func (s *SpoolSink) Close() { s.wg.Wait() }

func (s *SpoolSink) append(r spool.Record) {
	ctx, cancel := context.WithTimeout(context.Background(), spoolAppendTimeout)
	defer cancel()
	if _, err := s.spool.Append(ctx, r); err != nil {
		s.fail(fmt.Errorf("cannot spool a record of %q: %w", r.Meter, err))
	}
}

// fail counts a record lost and logs it, at most once a minute.
func (s *SpoolSink) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures++
	s.lastErr = err
	if n, ok := s.failLog.allow(time.Now(), time.Minute); ok {
		s.log.Error().Err(err).Int(logging.Suppressed, n).Msg("record lost: not spooled")
	}
}

// Failures returns how many records could not be spooled, and the last
// reason; the health check reports them.
func (s *SpoolSink) Failures() (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failures, s.lastErr
}

// toWireEvent converts e to the wire's terms; ok is false for a kind the
// wire does not carry.
func toWireEvent(e Event) (wire.Event, bool) {
	w := wire.Event{Meter: e.Meter, Time: e.Time.UTC()}
	if e.Kind == BusDown || e.Kind == BusUp {
		w.Meter = "" // a bus event names the bus alone
	}
	switch e.Kind {
	case MeterOffline:
		w.Kind = wire.MeterOffline
		if e.Err != nil {
			w.Error = e.Err.Error()
		}
	case MeterOnline:
		w.Kind = wire.MeterOnline
	case MeterReplaced:
		w.Kind = wire.MeterReplaced
		w.OldSerial, w.NewSerial = printable(e.OldSerial), printable(e.NewSerial)
		w.OldValues, w.NewValues = e.OldValues, e.NewValues
		if len(e.OldValues) > 0 {
			w.OldTime = e.OldTime.UTC()
		}
	case ClockStepped:
		w.Kind, w.Step = wire.ClockStepped, e.Step
	case ClockUnsynced:
		w.Kind = wire.ClockUnsynced
	case ClockSynced:
		w.Kind = wire.ClockSynced
	case BusDown:
		w.Kind, w.Bus = wire.BusDown, e.Bus
		if e.Err != nil {
			w.Error = e.Err.Error()
		}
	case BusUp:
		w.Kind, w.Bus = wire.BusUp, e.Bus
	default:
		return wire.Event{}, false
	}
	return w, true
}

// maxIdentity is the longest serial, model or firmware the wire carries.
const maxIdentity = 128

// printable returns s with every byte that is not printable ASCII as
// '?', cut to maxIdentity, and "?" for an empty s: a meter's identity
// registers may hold 0xFF or another code page, which the wire refuses,
// and the event or inventory must still go.
func printable(s string) string {
	if s == "" {
		return ""
	}
	b := []byte(s)
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			b[i] = '?'
		}
	}
	return string(b[:min(len(b), maxIdentity)])
}
