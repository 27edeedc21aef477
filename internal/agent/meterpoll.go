package agent

import (
	"context"
	"fmt"
	"sync"

	"github.com/rs/zerolog"

	"github.com/esep-kz/esep/drivers/modbus"
	"github.com/esep-kz/esep/internal/logging"
	"github.com/esep-kz/esep/internal/reading"
)

// meterPoller polls one meter through its profile.
type meterPoller struct {
	Meter
	bus     *busConn
	profile *modbus.Profile
	read    modbus.BlockReader
	values  planned // values and their scale registers
	ident   planned // identity fields; none without any
	log     zerolog.Logger

	mu sync.Mutex // one poll at a time; the fields below
	// failing lists the quantities the last poll could not read, so
	// that a change is logged once rather than every poll.
	failing string
	// noSerial notes that the meter gave no serial, logged once.
	noSerial bool
}

func newMeterPoller(m Meter, bus *busConn, profiles modbus.Profiles,
	log zerolog.Logger) (*meterPoller, error) {
	pr, err := profiles.Get(m.Profile)
	if err != nil {
		return nil, fmt.Errorf("cannot poll meter %q: %w", m.ID, err)
	}
	if bus == nil {
		return nil, fmt.Errorf("cannot poll meter %q: bus %q is not configured", m.ID, m.Bus)
	}

	valueNeeds, identNeeds := splitNeeds(pr)
	mp := &meterPoller{Meter: m, bus: bus, profile: pr, read: bus.reader(byte(m.Slave)),
		log: log.With().Str(logging.Meter, m.ID).Str(logging.Bus, m.Bus).
			Int(logging.Slave, m.Slave).Logger()}
	if mp.values, err = newPlanned(pr, valueNeeds); err != nil {
		return nil, fmt.Errorf("cannot plan the reads of meter %q (profile %q): %w",
			m.ID, pr.Name, err)
	}
	if mp.ident, err = newPlanned(pr, identNeeds); err != nil {
		return nil, fmt.Errorf("cannot plan the identity reads of meter %q (profile %q): %w",
			m.ID, pr.Name, err)
	}
	return mp, nil
}

// poll reads the meter once: its values, then its identity, then again,
// within the retry budget, the requests that failed for a reason that
// may pass (see retry). The serial is read after the values, so that the
// one a reading carries was checked after its values were read, and a
// replacement is decided before anything of the reading is remembered.
//
// A value that could not be read or decoded is in the reading with
// quality Error and no number. When no value at all could be read, or
// the identity could not be read for a reason that may pass, poll returns
// an error instead, which the scheduler retries and counts towards
// declaring the meter offline.
func (m *meterPoller) poll(ctx context.Context, p *ModbusPoller) (reading.Reading, error) {
	m.mu.Lock()
	defer m.mu.Unlock()

	values := m.values.read(ctx, m.read)
	if err := firstFailure(values.results); err != nil {
		return reading.Reading{}, fmt.Errorf("cannot read meter %q (bus %q, slave %d): %w",
			m.ID, m.Bus, m.Slave, err)
	}

	// The identity, every poll. Nothing else shows a swap: RS-485 has
	// no connection to lose, a TCP gateway keeps its own while the
	// meter behind it changes, and a new meter answers the next poll as
	// well as the old one did. It costs one short request each poll
	// (an SDM120's serial is 2 registers: 17 bytes on the wire, about
	// 20 ms at 9600 baud, plus the meter's turnaround), a small price
	// at one poll in 15 minutes for never filing one meter's indexes
	// under another's serial (issue 3 item 5).
	ident := m.ident.read(ctx, m.read)
	m.retry(ctx, p, values, ident)
	if err := m.identityFailure(ident); err != nil {
		return reading.Reading{}, err
	}

	d, err := m.profile.Decode(thenWords(values.words(), ident.words()))
	if err != nil {
		m.log.Debug().Err(err).Msg("meter poll incomplete")
	}
	m.logFailing(d.Values)
	r := reading.Reading{Meter: m.ID, Serial: d.Serial, Time: p.clock.Now().UTC(),
		Values: d.Values}
	p.remember(m, r, d)
	return r, nil
}

