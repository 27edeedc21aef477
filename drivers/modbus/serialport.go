package modbus

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"go.bug.st/serial"
)

// SerialConfig is the setting of a local serial port that carries an
// RS-485 bus. Every device on the bus must use the same.
type SerialConfig struct {
	Device   string // such as /dev/ttyUSB0
	Baud     int
	DataBits int    // 7 or 8
	Parity   string // "N", "E" or "O"
	StopBits int    // 1 or 2
}

// serialParities maps the parity letters to go.bug.st/serial's values.
// Serial line spec V1.02 §2.5.1 makes even parity the default and asks
// for 2 stop bits without parity; meters often ship with 8N1 anyway, so
// the combination is allowed.
var serialParities = map[string]serial.Parity{
	"N": serial.NoParity,
	"E": serial.EvenParity,
	"O": serial.OddParity,
}

// mode checks c and returns it as go.bug.st/serial's port mode.
func (c SerialConfig) mode() (*serial.Mode, error) {
	parity, ok := serialParities[c.Parity]
	switch {
	case c.Device == "":
		return nil, fmt.Errorf("serial port has no device: %w", ErrConfig)
	case c.Baud <= 0:
		return nil, fmt.Errorf("serial port %q: baud rate %d is not positive: %w",
			c.Device, c.Baud, ErrConfig)
	case c.DataBits != 7 && c.DataBits != 8:
		return nil, fmt.Errorf("serial port %q: data bits %d, want 7 or 8: %w",
			c.Device, c.DataBits, ErrConfig)
	case !ok:
		return nil, fmt.Errorf("serial port %q: parity %q, want N, E or O: %w",
			c.Device, c.Parity, ErrConfig)
	case c.StopBits != 1 && c.StopBits != 2:
		return nil, fmt.Errorf("serial port %q: stop bits %d, want 1 or 2: %w",
			c.Device, c.StopBits, ErrConfig)
	}

	stop := serial.OneStopBit
	if c.StopBits == 2 {
		stop = serial.TwoStopBits
	}
	mode := &serial.Mode{BaudRate: c.Baud, DataBits: c.DataBits, Parity: parity, StopBits: stop}
	return mode, nil
}

// SerialLine checks cfg and returns an opener of the serial port it
// describes.
func SerialLine(cfg SerialConfig) (LineOpener, error) {
	mode, err := cfg.mode()
	if err != nil {
		return nil, err
	}

	// Opening a tty does not block, so ctx is not consulted.
	return func(context.Context) (Line, error) {
		port, err := serial.Open(cfg.Device, mode)
		if err != nil {
			return nil, fmt.Errorf("open serial port %q: %w", cfg.Device, err)
		}
		return &serialLine{port: port}, nil
	}, nil
}

// NewSerialRTU returns an RTU transport on the local serial port cfg
// describes, timed by the port's baud rate.
func NewSerialRTU(cfg SerialConfig, opts RTUOptions) (*RTUTransport, error) {
	open, err := SerialLine(cfg)
	if err != nil {
		return nil, err
	}
	opts.Baud = cfg.Baud
	return NewRTU(cfg.Device, open, opts)
}

// serialReadSlice bounds one wait of the port for input, so that a
// deadline moved by a cancelled context is seen within this time.
const serialReadSlice = 50 * time.Millisecond

// serialLine is a Line over a go.bug.st/serial port. The port knows only
// a timeout per Read, so the line keeps the deadline and waits for input
// in slices that end by it.
type serialLine struct {
	port     serial.Port
	deadline atomic.Int64 // Unix nanoseconds; 0 for none
}

// Read waits for input until the deadline, then fails with an error
// wrapping os.ErrDeadlineExceeded.
func (l *serialLine) Read(p []byte) (int, error) {
	for {
		wait := serialReadSlice
		if d := l.deadline.Load(); d != 0 {
			left := time.Until(time.Unix(0, d))
			if left <= 0 {
				return 0, os.ErrDeadlineExceeded
			}
			if left < wait {
				wait = left
			}
		}

		if err := l.port.SetReadTimeout(wait); err != nil {
			return 0, err
		}
		// go.bug.st/serial returns 0 bytes and no error at the timeout.
		n, err := l.port.Read(p)
		if n > 0 || err != nil {
			return n, err
		}
	}
}

// Write hands p to the driver; it returns before p is on the wire.
func (l *serialLine) Write(p []byte) (int, error) { return l.port.Write(p) }

// Close closes the port.
func (l *serialLine) Close() error { return l.port.Close() }

// SetDeadline bounds Reads; the zero time removes the bound.
func (l *serialLine) SetDeadline(t time.Time) error {
	var d int64
	if !t.IsZero() {
		d = t.UnixNano()
	}
	l.deadline.Store(d)
	return nil
}

// DiscardInput drops what the driver has received and not yet passed on.
// Bytes still inside a USB adapter are not reached; the RTU transport
// passes over them when they arrive.
func (l *serialLine) DiscardInput() error { return l.port.ResetInputBuffer() }
