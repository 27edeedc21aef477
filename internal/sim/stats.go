package sim

import (
	"maps"
	"sync"
	"time"
)

// UnitStats counts what one unit id saw on one server.
type UnitStats struct {
	// Requests addressed to the unit with a valid frame, to a device.
	Requests uint64

	// Responses sent, exception responses included; the extra frames of
	// the ForeignUnit and StaleTID faults are not counted.
	Responses uint64

	// Exceptions is how many of the Responses were exception responses.
	Exceptions uint64

	// Unanswered requests, left without reply by the Dead or Silent
	// faults.
	Unanswered uint64

	// WireTime is the time the unit's transactions held an RTU bus: the
	// characters of request and response, 11 bits each at the baud rate,
	// and the turnaround between them. Extra latency is not included.
	WireTime time.Duration
}

// Stats counts what one server saw since it started.
type Stats struct {
	// Units holds the counts of every unit id that had a request.
	Units map[byte]UnitStats

	// NoDevice counts requests to unit ids with no device behind them,
	// which were not answered (RTU) or answered as TCPConfig says.
	NoDevice uint64

	// BadFrames counts RTU frames dropped for a bad CRC or a length under
	// the 4 bytes of the smallest frame (Serial Line V1.02 §2.5.1.1).
	BadFrames uint64

	// SilentIntervalViolations counts RTU frames whose first byte came
	// less than t3.5 after the last byte of the previous reply
	// (Serial Line V1.02 §2.5.1.1). Such frames are still answered.
	SilentIntervalViolations uint64

	// Collisions counts RTU frames that began before the slave had sent
	// the last byte of its reply to the previous request. The bus is half
	// duplex and a meter handles one request at a time, so they are
	// dropped unanswered.
	Collisions uint64

	// WireTime is the sum of the WireTime of all units.
	WireTime time.Duration
}

// counters is a server's Stats behind a lock.
type counters struct {
	mu sync.Mutex
	s  Stats
}

// add changes the counts under the lock.
func (c *counters) add(change func(s *Stats)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	change(&c.s)
}

// unit changes the counts of unit under the lock.
func (c *counters) unit(unit byte, change func(u *UnitStats)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.s.Units == nil {
		c.s.Units = map[byte]UnitStats{}
	}
	u := c.s.Units[unit]
	change(&u)
	c.s.Units[unit] = u
}

// reply counts a request to unit and what the unit did with it.
func (c *counters) reply(unit byte, r reply, wire time.Duration) {
	c.unit(unit, func(u *UnitStats) {
		u.Requests++
		switch {
		case r.pdu == nil:
			u.Unanswered++
		case r.exception():
			u.Responses++
			u.Exceptions++
		default:
			u.Responses++
		}
		u.WireTime += wire
	})
	c.add(func(s *Stats) { s.WireTime += wire })
}

// snapshot returns a copy that later counts do not change.
func (c *counters) snapshot() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.s
	s.Units = maps.Clone(c.s.Units)
	return s
}