// retry sends again, up to the poller's retries times, the requests of
// cycles that failed for a reason that may pass: a busy device (FC-12
// item 4, exceptions 5 and 6), a gateway whose target did not answer
// (11), a timeout or a CRC error on a noisy line. Left alone they would
// be published as errors, as the scheduler retries only a poll that
// read nothing. Each is sent Bus.Delay after the transaction before it.
func (m *meterPoller) retry(ctx context.Context, p *ModbusPoller, cycles ...cycle) {
	pause := func() error { return p.pause(ctx, m.bus.Delay) }
	for range p.retries {
		made := 0
		for _, c := range cycles {
			made += c.reread(ctx, m.read, pause)
		}
		if made == 0 {
			return
		}
		m.log.Debug().Int(logging.Count, made).Msg("failed requests sent again")
	}
}

// identityFailure returns why the identity could not be read. A field
// the device refuses for good (exception 1–3) is left empty; any other
// failure fails the poll, as values whose meter is not known could
// belong to a new one.
func (m *meterPoller) identityFailure(c cycle) error {
	for _, r := range c.results {
		if r.Err != nil && !isPermanent(r.Err) {
			return fmt.Errorf("cannot read the identity of meter %q (bus %q, slave %d): %w",
				m.ID, m.Bus, m.Slave, r.Err)
		}
	}
	return nil
}

// logFailing logs when the set of values the meter fails to give
// changes: a refused register is news once, not every poll.
func (m *meterPoller) logFailing(vs []reading.Value) {
	failing := failedQuantities(vs)
	if failing == m.failing {
		return
	}
	switch {
	case failing == "":
		m.log.Info().Msg("meter values all good again")
	default:
		m.log.Warn().Str(logging.Quantity, failing).
			Msg("meter values flagged: they carry no number")
	}
	m.failing = failing
}

// remember keeps the meter's serial and indexes in the state file. The
// serial is compared first: when it is not the one the metering point
// last had, the meter was replaced, and the event carries both serials
// and both meters' indexes, the old ones as the state held them before
// this reading, so that the centre starts a new index rather than count
// the difference as consumption (FC-28).
func (p *ModbusPoller) remember(m *meterPoller, r reading.Reading, d modbus.Decoded) {
	rec, _ := p.state.Meter(m.ID)
	now := false
	if m.ident.plan != nil {
		now = m.identify(p, &rec, r, d)
	}

	if vs := cumulative(m.profile, r.Values); len(vs) > 0 {
		rec.Values, rec.Time = mergeValues(rec.Values, vs), r.Time
	}
	if err := p.state.Put(m.ID, rec, now); err != nil {
		m.log.Error().Err(err).Msg("cannot keep the meter's state")
	}
}

// identify compares the serial just read with the record and updates
// it, emitting MeterReplaced when they differ. It reports whether the
// record's identity changed, which must be written at once.
func (m *meterPoller) identify(p *ModbusPoller, rec *MeterRecord, r reading.Reading,
	d modbus.Decoded) bool {
	switch {
	case d.Serial == "":
		if !m.noSerial {
			m.noSerial = true
			m.log.Warn().Msg("meter gives no serial number: a replacement cannot be detected")
		}
		return false
	case rec.Serial == d.Serial:
		return false
	case rec.Serial == "":
		m.log.Info().Str(logging.Serial, d.Serial).Str(logging.Profile, m.profile.Name).
			Msg("meter identified")
	default:
		m.log.Info().Str(logging.Serial, d.Serial).Str(logging.OldSerial, rec.Serial).
			Msg("meter replaced")
		p.sink.Event(Event{Kind: MeterReplaced, Meter: m.ID, Time: r.Time,
			OldSerial: rec.Serial, NewSerial: d.Serial, OldValues: rec.Values,
			OldTime: rec.Time, NewValues: cumulative(m.profile, r.Values)})
		// The old indexes belong to the old meter alone, and what the
		// plans learnt of the old device may not hold for the new one.
		rec.Values, rec.Time = nil, r.Time
		m.values.reset()
		m.ident.reset()
	}
	rec.Serial, rec.Model, rec.Firmware = d.Serial, d.Model, d.Firmware
	m.noSerial = false
	return true
}
