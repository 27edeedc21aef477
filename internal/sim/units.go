package sim

import (
	"fmt"
	"sync"
	"time"
)

// maxUnit is the highest unit id a slave may have; 0 is broadcast and
// 248..255 are reserved (Modbus over Serial Line V1.02 §2.2).
const maxUnit = 247

// Units is the table of slaves a server answers for: a Device and Faults
// per unit id. It is safe for concurrent use, and changes take effect
// with the next request, also while servers run: the hook for a profile
// device that swaps meters or rolls counters over is SetDevice.
type Units struct {
	mu      sync.RWMutex
	devices [maxUnit + 1]Device
	faults  [maxUnit + 1]*faultState
}

// NewUnits returns a table with no units: every request goes unanswered.
func NewUnits() *Units { return &Units{} }

// SetDevice makes d answer for unit; a nil d removes the unit, which then
// stays silent as an address with no meter behind it does.
func (u *Units) SetDevice(unit byte, d Device) error {
	if unit < 1 || unit > maxUnit {
		return fmt.Errorf("cannot set device of unit %d: %w", unit, ErrInvalidUnit)
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	u.devices[unit] = d
	return nil
}

// Device returns the Device of unit, or nil.
func (u *Units) Device(unit byte) Device {
	if unit > maxUnit {
		return nil
	}
	u.mu.RLock()
	defer u.mu.RUnlock()
	return u.devices[unit]
}

// SetFaults replaces the faults of unit and restarts their counters,
// their latency script and their random draws.
func (u *Units) SetFaults(unit byte, f Faults) error {
	if unit < 1 || unit > maxUnit {
		return fmt.Errorf("cannot set faults of unit %d: %w", unit, ErrInvalidUnit)
	}
	if err := f.validate(unit); err != nil {
		return fmt.Errorf("cannot set faults of unit %d: %w", unit, err)
	}
	f.Exceptions = append([]ExceptionRule(nil), f.Exceptions...)
	f.Refused = append([]Range(nil), f.Refused...)
	f.Latency = append([]time.Duration(nil), f.Latency...)
	f.Chunks = append([]int(nil), f.Chunks...)

	u.mu.Lock()
	defer u.mu.Unlock()
	u.faults[unit] = newFaultState(f)
	return nil
}

// Faults returns the faults set for unit.
func (u *Units) Faults(unit byte) Faults {
	if unit > maxUnit {
		return Faults{}
	}
	u.mu.RLock()
	s := u.faults[unit]
	u.mu.RUnlock()
	if s == nil {
		return Faults{}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.f
}

// reply is what a unit does with one request.
type reply struct {
	pdu      []byte // response PDU; nil when the unit stays silent
	corrupt  bool   // flip a CRC byte (RTU)
	foreign  byte   // unit id of a foreign reply sent first; 0 for none
	staleTID bool   // send a copy under a stale transaction id first (TCP)
	latency  time.Duration
	chunks   []int
	gap      time.Duration
}

// exception reports whether the reply is an exception response.
func (r reply) exception() bool { return len(r.pdu) > 0 && r.pdu[0]&0x80 != 0 }

// handle runs the request PDU req on unit. ok is false when no device
// answers for unit; an empty req gets no answer either.
func (u *Units) handle(unit byte, req []byte) (r reply, ok bool) {
	if unit < 1 || unit > maxUnit {
		return reply{}, false
	}
	u.mu.RLock()
	d, faults := u.devices[unit], u.faults[unit]
	u.mu.RUnlock()
	if d == nil {
		return reply{}, false
	}
	if len(req) == 0 {
		return reply{}, true
	}

	run := func() []byte { return execute(d, req) }
	if faults == nil {
		return reply{pdu: run()}, true
	}
	return faults.apply(req, run), true
}
