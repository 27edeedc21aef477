package busbench

import (
	"time"

	"github.com/esep-kz/esep/drivers/modbus"
)

// bitsPerChar is the size of an RTU character: start bit, 8 data bits,
// parity or a second stop bit, and stop bit (Serial Line V1.02 §2.5.1).
const bitsPerChar = 11

// Register reads on the wire (Application Protocol V1.1b3 §6.3, §6.4):
// a request is unit, function, address, quantity and CRC; a reply is
// unit, function, byte count, 2 bytes a register and CRC.
const (
	requestBytes  = 8
	replyOverhead = 5
)

// Wire is the timing of an RTU bus: its baud rate and the turnaround of
// its devices, from the end of a request to the start of the reply.
type Wire struct {
	Baud       int
	Turnaround time.Duration
}

// Chars returns how long n characters take on the wire.
func (w Wire) Chars(n int) time.Duration {
	return time.Duration(int64(n) * bitsPerChar * int64(time.Second) / int64(w.Baud))
}

// Silence returns t3.5, the silent interval between frames: 3.5
// characters, fixed at 1.75 ms above 19200 Bd (Serial Line V1.02
// §2.5.1.1).
func (w Wire) Silence() time.Duration {
	if w.Baud > 19200 {
		return 1750 * time.Microsecond
	}
	return w.Chars(7) / 2
}

// Transaction returns how long an answered read holds the bus: request
// and reply, the turnaround between them and the silence after.
func (w Wire) Transaction(r Request) time.Duration {
	return w.Chars(requestBytes+r.replyBytes()) + w.Turnaround + w.Silence()
}

// Cycle returns the wire time of one cycle of reads, all answered.
func (w Wire) Cycle(cycle []Request) time.Duration {
	var d time.Duration
	for _, r := range cycle {
		d += w.Transaction(r)
	}
	return d
}

// CyclesFor returns how many cycles fill about target of wire time, and
// at least least: slow rates get few cycles, fast ones enough to average
// out the scheduler's noise.
func (w Wire) CyclesFor(cycle []Request, target time.Duration, least int) int {
	per := w.Cycle(cycle)
	if per <= 0 {
		return least
	}
	return max(least, int((target+per-1)/per))
}

// Request is one register read of a poll cycle.
type Request struct {
	Unit  byte
	Func  modbus.Function // FuncHolding or FuncInput
	Addr  uint16
	Count uint16
}

func (r Request) replyBytes() int { return replyOverhead + 2*int(r.Count) }

// registerValue is what every simulated register holds: the unit in the
// high byte and the address in the low, so that a reply from the wrong
// unit or address shows.
func registerValue(unit byte, addr uint16) uint16 {
	return uint16(unit)<<8 | addr&0xFF
}
