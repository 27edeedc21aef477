package modbus

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	goburrow "github.com/goburrow/modbus"
)

// TCPOptions configure a Modbus TCP transport.
type TCPOptions struct {
	// Timeout is the response timeout, counted from writing the request.
	// Default 1 s.
	Timeout time.Duration

	// SlaveTimeouts override Timeout for single unit ids behind a gateway.
	SlaveTimeouts map[byte]time.Duration

	// ConnectTimeout bounds dialing the server. Default 5 s.
	ConnectTimeout time.Duration

	// AcceptOtherUnit takes a reply whose transaction id matches but
	// whose unit id does not, as some gateways answer for a unit other
	// than the one asked (FC-15 item 2). Off, such a reply is
	// ErrWrongSlave.
	AcceptOtherUnit bool
}

// withDefaults checks o and fills in the defaults of its zero fields.
func (o TCPOptions) withDefaults() (TCPOptions, error) {
	if o.Timeout < 0 || o.ConnectTimeout < 0 {
		return o, fmt.Errorf("TCP options %+v hold a negative value: %w", o, ErrConfig)
	}
	if err := checkSlaveTimeouts(o.SlaveTimeouts); err != nil {
		return o, err
	}
	if o.Timeout == 0 {
		o.Timeout = defaultResponseTimeout
	}
	if o.ConnectTimeout == 0 {
		o.ConnectTimeout = defaultConnectTimeout
	}
	return o, nil
}

// MBAP header, Modbus messaging on TCP/IP implementation guide V1.0b
// §3.1.3: transaction id, protocol id 0, length of what follows, unit id.
const (
	mbapHeaderLen = 7
	mbapMinLength = 2   // unit id and function code
	mbapMaxLength = 254 // unit id and a PDU of at most 253 bytes
)

// TCPTransport sends Modbus TCP (MBAP) frames over a TCP connection,
// which it opens on the first request and again after it broke.
type TCPTransport struct {
	lineKeeper
	opts     TCPOptions
	packager *goburrow.TCPClientHandler

	// tid is the transaction id of the last request. The transport owns
	// it, rather than goburrow's packager, so that replies are matched
	// against the id actually sent.
	tid uint16
}

// NewTCP returns a Modbus TCP transport that opens its connection with
// open, usually TCPLine(addr). name (the address) appears in its errors.
func NewTCP(name string, open LineOpener, opts TCPOptions) (*TCPTransport, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("cannot set up TCP bus %q: %w", name, err)
	}

	return &TCPTransport{
		lineKeeper: lineKeeper{name: name, open: open, connectTimeout: opts.ConnectTimeout},
		opts:       opts,
		// Only goburrow's MBAP framing is used: its transport never dials.
		packager: goburrow.NewTCPClientHandler(name),
	}, nil
}

// Packager returns goburrow's MBAP framing for requests to unit slave.
func (t *TCPTransport) Packager(slave byte) goburrow.Packager {
	t.packager.SlaveId = slave
	return t.packager
}

// Send stamps the next transaction id into req[0:2], writes it and
// returns the reply that carries the same id. Replies to other
// transactions, such as late ones to requests that timed out, are passed
// over while the timer keeps running (FC-13, FC-15 item 1).
func (t *TCPTransport) Send(ctx context.Context, req []byte) ([]byte, error) {
	if err := checkMBAPRequest(req); err != nil {
		return nil, fmt.Errorf("cannot send on bus %q: %w", t.name, err)
	}
	t.tid++
	binary.BigEndian.PutUint16(req, t.tid)

	reused := t.line != nil
	reply, stale, err := t.exchange(ctx, req)

	// A server or NAT may close an idle connection unseen until it is
	// used. A read changes nothing on the device, so it is asked once
	// more on a new connection.
	if stale && reused && isReadRequest(req[mbapHeaderLen:]) {
		reply, _, err = t.exchange(ctx, req)
	}
	return reply, err
}

// exchange writes req and reads its reply. stale reports a connection
// that failed before any byte of a reply came back.
func (t *TCPTransport) exchange(ctx context.Context, req []byte) (reply []byte, stale bool,
	err error) {
	line, err := t.get(ctx)
	if err != nil {
		return nil, false, err
	}

	start := time.Now()
	deadline, byCtx := replyDeadline(ctx, start, t.timeout(req[6]))
	if err := line.SetDeadline(deadline); err != nil {
		return nil, false, t.broken("set deadline", err)
	}
	stop := interruptOnCancel(ctx, line)
	defer stop()

	if err := writeAll(line, req); err != nil {
		return nil, !deadlinePassed(err), t.broken("write request", err)
	}
	t.counters.Sent++

	reply, stale, err = t.receive(ctx, line, req, byCtx)
	t.counters.WireTime += time.Since(start)
	return reply, stale, err
}

