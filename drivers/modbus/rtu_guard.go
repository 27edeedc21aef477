package modbus

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// deadAfter is how many guards in a row a slave must stay silent
// through, not a byte on the line, before it is taken for dead. One
// quiet guard is not enough: a slave that missed one request and is
// slow on the next would be taken for dead, and its late reply for the
// answer to the request after.
const deadAfter = 2

// slaveGuard is what an RTU transport knows of a slave whose last
// transaction ended without a whole reply (FC-13).
type slaveGuard struct {
	until time.Time // end of the guard after its last failure
	// heard is set when a frame of the slave, or any byte while the
	// master listened through its guard, came after its last failure.
	heard bool
	quiet int // guards listened through in silence, in a row
	// dead marks a slave silent through deadAfter guards: it leaves no
	// late reply to wait for, unless it is asked again straight away.
	dead bool
}

// waitQuiet waits until the next request, to slave, may start: the
// silent interval after the last traffic, and the slave's guard, which
// it listens through. A dead slave's guard is skipped when other
// transactions came between, and kept when it is asked twice in a row,
// where a late reply would otherwise meet the next request.
func (t *RTUTransport) waitQuiet(ctx context.Context, line Line, slave byte) error {
	g := t.guards[slave]
	if g == nil || !g.until.After(t.quietUntil) || g.dead && slave != t.lastSlave {
		return sleepUntil(ctx, t.quietUntil, t.name)
	}
	if err := t.listen(ctx, line, g); err != nil {
		return err
	}
	if g.heard {
		g.quiet, g.dead = 0, false
		return nil
	}
	g.quiet++
	g.dead = g.quiet >= deadAfter
	return nil
}

// listen reads the line until g's guard ends, noting whether anything
// came. What it reads is a late reply or noise, never an answer: it is
// counted and dropped.
func (t *RTUTransport) listen(ctx context.Context, line Line, g *slaveGuard) error {
	if err := line.SetDeadline(g.until); err != nil {
		return t.broken("set deadline", err)
	}
	stop := interruptOnCancel(ctx, line)
	var got []byte
	buf := make([]byte, rtuMaxADU)
	for {
		n, err := line.Read(buf)
		if n > 0 {
			g.heard = true
			got = append(got[:min(len(got), rtuScanCap-n)], buf[:n]...)
		}
		if err != nil {
			stop()
			t.countTraffic(got, 0, false)
			switch {
			case ctx.Err() != nil:
				return fmt.Errorf("wait out the guard on bus %q: %w", t.name, ctx.Err())
			case !deadlinePassed(err):
				return t.broken("read during the guard", err)
			}
			// A line may report its deadline early; the rest is slept.
			return sleepUntil(ctx, g.until, t.name)
		}
	}
}

// sleepUntil waits until the clock reads until, or ctx ends.
func sleepUntil(ctx context.Context, until time.Time, bus string) error {
	d := time.Until(until)
	if d <= 0 {
		return nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for a quiet bus %q: %w", bus, ctx.Err())
	}
}

// settle sets when the next request may start after one to slave that
// ended at end with err: a silent interval of 3.5 characters marks the
// end of a frame (serial line spec V1.02 §2.5.1.1); after a transaction
// that may still draw a late reply, the guard (FC-13).
func (t *RTUTransport) settle(end time.Time, slave byte, err error) {
	t.quietUntil = end.Add(rtuSilence(t.opts.Baud))
	t.lastSlave = slave
	if !lateReplyPossible(err) {
		delete(t.guards, slave) // it answered, or the line broke
		return
	}

	g := t.guards[slave]
	if g == nil {
		if t.guards == nil {
			t.guards = map[byte]*slaveGuard{}
		}
		g = &slaveGuard{}
		t.guards[slave] = g
	}
	g.heard = false
	if errors.Is(err, ErrCRC) || errors.Is(err, ErrShortFrame) {
		t.heard(slave) // it sent something: alive, and maybe slow
	}
	guard := t.opts.Guard
	if guard == 0 {
		guard = t.timeout(slave)
	}
	g.until = end.Add(guard)
}

// heard notes a whole frame of slave on the line: a slave that sends is
// not dead, and may be slow.
func (t *RTUTransport) heard(slave byte) {
	if g := t.guards[slave]; g != nil {
		g.heard, g.quiet, g.dead = true, 0, false
	}
}
