package busbench

import (
	"context"
	"fmt"
	"time"

	"github.com/esep-kz/esep/internal/sim"
)

// Bus is a simulated RTU bus: esep-sim's slaves on the master end of a
// pty, for a master to open the slave end as its serial port.
type Bus struct {
	Wire
	Units *sim.Units
	srv   *sim.RTUServer
}

// StartBus serves units at w's rate and turnaround until ctx ends or
// Close is called.
func StartBus(ctx context.Context, units *sim.Units, w Wire) (*Bus, error) {
	srv, err := sim.ServeRTU(ctx, units, sim.RTUConfig{Baud: w.Baud, Turnaround: w.Turnaround})
	if err != nil {
		return nil, fmt.Errorf("cannot start a bus at %d Bd: %w", w.Baud, err)
	}
	return &Bus{Wire: w, Units: units, srv: srv}, nil
}

// Path returns the serial port of the bus, /dev/pts/N.
func (b *Bus) Path() string { return b.srv.Path() }

// Close stops the simulator.
func (b *Bus) Close() error { return b.srv.Close() }

// Run is what one timed poll run did on a bus.
type Run struct {
	Cycles   int
	Requests int // reads sent
	Served   int // reads answered with the registers asked for

	// Wire is the time the served reads occupy the bus, computed from
	// their frames with Wire.Transaction.
	Wire time.Duration
	// Silence is the part of Wire that is silent intervals.
	Silence time.Duration
	// SimWire is the same time as the simulator counted it: its wire time
	// of answered reads plus the silent interval after each.
	SimWire time.Duration
	// SimServed is how many replies the simulator sent.
	SimServed uint64
	Elapsed   time.Duration

	// Violations counts requests that began less than t3.5 after the
	// previous reply ended, and Collisions those that began before; the
	// simulator drops the latter unanswered.
	Violations uint64
	Collisions uint64
}

// Ratio is the wire-limit ratio: the served reads' wire time divided by
// the wall time of the run.
func (r Run) Ratio() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Wire) / float64(r.Elapsed)
}

// BusyRatio is Ratio without the silent intervals: what a master that
// does not keep them, such as libmodbus, makes of the wire it uses.
func (r Run) BusyRatio() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Wire-r.Silence) / float64(r.Elapsed)
}

// PerCycle is the wall time of one cycle.
func (r Run) PerCycle() time.Duration {
	if r.Cycles == 0 {
		return 0
	}
	return r.Elapsed / time.Duration(r.Cycles)
}

// poller sends the reads of a timed run and returns those answered, and
// how many it sent.
type poller func() (served []Request, sent int, err error)

// measure times poll and fills a Run from what it returns and from the
// simulator's counts before and after.
func (b *Bus) measure(cycles int, poll poller) (Run, error) {
	before := b.srv.Stats()
	start := time.Now()
	served, sent, err := poll()
	elapsed := time.Since(start)
	// The simulator counts a reply before its first byte leaves, so every
	// reply the master has read is counted by now.
	after := b.srv.Stats()
	if err != nil {
		return Run{}, err
	}

	r := Run{
		Cycles: cycles, Requests: sent, Served: len(served), Elapsed: elapsed,
		Violations: after.SilentIntervalViolations - before.SilentIntervalViolations,
		Collisions: after.Collisions - before.Collisions,
	}
	for _, s := range served {
		r.Wire += b.Transaction(s)
	}
	r.Silence = time.Duration(len(served)) * b.Silence()
	r.SimWire, r.SimServed = b.simWire(before, after)
	return r, nil
}

// simWire returns the wire time of the replies the simulator sent between
// two snapshots, with a silent interval after each, and their number. Its
// wire time of an unanswered read, the request alone, is taken out.
func (b *Bus) simWire(before, after sim.Stats) (time.Duration, uint64) {
	var wire time.Duration
	var replies uint64
	for unit, a := range after.Units {
		was := before.Units[unit]
		unanswered := a.Unanswered - was.Unanswered
		wire += a.WireTime - was.WireTime - time.Duration(unanswered)*b.Chars(requestBytes)
		replies += a.Responses - was.Responses
	}
	return wire + time.Duration(replies)*b.Silence(), replies
}