// timeout returns the response timeout for unit.
func (t *TCPTransport) timeout(unit byte) time.Duration {
	return slaveTimeout(t.opts.SlaveTimeouts, unit, t.opts.Timeout)
}

// receive reads frames until one carries req's transaction id.
func (t *TCPTransport) receive(ctx context.Context, line Line, req []byte, byCtx bool) (
	[]byte, bool, error) {
	for skipped := 0; ; skipped++ {
		frame, n, err := readMBAP(line)
		if err != nil {
			stale := skipped == 0 && n == 0 && !deadlinePassed(err)
			return nil, stale, t.readFailed(ctx, byCtx, req, n, skipped, err)
		}

		sameID := binary.BigEndian.Uint16(frame) == t.tid
		if sameID && binary.BigEndian.Uint16(frame[2:]) == 0 {
			reply, err := t.accept(req, frame)
			return reply, false, err
		}
		t.counters.Skipped++
	}
}

// readFailed explains a read that failed after n bytes of a frame, with
// skipped frames of other transactions before it.
func (t *TCPTransport) readFailed(ctx context.Context, byCtx bool, req []byte, n, skipped int,
	err error) error {
	unit := req[6]
	if errors.Is(err, ErrBadFrame) {
		// A bad length leaves no frame boundary to find again: only a new
		// connection is in step.
		t.drop()
		return fmt.Errorf("reply from unit %d on bus %q: %w", unit, t.name, err)
	}
	if !deadlinePassed(err) {
		return t.broken("read reply", err)
	}

	if n > 0 {
		t.drop() // the rest of the frame may still come
	}
	if cause := timeoutCause(ctx, byCtx); cause != ErrTimeout {
		return fmt.Errorf("reply from unit %d on bus %q: %w", unit, t.name, cause)
	}
	if n > 0 {
		return fmt.Errorf("reply from unit %d on bus %q ended after %d bytes within %v: %w",
			unit, t.name, n, t.timeout(unit), ErrShortFrame)
	}
	return fmt.Errorf("no reply from unit %d on bus %q within %v (%d other frames): %w",
		unit, t.name, t.timeout(unit), skipped, ErrTimeout)
}

// accept checks the reply frame that carries req's transaction id.
func (t *TCPTransport) accept(req, frame []byte) ([]byte, error) {
	if frame[6] != req[6] {
		if !t.opts.AcceptOtherUnit {
			return nil, fmt.Errorf("reply to unit %d on bus %q came from unit %d: %w",
				req[6], t.name, frame[6], ErrWrongSlave)
		}
		// goburrow's Verify compares unit ids; the option says that this
		// gateway's unit ids in replies are not to be trusted.
		frame[6] = req[6]
	}

	if err := checkReplyPDU(req[mbapHeaderLen:], frame[mbapHeaderLen:]); err != nil {
		return nil, fmt.Errorf("reply from unit %d on bus %q: %w", req[6], t.name, err)
	}
	return frame, nil
}

// readMBAP reads one MBAP frame from r. n counts the bytes read, also
// when it fails.
func readMBAP(r io.Reader) (frame []byte, n int, err error) {
	var head [mbapHeaderLen]byte
	n, err = io.ReadFull(r, head[:])
	if err != nil {
		return nil, n, err
	}

	length := int(binary.BigEndian.Uint16(head[4:]))
	if length < mbapMinLength || length > mbapMaxLength {
		return nil, n, fmt.Errorf("MBAP length %d outside %d..%d: %w",
			length, mbapMinLength, mbapMaxLength, ErrBadFrame)
	}

	frame = make([]byte, mbapHeaderLen-1+length)
	copy(frame, head[:])
	m, err := io.ReadFull(r, frame[mbapHeaderLen:])
	return frame, n + m, err
}

// checkMBAPRequest makes sure req is an MBAP request with a reply.
func checkMBAPRequest(req []byte) error {
	if len(req) < mbapHeaderLen+1 || len(req) > mbapHeaderLen-1+mbapMaxLength {
		return fmt.Errorf("MBAP request of %d bytes: %w", len(req), ErrInvalidRequest)
	}
	length := int(binary.BigEndian.Uint16(req[4:]))
	if binary.BigEndian.Uint16(req[2:]) != 0 || length != len(req)-mbapHeaderLen+1 {
		return fmt.Errorf("MBAP request header % x: %w", req[:mbapHeaderLen], ErrInvalidRequest)
	}
	return checkRequestPDU(req[mbapHeaderLen:])
}

// isReadRequest reports whether the request PDU only reads.
func isReadRequest(pdu []byte) bool {
	return pdu[0] >= fcReadCoils && pdu[0] <= fcReadInput
}
