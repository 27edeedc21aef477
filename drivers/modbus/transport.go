package modbus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	goburrow "github.com/goburrow/modbus"
)

// Transport carries one framed Modbus request and its reply at a time.
// goburrow's client encodes the request with Packager and decodes what
// Send returns; Send itself owns the wire: timing, reassembly and the
// checks that make sure the reply answers this very request.
//
// A Transport is not safe for concurrent use; a Client serialises the
// transactions of one bus.
type Transport interface {
	// Packager returns the framing for a request to slave (unit id).
	Packager(slave byte) goburrow.Packager

	// Send writes request and returns the frame that answers it, or an
	// error wrapping one of this package's sentinels.
	Send(ctx context.Context, request []byte) ([]byte, error)

	// Counters returns what the transport has counted so far.
	Counters() TransportCounters

	// Close closes the line; Send fails with ErrClosed afterwards.
	Close() error
}

// TransportCounters are the wire-level counts of a transport. The error
// kinds of whole transactions are counted by the Client, in Stats.
type TransportCounters struct {
	Sent       uint64 // requests written to the line
	Skipped    uint64 // whole frames passed over: other slaves, other transaction ids
	StrayBytes uint64 // received bytes that formed no frame
	Echoes     uint64 // RTU requests heard back before their reply, from 2-wire adapters
	Reconnects uint64 // lines opened again after the first

	// WireTime sums, over all requests, the time from writing the request
	// until its reply was in or the transaction gave up: the time the bus
	// was held. Divided by elapsed time it gives the bus's utilisation.
	WireTime time.Duration
}

// Line is a byte stream to a bus: a local serial port, or a TCP
// connection to a Modbus TCP server or to a serial device server.
type Line interface {
	io.ReadWriteCloser

	// SetDeadline bounds the pending and future Reads and Writes; once it
	// passes they fail with an error wrapping os.ErrDeadlineExceeded.
	SetDeadline(t time.Time) error

	// DiscardInput drops the bytes received and not yet read.
	DiscardInput() error
}

// LineOpener opens a Line. A transport opens its line on the first
// request and again after the line broke; ctx bounds the opening.
type LineOpener func(ctx context.Context) (Line, error)

// TCPLine returns an opener of TCP connections to addr (host:port): a
// Modbus TCP server, or a serial device server for RTU over TCP.
func TCPLine(addr string) LineOpener {
	return func(ctx context.Context) (Line, error) {
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, err
		}
		return netLine{conn}, nil
	}
}

// netLine is a Line over a TCP connection.
type netLine struct{ net.Conn }

// netDrainWait is how long DiscardInput waits for bytes already in the
// socket: a deadline in the past fails a Read without trying it.
const netDrainWait = 200 * time.Microsecond

// netDrainMax bounds DiscardInput on a peer that never stops sending.
const netDrainMax = 16 << 10

