package sim

import (
	"slices"
	"time"

	"github.com/esep-kz/esep/drivers/modbus"
)

// maxFrame is the longest RTU frame: unit, 253 bytes of PDU and the CRC
// (Modbus over Serial Line V1.02 §2.5.1).
const maxFrame = 256

// bitsPerChar is the size of an RTU character on the wire: start bit,
// 8 data bits, parity bit (or a second stop bit without parity) and stop
// bit (Serial Line V1.02 §2.5.1).
const bitsPerChar = 11

// line is the timing of an RTU bus at one baud rate.
type line struct{ baud int }

// chars returns how long n characters take on the wire.
func (l line) chars(n int) time.Duration {
	return time.Duration(int64(n) * bitsPerChar * int64(time.Second) / int64(l.baud))
}

// silence returns t3.5, the silent interval that ends a frame: 3.5
// characters, or a fixed 1.75 ms above 19200 baud (Serial Line V1.02
// §2.5.1.1).
func (l line) silence() time.Duration {
	if l.baud > 19200 {
		return 1750 * time.Microsecond
	}
	return l.chars(7) / 2
}

// requestLength returns the length of the request frame that b begins
// with, when its function code tells it: 8 bytes for codes 1 to 6 (unit,
// code, address, quantity or value, CRC) and 9 plus the byte count for 15
// and 16 once the byte count is in. It returns 0 when, so far, only a
// silence can end the frame.
func requestLength(b []byte) int {
	if len(b) < 2 {
		return 0
	}
	switch Function(b[1]) {
	case ReadCoils, ReadDiscreteInputs, ReadHoldingRegisters, ReadInputRegisters,
		WriteSingleCoil, WriteSingleRegister:
		return 8
	case WriteMultipleCoils, WriteMultipleRegisters:
		if len(b) < 7 {
			return 0
		}
		return 9 + int(b[6])
	}
	return 0
}

// frame is one RTU frame as the slave received it.
type frame struct {
	data  []byte
	first time.Time // arrival of its first byte
}

// assembler cuts the received bytes into frames (Serial Line V1.02
// §2.5.1.1): a frame ends when it has the length its function code
// implies, or, for other codes and for broken frames, at a silence of
// t3.5 that the reader detects and reports with flush.
type assembler struct {
	buf   []byte
	first time.Time // arrival of buf[0]
	last  time.Time // arrival of the latest byte
}

// add takes bytes that arrived together at at and returns the frames they
// complete.
func (a *assembler) add(b []byte, at time.Time) []frame {
	if len(b) == 0 {
		return nil
	}
	if len(a.buf) == 0 {
		a.first = at
	}
	a.buf = append(a.buf, b...)
	a.last = at

	var out []frame
	for {
		n := requestLength(a.buf)
		if n > maxFrame || n == 0 && len(a.buf) >= maxFrame {
			n = maxFrame // too long for any frame: hand it on to fail its CRC
		}
		if n == 0 || len(a.buf) < n {
			return out
		}
		out = append(out, frame{data: slices.Clone(a.buf[:n]), first: a.first})
		a.buf = append(a.buf[:0], a.buf[n:]...)
		a.first = at
	}
}

// flush ends the pending frame at a silence and returns it, if any.
func (a *assembler) flush() (frame, bool) {
	if len(a.buf) == 0 {
		return frame{}, false
	}
	f := frame{data: slices.Clone(a.buf), first: a.first}
	a.buf = a.buf[:0]
	return f, true
}

// silenceEnd returns when the pending frame ends if no byte comes before,
// or the zero time when no frame is pending.
func (a *assembler) silenceEnd(silence time.Duration) time.Time {
	if len(a.buf) == 0 {
		return time.Time{}
	}
	return a.last.Add(silence)
}

// appendCRC appends the CRC of frame to it, low byte first (Serial Line
// V1.02 §2.5.1.2).
func appendCRC(frame []byte) []byte {
	crc := modbus.CRC16(frame)
	return append(frame, byte(crc), byte(crc>>8))
}

// crcOK reports whether frame ends with the CRC of what precedes it.
func crcOK(frame []byte) bool {
	if len(frame) < 3 {
		return false
	}
	n := len(frame) - 2
	crc := modbus.CRC16(frame[:n])
	return frame[n] == byte(crc) && frame[n+1] == byte(crc>>8)
}
