// Package modbus is esep's Modbus driver: serial ports, the RTU, TCP and
// RTU-over-TCP transports, and the decoding of register values.
//
// Framing of requests and responses comes from github.com/goburrow/modbus
// v0.1.0; the transports that move those frames over a wire are esep's
// own, because RS-485 timing (silent intervals, replies split across
// reads, stray bytes, foreign slaves) decides whether a building's meters
// are read at all.
package modbus
