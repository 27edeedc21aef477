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
	values  planned // values and their scale registers, read every poll
	ident   planned // identity fields, read when due; none without any
	log     zerolog.Logger

	mu sync.Mutex // one poll at a time; the fields below
	// identWords holds the identity fields as last read.
	identWords modbus.Words
	// identDue asks for the identity at the next poll: none was read
	// yet, or since then the meter failed a poll or the bus reconnected,
	// either of which a swap of the meter looks like from here.
	identDue bool
	// identAt is the bus's reconnect count when the identity was read.
	identAt uint64
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
		identWords: modbus.PlanWords(nil, nil), identDue: true,
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

// poll reads the meter once. It reads the values, then the identity
// when it is due, so that the serial a reading carries is checked after
// its values were read, and decodes both with the profile.
//
// A value that could not be read or decoded is in the reading with
// quality Error and no number. When no value at all could be read, or
// the identity is due and could not be read for a reason that may pass,
// poll returns an error instead, which the scheduler retries and counts
// towards declaring the meter offline.
func (m *meterPoller) poll(ctx context.Context, p *ModbusPoller) (reading.Reading, error) {
	m.mu.Lock()
	defer m.mu.Unlock()

	words, results := m.values.read(ctx, m.read)
	if err := firstFailure(results); err != nil {
		m.identDue = true
		return reading.Reading{}, fmt.Errorf("cannot read meter %q (bus %q, slave %d): %w",
			m.ID, m.Bus, m.Slave, err)
	}
	if m.bus.reconnects() != m.identAt {
		m.identDue = true
	}

	fresh := m.identDue && m.ident.plan != nil
	if fresh {
		if err := m.readIdentity(ctx); err != nil {
			return reading.Reading{}, err
		}
	}

	d, err := m.profile.Decode(thenWords(words, m.identWords))
	if err != nil {
		m.log.Debug().Err(err).Msg("meter poll incomplete")
	}
	m.logFailing(d.Values)
	r := reading.Reading{Meter: m.ID, Serial: d.Serial, Time: p.clock.Now().UTC(),
		Values: d.Values}
	p.remember(m, r, d, fresh)
	m.identDue = false
	return r, nil
}

// readIdentity reads the identity fields. A field the device refuses
// for good (exception 1–3) leaves it empty; any other failure fails the
// poll, as values whose meter is not known could belong to a new one.
func (m *meterPoller) readIdentity(ctx context.Context) error {
	words, results := m.ident.read(ctx, m.read)
	for _, r := range results {
		if r.Err != nil && !isPermanent(r.Err) {
			return fmt.Errorf("cannot read the identity of meter %q (bus %q, slave %d): %w",
				m.ID, m.Bus, m.Slave, r.Err)
		}
	}
	// A reconnect during this read came before the identity was read.
	m.identWords, m.identAt = words, m.bus.reconnects()
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

// remember keeps the meter's serial and indexes in the state file. When
// its identity was read in this poll and its serial is not the one the
// metering point last had, the meter was replaced: the event carries
// both serials and both meters' indexes, so that the centre starts a new
// index rather than count the difference as consumption (FC-28).
func (p *ModbusPoller) remember(m *meterPoller, r reading.Reading, d modbus.Decoded,
	fresh bool) {
	rec, _ := p.state.Meter(m.ID)
	now := false
	if fresh {
		now = m.identify(p, &rec, r, d)
	}

	if vs := cumulative(m.profile, r.Values); len(vs) > 0 {
		rec.Values, rec.Time = vs, r.Time
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