// DiscardInput reads and drops what the socket holds.
func (l netLine) DiscardInput() error {
	var sink [256]byte
	for drained := 0; drained < netDrainMax; {
		if err := l.SetReadDeadline(time.Now().Add(netDrainWait)); err != nil {
			return err
		}

		n, err := l.Read(sink[:])
		drained += n
		if deadlinePassed(err) {
			return nil
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// writeAll writes req whole: a frame written in part is no frame.
func writeAll(line Line, req []byte) error {
	n, err := line.Write(req)
	if err == nil && n < len(req) {
		err = io.ErrShortWrite
	}
	return err
}

// deadlinePassed reports whether err is a read or write deadline passing.
func deadlinePassed(err error) bool {
	return errors.Is(err, os.ErrDeadlineExceeded)
}

// Defaults of the transport options.
const (
	// defaultResponseTimeout is the response timeout. libmodbus's 500 ms proved
	// too short for slow inverters (FC-13); a second reads them all.
	defaultResponseTimeout = time.Second

	// defaultConnectTimeout bounds opening a port or dialing a gateway.
	defaultConnectTimeout = 5 * time.Second
)

// slaveTimeout returns the response timeout for slave: its entry in
// perSlave, or def. A slow device gets its own timeout without slowing
// the detection of dead ones on the same bus (FC-13).
func slaveTimeout(perSlave map[byte]time.Duration, slave byte, def time.Duration) time.Duration {
	if d := perSlave[slave]; d > 0 {
		return d
	}
	return def
}

// checkSlaveTimeouts refuses negative per-slave timeouts.
func checkSlaveTimeouts(perSlave map[byte]time.Duration) error {
	for slave, d := range perSlave {
		if d < 0 {
			return fmt.Errorf("timeout %v of slave %d is negative: %w", d, slave, ErrConfig)
		}
	}
	return nil
}

// lineKeeper opens a transport's line when needed and drops it when it
// broke, so that the next request opens it again.
type lineKeeper struct {
	name           string // device or address, for error messages
	open           LineOpener
	connectTimeout time.Duration

	line     Line
	opened   bool // a line was opened before: opening again is a reconnect
	closed   bool
	counters TransportCounters
}

// get returns the open line, opening it when there is none.
func (k *lineKeeper) get(ctx context.Context) (Line, error) {
	if k.closed {
		return nil, fmt.Errorf("bus %q: %w", k.name, ErrClosed)
	}
	if k.line != nil {
		return k.line, nil
	}

	ctx, cancel := context.WithTimeout(ctx, k.connectTimeout)
	defer cancel()
	line, err := k.open(ctx)
	if err != nil {
		return nil, fmt.Errorf("cannot open bus %q: %w: %w", k.name, ErrConnection, err)
	}

	if k.opened {
		k.counters.Reconnects++
	}
	k.line, k.opened = line, true
	return line, nil
}

// broken drops the line after err and returns err as a connection error.
func (k *lineKeeper) broken(what string, err error) error {
	k.drop()
	return fmt.Errorf("cannot %s on bus %q: %w: %w", what, k.name, ErrConnection, err)
}

// drop closes the line; the next get opens it again.
func (k *lineKeeper) drop() {
	if k.line != nil {
		_ = k.line.Close()
		k.line = nil
	}
}

// Counters returns what the transport has counted so far.
func (k *lineKeeper) Counters() TransportCounters { return k.counters }

// Close closes the line for good.
func (k *lineKeeper) Close() error {
	k.closed = true
	if k.line == nil {
		return nil
	}
	err := k.line.Close()
	k.line = nil
	return err
}

// replyDeadline is when a transaction begun at start gives up: after the
// response timeout, or earlier when ctx ends first (byCtx).
func replyDeadline(ctx context.Context, start time.Time, timeout time.Duration) (
	deadline time.Time, byCtx bool) {
	deadline = start.Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		return d, true
	}
	return deadline, false
}

// interruptOnCancel makes line's pending Read fail when ctx is cancelled.
// The returned stop must be called before the line is used again: it
// waits for an interruption already under way, so that it cannot undo
// the deadline of the next transaction.
func interruptOnCancel(ctx context.Context, line Line) (stop func()) {
	done := make(chan struct{})
	stopAfter := context.AfterFunc(ctx, func() {
		defer close(done)
		_ = line.SetDeadline(time.Unix(1, 0))
	})
	return func() {
		if !stopAfter() {
			<-done
		}
	}
}

// timeoutCause returns what ended a transaction at its deadline: ctx,
// when it ended or set the deadline, or else the response timeout.
func timeoutCause(ctx context.Context, byCtx bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if byCtx {
		return context.DeadlineExceeded
	}
	return ErrTimeout
}

// Function codes whose replies the transports can frame, with the reply
// PDU length rules of the application protocol V1.1b3 §6.
const (
	fcReadCoils          = 1
	fcReadDiscrete       = 2
	fcReadHolding        = 3
	fcReadInput          = 4
	fcWriteCoil          = 5
	fcWriteRegister      = 6
	fcWriteCoils         = 15
	fcWriteRegisters     = 16
	fcMaskWriteRegister  = 22
	fcReadWriteRegisters = 23

	// fcExceptionBit marks an exception reply (§7).
	fcExceptionBit = 0x80
)

// pduLen returns the length of the reply PDU that begins pdu, function
// code first: 0 when pdu is too short to tell, -1 when the function code
// is not one whose reply length is known.
func pduLen(pdu []byte) int {
	if len(pdu) < 1 {
		return 0
	}

	switch fc := pdu[0]; {
	case fc&fcExceptionBit != 0:
		return 2 // function code and exception code (§7)
	case fc == fcReadCoils || fc == fcReadDiscrete || fc == fcReadHolding ||
		fc == fcReadInput || fc == fcReadWriteRegisters:
		if len(pdu) < 2 {
			return 0
		}
		return 2 + int(pdu[1]) // function code, byte count, data (§6.1–6.4, §6.17)
	case fc == fcWriteCoil || fc == fcWriteRegister || fc == fcWriteCoils ||
		fc == fcWriteRegisters:
		return 5 // echo of address and value or quantity (§6.5, 6.6, 6.11, 6.12)
	case fc == fcMaskWriteRegister:
		return 7 // echo of address and both masks (§6.16)
	}
	return -1
}

// readByteCount returns the byte count a reply to the read request PDU
// must carry (§6.1–6.4, §6.17), and false for a request that reads nothing.
func readByteCount(req []byte) (int, bool) {
	if len(req) < 5 {
		return 0, false
	}

	qty := int(req[3])<<8 | int(req[4])
	switch req[0] {
	case fcReadCoils, fcReadDiscrete:
		return (qty + 7) / 8, true
	case fcReadHolding, fcReadInput, fcReadWriteRegisters:
		return 2 * qty, true
	}
	return 0, false
}

// checkRequestPDU makes sure a transport can frame the reply to req.
// Every such request carries at least an address and a quantity or value.
func checkRequestPDU(req []byte) error {
	known := len(req) > 0 && req[0]&fcExceptionBit == 0 && pduLen(req[:1]) >= 0
	if !known {
		return fmt.Errorf("request PDU % x has no function code with a known reply: %w",
			req, ErrInvalidRequest)
	}
	if len(req) < 5 {
		return fmt.Errorf("request PDU % x is shorter than 5 bytes: %w", req, ErrInvalidRequest)
	}
	return nil
}

// checkReplyPDU makes sure reply answers req: the same function code or
// its exception form (§7), whole, and for a read the byte count the
// requested quantity asks for.
func checkReplyPDU(req, reply []byte) error {
	fc := req[0]
	switch {
	case len(reply) == 0:
		return fmt.Errorf("empty reply PDU: %w", ErrShortFrame)
	case reply[0] == fc|fcExceptionBit && len(reply) == 2:
		return nil // goburrow turns it into an exception error
	case reply[0] != fc && reply[0] != fc|fcExceptionBit:
		return fmt.Errorf("function %d in reply to function %d: %w",
			reply[0], fc, ErrWrongFunction)
	}

	if n := pduLen(reply); n != len(reply) {
		return fmt.Errorf("reply PDU of %d bytes announces %d: %w", len(reply), n, ErrBadFrame)
	}
	if want, ok := readByteCount(req); ok && int(reply[1]) != want {
		return fmt.Errorf("byte count %d in reply, want %d: %w", reply[1], want, ErrByteCount)
	}
	return nil
}
