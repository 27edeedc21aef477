package agent

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/esep-kz/esep/drivers/modbus"
	"github.com/esep-kz/esep/internal/logging"
	"github.com/esep-kz/esep/internal/reading"
)

// defaultBlockRetries is the budget of a request that failed for a
// reason that may pass (FC-12: busy, a CRC error, a timeout): the same
// two retries the scheduler gives a poll that failed as a whole, so that
// one block of a meter gets the chances the whole meter would.
const defaultBlockRetries = 2

// PollerOptions are what a ModbusPoller needs besides the configuration.
type PollerOptions struct {
	// State remembers each meter's serial and last indexes across
	// restarts; required.
	State *State
	// Sink receives the MeterReplaced events; required. The agent gives
	// the scheduler's sink, so that the event comes before the reading
	// of the new meter.
	Sink Sink
	// Clock stamps readings and times the bus delay before a request
	// is sent again; nil selects the system clock.
	Clock Clock
	// Retries is how often, within one poll, a request that failed for
	// a reason that may pass is sent again; 0 selects 2 and a negative
	// number none.
	Retries int
	// Log receives the poller's lines; the zero Logger discards them.
	Log zerolog.Logger
}

// ModbusPoller is the agent's Poller: it reads each meter over its bus
// through its device profile. Every bus has one Client, shared by its
// meters; every meter has a DevicePlan, which learns what registers the
// device refuses and stops asking for them.
type ModbusPoller struct {
	buses  []*busConn
	meters map[string]*meterPoller
	state  *State
	sink   Sink
	clock  Clock
	// retries is PollerOptions.Retries with its default applied.
	retries int
	log     zerolog.Logger

	closeOnce sync.Once
	closeErr  error
}

// NewModbusPoller returns a poller for the buses and meters of c, which
// LoadConfig has checked and given its profiles. No port or connection
// is opened before the first poll; Close closes them all.
func NewModbusPoller(ctx context.Context, c *Config, o PollerOptions) (*ModbusPoller, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("cannot create the poller: %w", err)
	}
	if o.State == nil || o.Sink == nil {
		return nil, errors.New("cannot create the poller without a state and a sink")
	}
	if o.Clock == nil {
		o.Clock = systemClock{}
	}
	switch {
	case o.Retries == 0:
		o.Retries = defaultBlockRetries
	case o.Retries < 0:
		o.Retries = 0
	}

	p := &ModbusPoller{meters: map[string]*meterPoller{}, state: o.State, sink: o.Sink,
		clock: o.Clock, retries: o.Retries,
		log: o.Log.With().Str(logging.Component, "poller").Logger()}
	buses, err := p.openBuses(c)
	if err != nil {
		return nil, err
	}
	for _, m := range c.Meters {
		mp, err := newMeterPoller(m, buses[m.Bus], c.Profiles(), p.log)
		if err != nil {
			_ = p.Close()
			return nil, err
		}
		p.meters[m.ID] = mp
	}
	return p, nil
}

// openBuses makes the client of every bus that has meters on it.
func (p *ModbusPoller) openBuses(c *Config) (map[string]*busConn, error) {
	timeouts := map[string]map[byte]time.Duration{}
	for _, m := range c.Meters {
		if timeouts[m.Bus] == nil {
			timeouts[m.Bus] = map[byte]time.Duration{}
		}
		if m.Timeout > 0 {
			timeouts[m.Bus][byte(m.Slave)] = m.Timeout
		}
	}

	buses := map[string]*busConn{}
	for _, b := range c.Buses {
		if timeouts[b.Name] == nil {
			continue // no meters: nothing to open
		}
		bc, err := openBus(b, timeouts[b.Name])
		if err != nil {
			_ = p.Close()
			return nil, err
		}
		buses[b.Name] = bc
		p.buses = append(p.buses, bc)
	}
	return buses, nil
}

// Poll reads the meter m once; see meterPoller.poll.
func (p *ModbusPoller) Poll(ctx context.Context, m Meter) (reading.Reading, error) {
	mp := p.meters[m.ID]
	if mp == nil {
		return reading.Reading{}, fmt.Errorf("cannot poll meter %q: it is not configured", m.ID)
	}
	return mp.poll(ctx, p)
}

// pause waits d on the poller's clock, or until ctx ends, which it
// returns as an error.
func (p *ModbusPoller) pause(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil || d <= 0 {
		return err
	}
	t := p.clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C():
		return nil
	}
}

// BusStats returns the counters of every bus's client, by bus name.
func (p *ModbusPoller) BusStats() map[string]modbus.Stats {
	out := make(map[string]modbus.Stats, len(p.buses))
	for _, b := range p.buses {
		out[b.Name] = b.client.Stats()
	}
	return out
}

// Close closes every bus, waiting for a transaction under way, and writes
// the state file. Polls fail after Close.
func (p *ModbusPoller) Close() error {
	p.closeOnce.Do(func() {
		var errs []error
		for _, b := range p.buses {
			if err := b.client.Close(); err != nil {
				errs = append(errs, fmt.Errorf("cannot close bus %q: %w", b.Name, err))
			}
		}
		errs = append(errs, p.state.Flush())
		p.closeErr = errors.Join(errs...)
	})
	return p.closeErr
}

// planned is one DevicePlan with the needs it was made of.
type planned struct {
	needs []modbus.Need
	plan  *modbus.DevicePlan
}

// newPlanned plans needs for a device of profile pr; nil needs give a
// plan that reads nothing.
func newPlanned(pr *modbus.Profile, needs []modbus.Need) (planned, error) {
	if len(needs) == 0 {
		return planned{}, nil
	}
	opts := pr.PlanOptions(modbus.DefaultPlanOptions())
	opts.IsIllegalAddress = isIllegalAddress
	plan, err := modbus.NewDevicePlan(needs, opts)
	if err != nil {
		return planned{}, err
	}
	return planned{needs: needs, plan: plan}, nil
}

