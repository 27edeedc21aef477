package modbus

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"

	goburrow "github.com/goburrow/modbus"
)

// Function is a Modbus read function code (application protocol V1.1b3
// §6.1–6.4).
type Function byte

// Read function codes.
const (
	FuncCoils    Function = 1 // read coils, 0xxxx
	FuncDiscrete Function = 2 // read discrete inputs, 1xxxx
	FuncHolding  Function = 3 // read holding registers, 4xxxx
	FuncInput    Function = 4 // read input registers, 3xxxx
)

// String names what the function reads.
func (f Function) String() string {
	if r, ok := functionReads[f]; ok {
		return r.name
	}
	return fmt.Sprintf("function %d", byte(f))
}

// functionRead is how one read function is asked through goburrow.
type functionRead struct {
	name      string
	registers bool   // 16-bit words, not bits
	maxCount  uint16 // largest quantity in one request
	read      func(c goburrow.Client, addr, count uint16) ([]byte, error)
}

// functionReads holds the quantity limits of §6.1–6.4: 2000 bits or 125
// registers, so that a reply fits in a 253-byte PDU.
var functionReads = map[Function]functionRead{
	FuncCoils:    {"coils", false, 2000, goburrow.Client.ReadCoils},
	FuncDiscrete: {"discrete inputs", false, 2000, goburrow.Client.ReadDiscreteInputs},
	FuncHolding:  {"holding registers", true, 125, goburrow.Client.ReadHoldingRegisters},
	FuncInput:    {"input registers", true, 125, goburrow.Client.ReadInputRegisters},
}

// Client reads a Modbus bus through a Transport, one transaction at a
// time: a serial bus carries one query at a time (serial line spec V1.02
// §2.1), and a gateway in front of one serializes anyway (FC-12 item 3).
// It is safe for concurrent use.
type Client struct {
	tr   Transport
	busy chan struct{} // holds a token during a transaction

	statsMu sync.Mutex
	stats   Stats
}

// Stats are a Client's counts since it was made. Every request ends in
// exactly one of Replies, an exception or one error kind.
type Stats struct {
	Requests   uint64                   // transactions tried
	Replies    uint64                   // transactions answered with data
	Exceptions map[ExceptionCode]uint64 // exception replies by code

	Timeouts      uint64 // ErrTimeout
	CRCErrors     uint64 // ErrCRC
	ShortFrames   uint64 // ErrShortFrame
	BadFrames     uint64 // ErrBadFrame
	WrongSlave    uint64 // ErrWrongSlave
	WrongFunction uint64 // ErrWrongFunction
	ByteCount     uint64 // ErrByteCount
	Connection    uint64 // ErrConnection
	Canceled      uint64 // the caller's context ended first
	Other         uint64 // anything else, such as ErrClosed

	TransportCounters
}

// NewClient returns a client that owns tr; Close closes it.
func NewClient(tr Transport) *Client {
	return &Client{
		tr:    tr,
		busy:  make(chan struct{}, 1),
		stats: Stats{Exceptions: map[ExceptionCode]uint64{}},
	}
}

// ReadRegisters reads count holding (FuncHolding) or input (FuncInput)
// registers of slave from PDU address addr, first register first.
func (c *Client) ReadRegisters(ctx context.Context, slave byte, fn Function,
	addr, count uint16) ([]uint16, error) {
	data, err := c.read(ctx, slave, fn, true, addr, count)
	if err != nil {
		return nil, err
	}

	// Registers travel big-endian (application protocol §4.2).
	regs := make([]uint16, count)
	for i := range regs {
		regs[i] = uint16(data[2*i])<<8 | uint16(data[2*i+1])
	}
	return regs, nil
}

// ReadBits reads count coils (FuncCoils) or discrete inputs
// (FuncDiscrete) of slave from PDU address addr.
func (c *Client) ReadBits(ctx context.Context, slave byte, fn Function,
	addr, count uint16) ([]bool, error) {
	data, err := c.read(ctx, slave, fn, false, addr, count)
	if err != nil {
		return nil, err
	}

	// The first bit is the least significant of the first byte (§6.1).
	bits := make([]bool, count)
	for i := range bits {
		bits[i] = data[i/8]&(1<<(i%8)) != 0
	}
	return bits, nil
}

