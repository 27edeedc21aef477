package sim

import (
	"sync"

	"github.com/esep-kz/esep/drivers/modbus"
)

// Bank is a Device that holds plain maps of registers and bits, keyed by
// the 0-based address a request carries on the wire. A read or write that
// touches an address missing from its table is answered with illegal
// data address, as a meter answers for a register it lacks. Writes go to
// the holding registers and the coils. A Bank is safe for concurrent use;
// the zero value is empty and ready.
type Bank struct {
	mu   sync.Mutex
	regs map[Function]map[uint16]uint16 // by ReadHoldingRegisters, ReadInputRegisters
	bits map[Function]map[uint16]bool   // by ReadCoils, ReadDiscreteInputs
}

// NewBank returns an empty Bank.
func NewBank() *Bank { return &Bank{} }

// SetRegisters stores values from addr on in the table that fn reads:
// ReadHoldingRegisters or ReadInputRegisters. Other codes are ignored.
func (b *Bank) SetRegisters(fn Function, addr uint16, values ...uint16) {
	if fn != ReadHoldingRegisters && fn != ReadInputRegisters {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.regs == nil {
		b.regs = map[Function]map[uint16]uint16{}
	}
	setSpan(b.regs, fn, addr, values)
}

// SetBits stores values from addr on in the table that fn reads:
// ReadCoils or ReadDiscreteInputs. Other codes are ignored.
func (b *Bank) SetBits(fn Function, addr uint16, values ...bool) {
	if fn != ReadCoils && fn != ReadDiscreteInputs {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.bits == nil {
		b.bits = map[Function]map[uint16]bool{}
	}
	setSpan(b.bits, fn, addr, values)
}

// ReadBits implements Device.
func (b *Bank) ReadBits(fn Function, addr, count uint16) ([]bool, Exception) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return readSpan(b.bits[fn], addr, count)
}

// ReadRegisters implements Device.
func (b *Bank) ReadRegisters(fn Function, addr, count uint16) ([]uint16, Exception) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return readSpan(b.regs[fn], addr, count)
}

// WriteBits implements Writer: it writes coils.
func (b *Bank) WriteBits(addr uint16, values []bool) Exception {
	b.mu.Lock()
	defer b.mu.Unlock()
	return writeSpan(b.bits[ReadCoils], addr, values)
}

// WriteRegisters implements Writer: it writes holding registers.
func (b *Bank) WriteRegisters(addr uint16, values []uint16) Exception {
	b.mu.Lock()
	defer b.mu.Unlock()
	return writeSpan(b.regs[ReadHoldingRegisters], addr, values)
}

func setSpan[T any](tables map[Function]map[uint16]T, fn Function, addr uint16, values []T) {
	if tables[fn] == nil {
		tables[fn] = map[uint16]T{}
	}
	for i, v := range values {
		tables[fn][addr+uint16(i)] = v
	}
}

// readSpan returns count values from addr on, or illegal data address
// when any of them is missing: the whole request fails, as on a real meter.
func readSpan[T any](table map[uint16]T, addr, count uint16) ([]T, Exception) {
	out := make([]T, count)
	for i := range out {
		v, ok := table[addr+uint16(i)]
		if !ok {
			return nil, modbus.IllegalDataAddress
		}
		out[i] = v
	}
	return out, 0
}

// writeSpan stores values only when every address exists, so a refused
// write leaves the table as it was.
func writeSpan[T any](table map[uint16]T, addr uint16, values []T) Exception {
	for i := range values {
		if _, ok := table[addr+uint16(i)]; !ok {
			return modbus.IllegalDataAddress
		}
	}
	for i, v := range values {
		table[addr+uint16(i)] = v
	}
	return 0
}
