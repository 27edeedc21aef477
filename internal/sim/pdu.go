package sim

import (
	"encoding/binary"

	"github.com/esep-kz/esep/drivers/modbus"
)

// Quantity limits of Modbus Application Protocol V1.1b3 §6: a request
// outside them is answered with illegal data value.
const (
	maxReadBits       = 2000 // §6.1, §6.2: 0x7D0
	maxReadRegisters  = 125  // §6.3, §6.4: 0x7D
	maxWriteBits      = 1968 // §6.11: 0x7B0
	maxWriteRegisters = 123  // §6.12: 0x7B
)

// Coil values of WriteSingleCoil (Application Protocol §6.5).
const (
	coilOn  = 0xFF00
	coilOff = 0x0000
)

// execute runs the request PDU req (function code and data) on d and
// returns the response PDU: the answer, or an exception response. The
// checks follow the state diagrams of Application Protocol §6: function
// code, then quantity (and byte count), then address range, then the
// device itself.
func execute(d Device, req []byte) []byte {
	fn := Function(req[0])
	switch fn {
	case ReadCoils, ReadDiscreteInputs:
		return readBits(d, fn, req[1:])
	case ReadHoldingRegisters, ReadInputRegisters:
		return readRegisters(d, fn, req[1:])
	case WriteSingleCoil, WriteSingleRegister, WriteMultipleCoils, WriteMultipleRegisters:
		w, ok := d.(Writer)
		if !ok {
			return exceptionPDU(fn, modbus.IllegalFunction)
		}
		return write(w, fn, req[1:])
	}
	return exceptionPDU(fn, modbus.IllegalFunction)
}

func readBits(d Device, fn Function, data []byte) []byte {
	addr, count, ex := readSpanOf(data, maxReadBits)
	if ex != 0 {
		return exceptionPDU(fn, ex)
	}

	bits, ex := d.ReadBits(fn, addr, count)
	if ex == 0 && len(bits) != int(count) {
		ex = modbus.ServerDeviceFailure
	}
	if ex != 0 {
		return exceptionPDU(fn, ex)
	}
	packed := packBits(bits)
	return append([]byte{byte(fn), byte(len(packed))}, packed...)
}

func readRegisters(d Device, fn Function, data []byte) []byte {
	addr, count, ex := readSpanOf(data, maxReadRegisters)
	if ex != 0 {
		return exceptionPDU(fn, ex)
	}

	regs, ex := d.ReadRegisters(fn, addr, count)
	if ex == 0 && len(regs) != int(count) {
		ex = modbus.ServerDeviceFailure
	}
	if ex != 0 {
		return exceptionPDU(fn, ex)
	}
	out := []byte{byte(fn), byte(2 * count)}
	for _, r := range regs {
		out = binary.BigEndian.AppendUint16(out, r)
	}
	return out
}

// readSpanOf checks a read request's data: starting address and quantity.
func readSpanOf(data []byte, limit int) (addr, count uint16, ex Exception) {
	if len(data) != 4 {
		return 0, 0, modbus.IllegalDataValue
	}
	addr, count = binary.BigEndian.Uint16(data), binary.BigEndian.Uint16(data[2:])
	return addr, count, checkSpan(addr, count, limit)
}

// checkSpan applies the quantity and address checks of §6.
func checkSpan(addr, count uint16, limit int) Exception {
	if count == 0 || int(count) > limit {
		return modbus.IllegalDataValue
	}
	if int(addr)+int(count) > 0x10000 {
		return modbus.IllegalDataAddress
	}
	return 0
}

// write serves the four write functions; each echoes the address and
// the value or quantity it wrote (§6.5, §6.6, §6.11, §6.12).
func write(w Writer, fn Function, data []byte) []byte {
	ex := modbus.IllegalDataValue
	switch {
	case fn == WriteSingleCoil && len(data) == 4:
		ex = writeSingleCoil(w, data)
	case fn == WriteSingleRegister && len(data) == 4:
		ex = w.WriteRegisters(binary.BigEndian.Uint16(data),
			[]uint16{binary.BigEndian.Uint16(data[2:])})
	case fn == WriteMultipleCoils:
		addr, count, values, bad := multipleHead(data, maxWriteBits, bitBytes)
		if ex = bad; ex == 0 {
			ex = w.WriteBits(addr, unpackBits(values, int(count)))
		}
	case fn == WriteMultipleRegisters:
		addr, _, values, bad := multipleHead(data, maxWriteRegisters, regBytes)
		if ex = bad; ex == 0 {
			ex = w.WriteRegisters(addr, unpackRegisters(values))
		}
	}
	if ex != 0 {
		return exceptionPDU(fn, ex)
	}
	return append([]byte{byte(fn)}, data[:4]...)
}

// writeSingleCoil accepts only the two values §6.5 allows.
func writeSingleCoil(w Writer, data []byte) Exception {
	v := binary.BigEndian.Uint16(data[2:])
	if v != coilOn && v != coilOff {
		return modbus.IllegalDataValue
	}
	return w.WriteBits(binary.BigEndian.Uint16(data), []bool{v == coilOn})
}

// multipleHead checks the head of a multiple write (address, quantity,
// byte count) and returns the value bytes that follow it.
func multipleHead(data []byte, limit int, nbytes func(int) int) (
	addr, count uint16, values []byte, ex Exception) {
	if len(data) < 5 {
		return 0, 0, nil, modbus.IllegalDataValue
	}
	addr, count = binary.BigEndian.Uint16(data), binary.BigEndian.Uint16(data[2:])
	values = data[5:]
	if int(data[4]) != nbytes(int(count)) || len(values) != int(data[4]) {
		return 0, 0, nil, modbus.IllegalDataValue
	}
	return addr, count, values, checkSpan(addr, count, limit)
}

// exceptionPDU is an exception response: the function code with its high
// bit set, then the code (Application Protocol §7).
func exceptionPDU(fn Function, ex Exception) []byte {
	return []byte{byte(fn) | 0x80, byte(ex)}
}

// span returns the addresses a request touches, for fault rules; ok is
// false for a function without addresses or a request too short to say.
func span(req []byte) (addr, count uint16, ok bool) {
	if len(req) < 5 {
		return 0, 0, false
	}
	addr = binary.BigEndian.Uint16(req[1:])
	switch Function(req[0]) {
	case ReadCoils, ReadDiscreteInputs, ReadHoldingRegisters, ReadInputRegisters,
		WriteMultipleCoils, WriteMultipleRegisters:
		return addr, binary.BigEndian.Uint16(req[3:]), true
	case WriteSingleCoil, WriteSingleRegister:
		return addr, 1, true
	}
	return 0, 0, false
}

func bitBytes(n int) int { return (n + 7) / 8 }

func regBytes(n int) int { return 2 * n }

// packBits packs bits LSB first, the first bit in the lowest bit of the
// first byte (Application Protocol §6.1).
func packBits(bits []bool) []byte {
	out := make([]byte, bitBytes(len(bits)))
	for i, b := range bits {
		if b {
			out[i/8] |= 1 << (i % 8)
		}
	}
	return out
}

func unpackBits(data []byte, n int) []bool {
	out := make([]bool, n)
	for i := range out {
		out[i] = data[i/8]&(1<<(i%8)) != 0
	}
	return out
}

func unpackRegisters(data []byte) []uint16 {
	out := make([]uint16, len(data)/2)
	for i := range out {
		out[i] = binary.BigEndian.Uint16(data[2*i:])
	}
	return out
}