// read checks and runs one read request and returns its data bytes.
func (c *Client) read(ctx context.Context, slave byte, fn Function, registers bool,
	addr, count uint16) ([]byte, error) {
	kind := "bits"
	if registers {
		kind = "registers"
	}
	r, ok := functionReads[fn]
	if !ok || r.registers != registers {
		return nil, fmt.Errorf("cannot read %s as %s: %w", fn, kind, ErrInvalidRequest)
	}
	if count == 0 || count > r.maxCount || int(addr)+int(count) > 1<<16 {
		return nil, fmt.Errorf("cannot read %d %s at %d: count outside 1..%d or past 65535: %w",
			count, fn, addr, r.maxCount, ErrInvalidRequest)
	}

	data, err := c.transact(ctx, slave, func(mc goburrow.Client) ([]byte, error) {
		return r.read(mc, addr, count)
	})
	if err != nil {
		return nil, fmt.Errorf("read %d %s at %d from slave %d: %w", count, fn, addr, slave, err)
	}
	return data, nil
}

// transact runs one goburrow call on the bus once it is free.
func (c *Client) transact(ctx context.Context, slave byte,
	call func(goburrow.Client) ([]byte, error)) ([]byte, error) {
	// select picks at random when the bus is free and ctx done as well.
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	select {
	case c.busy <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("wait for the bus: %w", ctx.Err())
	}
	defer func() { <-c.busy }()

	mc := goburrow.NewClient2(c.tr.Packager(slave), boundTransport{ctx: ctx, tr: c.tr})
	data, err := call(mc)
	err = fromGoburrow(err)
	c.record(err, c.tr.Counters())
	return data, err
}

// boundTransport is a goburrow Transporter that sends with one context.
type boundTransport struct {
	ctx context.Context
	tr  Transport
}

// Send sends aduRequest with the bound context.
func (b boundTransport) Send(aduRequest []byte) ([]byte, error) {
	return b.tr.Send(b.ctx, aduRequest)
}

// record counts the outcome of one transaction.
func (c *Client) record(err error, tc TransportCounters) {
	c.statsMu.Lock()
	defer c.statsMu.Unlock()

	s := &c.stats
	s.Requests++
	s.TransportCounters = tc
	if err == nil {
		s.Replies++
		return
	}

	var exc *ExceptionError
	if errors.As(err, &exc) {
		s.Exceptions[exc.Code]++
		return
	}
	*s.errorCounter(err)++
}

// errorCounter returns the counter of err's kind.
func (s *Stats) errorCounter(err error) *uint64 {
	kinds := []struct {
		err     error
		counter *uint64
	}{
		{ErrTimeout, &s.Timeouts}, {ErrCRC, &s.CRCErrors}, {ErrShortFrame, &s.ShortFrames},
		{ErrBadFrame, &s.BadFrames}, {ErrWrongSlave, &s.WrongSlave},
		{ErrWrongFunction, &s.WrongFunction}, {ErrByteCount, &s.ByteCount},
		{ErrConnection, &s.Connection},
		{context.Canceled, &s.Canceled}, {context.DeadlineExceeded, &s.Canceled},
	}
	for _, k := range kinds {
		if errors.Is(err, k.err) {
			return k.counter
		}
	}
	return &s.Other
}

// Stats returns a snapshot of the counts; it does not wait for the bus.
func (c *Client) Stats() Stats {
	c.statsMu.Lock()
	defer c.statsMu.Unlock()

	s := c.stats
	s.Exceptions = maps.Clone(c.stats.Exceptions)
	return s
}

// Close waits for the transaction under way, if any, and closes the
// transport.
func (c *Client) Close() error {
	c.busy <- struct{}{}
	defer func() { <-c.busy }()
	return c.tr.Close()
}