// read runs one cycle of the plan.
func (pl planned) read(ctx context.Context, r modbus.BlockReader) cycle {
	if pl.plan == nil {
		return cycle{planned: pl}
	}
	return cycle{planned: pl, results: pl.plan.Read(ctx, r)}
}

func (pl planned) reset() {
	if pl.plan != nil {
		pl.plan.Reset()
	}
}

// cycle is what one poll got for the needs of a plan, one result each.
type cycle struct {
	planned
	results []modbus.NeedResult
}

// words returns the words the cycle read.
func (c cycle) words() modbus.Words { return modbus.PlanWords(c.needs, c.results) }

// reread sends once more each request of the plan whose needs failed for
// a reason that may pass, after the bus delay, and files what it gets in
// place of the failure. It returns how many requests it made.
//
// The plan itself is left alone: it learns refusals from its own cycles,
// and a request read again here is one it will issue next cycle anyway.
func (c cycle) reread(ctx context.Context, r modbus.BlockReader, pause func() error) int {
	if c.plan == nil {
		return 0
	}
	made := 0
	for _, b := range c.plan.Plan().Blocks {
		if !slices.ContainsFunc(b.Needs, func(i int) bool { return transient(c.results[i].Err) }) {
			continue
		}
		if pause() != nil {
			break // the poll is being stopped
		}

		made++
		words, err := r(ctx, b.Func, b.Addr, b.Count)
		if err == nil && len(words) != int(b.Count) {
			err = fmt.Errorf("reply holds %d values, want %d", len(words), b.Count)
		}
		for _, i := range b.Needs {
			if err != nil {
				c.results[i] = modbus.NeedResult{Err: fmt.Errorf("read %s again: %w", b, err)}
			} else {
				c.results[i] = modbus.NeedResult{Words: b.Words(words, c.needs[i])}
			}
		}
	}
	return made
}

// transient reports whether a need that failed with err may be read if
// its request is sent again at once. A refusal of the point (exception
// 1–3, FC-12 item 3) comes back however often it is asked; a gateway's
// exception 10 is its configuration, and its 11 means it already waited
// its own timeout for the meter, so asking again at once only doubles
// the wait (the scheduler's retryable agrees); a split the plan deferred
// is its next cycle's work; the driver refuses an invalid request before
// the wire, and a closed bus stays closed.
func transient(err error) bool {
	var ex *modbus.ExceptionError
	if errors.As(err, &ex) {
		switch ex.Class() {
		case modbus.ClassGatewayConfig, modbus.ClassGatewayTransient:
			return false
		}
	}
	switch {
	case err == nil, isPermanent(err), errors.Is(err, modbus.ErrSplitDeferred),
		errors.Is(err, modbus.ErrInvalidRequest), errors.Is(err, modbus.ErrClosed):
		return false
	}
	return true
}

// identityNeed tells the needs of identity fields from those of values
// and scale registers: Profile.Needs names them "identity.<field>".
func identityNeed(n modbus.Need) bool { return strings.HasPrefix(n.Name, "identity.") }

// splitNeeds returns the needs of the values, with their scale
// registers, and those of the identity fields.
func splitNeeds(pr *modbus.Profile) (values, identity []modbus.Need) {
	for _, n := range pr.Needs() {
		if identityNeed(n) {
			identity = append(identity, n)
		} else {
			values = append(values, n)
		}
	}
	return values, identity
}

// firstFailure returns nil when some result has words, else the first
// error: a poll that read nothing failed as a whole.
func firstFailure(results []modbus.NeedResult) error {
	for _, r := range results {
		if r.Err == nil {
			return nil
		}
	}
	if len(results) == 0 {
		return errors.New("nothing was read")
	}
	return results[0].Err
}

// thenWords returns words that look in a, then in b for what a has not.
func thenWords(a, b modbus.Words) modbus.Words {
	return func(fn byte, addr, count uint16) ([]uint16, error) {
		w, err := a(fn, addr, count)
		if errors.Is(err, modbus.ErrNotRead) {
			return b(fn, addr, count)
		}
		return w, err
	}
}

// failedQuantities lists the quantities of vs that have no number, for
// the log, in profile order.
func failedQuantities(vs []reading.Value) string {
	var names []string
	for _, v := range vs {
		if !v.HasNumber() {
			names = append(names, string(v.Quantity))
		}
	}
	return strings.Join(names, ",")
}

// cumulative returns the cumulative values of a decoded poll that carry
// a number; pr.Values and vs are in the same order.
func cumulative(pr *modbus.Profile, vs []reading.Value) []reading.Value {
	var out []reading.Value
	for i, pt := range pr.Values {
		if i < len(vs) && pt.Cumulative != nil && *pt.Cumulative && vs[i].HasNumber() {
			out = append(out, vs[i])
		}
	}
	return out
}

// mergeValues returns old with each quantity of fresh put in place of
// its old value, or added: a quantity this poll could not read keeps the
// last number read, so that a replacement right after a partial poll
// still carries every index of the old meter.
func mergeValues(old, fresh []reading.Value) []reading.Value {
	out := slices.Clone(old)
	for _, v := range fresh {
		i := slices.IndexFunc(out, func(o reading.Value) bool { return o.Quantity == v.Quantity })
		if i < 0 {
			out = append(out, v)
			continue
		}
		out[i] = v
	}
	return out
}

// profileNames lists the profiles that the meters of c use, sorted.
func profileNames(c *Config) []string {
	used := map[string]bool{}
	for _, m := range c.Meters {
		used[m.Profile] = true
	}
	return slices.Sorted(maps.Keys(used))
}
