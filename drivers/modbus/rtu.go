package modbus

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	goburrow "github.com/goburrow/modbus"
)

// RTUOptions configure an RTU transport.
type RTUOptions struct {
	// Baud is the bus's line rate. It times the silent interval and the
	// request's time on the wire; 0 stands for a rate above 19200 Bd.
	Baud int

	// Timeout is the response timeout, counted from the end of the
	// request on the wire. Default 1 s.
	Timeout time.Duration

	// SlaveTimeouts override Timeout for single slaves.
	SlaveTimeouts map[byte]time.Duration

	// Guard is how long the master waits before it addresses a slave
	// again after a transaction with it ended without a whole reply, so
	// that a late reply is flushed rather than taken as the answer to the
	// next request (FC-13). A request to another slave only waits the
	// silent interval: a late reply of the first slave then arrives as a
	// foreign frame and is skipped. A late reply arriving after the guard
	// is still mistaken when it has the next request's slave, function and
	// byte count, as RTU has no transaction id. Default: the failed
	// transaction's timeout, so a device as slow as twice its timeout is
	// caught.
	//
	// The master listens through a guard it waits out. A slave that sent
	// nothing, not a byte on the line, through two guards in a row is
	// dead rather than slow: its guard is then skipped when other
	// transactions came between, so that a silent slave among many costs
	// one timeout a cycle even when a cycle is shorter than the guard. It
	// is kept when the same slave is asked twice in a row. Any frame of
	// the slave, a CRC error or a short reply from it, or a reply, ends
	// that.
	Guard time.Duration

	// ConnectTimeout bounds opening the line. Default 5 s.
	ConnectTimeout time.Duration
}

// withDefaults checks o and fills in the defaults of its zero fields.
func (o RTUOptions) withDefaults() (RTUOptions, error) {
	if o.Baud < 0 || o.Timeout < 0 || o.Guard < 0 || o.ConnectTimeout < 0 {
		return o, fmt.Errorf("RTU options %+v hold a negative value: %w", o, ErrConfig)
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

// RTU frame sizes, Modbus over serial line spec V1.02 §2.5.1.
const (
	rtuMinADU = 4   // address, function code, CRC
	rtuMaxADU = 256 // address, PDU of at most 253 bytes, CRC

	// rtuScanCap is how many received bytes a transaction keeps while it
	// looks for its reply among other slaves' frames and noise.
	rtuScanCap = 4 * rtuMaxADU
)

// rtuLastUnicast is the highest slave address (serial line spec §2.2);
// address 0 is a broadcast, which no slave answers.
const rtuLastUnicast = 247

// RTUTransport sends Modbus RTU frames over a Line: a local serial port
// or a serial device server reached over TCP.
type RTUTransport struct {
	lineKeeper
	opts     RTUOptions
	packager *goburrow.RTUClientHandler

	// quietUntil is the earliest start of the next request: a silent
	// interval after the last traffic.
	quietUntil time.Time
	// guards holds the slaves whose last transaction ended without a
	// whole reply, which may still arrive late (see RTUOptions.Guard).
	guards map[byte]*slaveGuard
	// lastSlave is the slave of the last transaction, whose late reply
	// the next request to it would meet first.
	lastSlave byte
}

// NewRTU returns an RTU transport that opens its line with open on the
// first request. name (device or address) appears in its errors.
func NewRTU(name string, open LineOpener, opts RTUOptions) (*RTUTransport, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("cannot set up RTU bus %q: %w", name, err)
	}

	return &RTUTransport{
		lineKeeper: lineKeeper{name: name, open: open, connectTimeout: opts.ConnectTimeout},
		opts:       opts,
		// Only goburrow's RTU framing is used: its serial transport
		// stays closed.
		packager: goburrow.NewRTUClientHandler(name),
	}, nil
}

// Packager returns goburrow's RTU framing for requests to slave.
func (t *RTUTransport) Packager(slave byte) goburrow.Packager {
	t.packager.SlaveId = slave
	return t.packager
}

// Send writes the RTU request after the line's silent interval and
// returns the addressed slave's reply, read by its expected length.
func (t *RTUTransport) Send(ctx context.Context, req []byte) ([]byte, error) {
	if err := checkRTURequest(req); err != nil {
		return nil, fmt.Errorf("cannot send on bus %q: %w", t.name, err)
	}
	line, err := t.get(ctx)
	if err != nil {
		return nil, err
	}
	if err := t.waitQuiet(ctx, line, req[0]); err != nil {
		return nil, err
	}

	// Stray bytes: echoes of an earlier late reply or noise must not
	// prefix this reply.
	if err := line.DiscardInput(); err != nil {
		return nil, t.broken("discard input", err)
	}

	// Write returns once the driver holds the request, so the timeout
	// starts after the request's own time on the wire.
	start := time.Now()
	wait := rtuFrameTime(t.opts.Baud, len(req)) + t.timeout(req[0])
	deadline, byCtx := replyDeadline(ctx, start, wait)
	if err := line.SetDeadline(deadline); err != nil {
		return nil, t.broken("set deadline", err)
	}

	if err := writeAll(line, req); err != nil {
		return nil, t.broken("write request", err)
	}
	t.counters.Sent++
	reply, err := t.receive(ctx, line, req, byCtx)

	end := time.Now()
	t.counters.WireTime += end.Sub(start)
	t.settle(end, req[0], err)
	return reply, err
}

// timeout returns the response timeout for slave.
func (t *RTUTransport) timeout(slave byte) time.Duration {
	return slaveTimeout(t.opts.SlaveTimeouts, slave, t.opts.Timeout)
}

// receive reads until the reply to req is in, or a definite wrong
// answer, or the line's deadline passes.
func (t *RTUTransport) receive(ctx context.Context, line Line, req []byte, byCtx bool) (
	[]byte, error) {
	stop := interruptOnCancel(ctx, line)
	defer stop()

	s := newRTUScanner(req)
	for {
		n, err := line.Read(s.space())
		reply, found := s.grow(n)
		if found != nil {
			return nil, t.wrap(req, found)
		}
		if reply != nil {
			t.countTraffic(s.buf[s.head:s.at], s.dropped, s.echoed)
			return reply, nil
		}

		switch {
		case deadlinePassed(err):
			t.countTraffic(s.buf[s.head:], s.dropped, s.echoed)
			return nil, t.noReply(ctx, byCtx, req, s)
		case err != nil:
			return nil, t.broken("read reply", err)
		}
	}
}

// rtuScanner looks for the addressed slave's reply among the bytes
// received since the request. Frames of other slaves before the reply
// are passed over and the timer keeps running (serial line spec V1.02
// §2.4.1, FC-15 item 3); a reply split across reads is waited for whole
// (FC-10). It judges each byte offset once, and a candidate frame's CRC
// once it is whole, so that a flood of noise costs linear time.
//
// A 2-wire adapter that hears its own transmitter echoes the request
// before the reply; the scanner passes over the echo at the head.
type rtuScanner struct {
	req     []byte
	buf     []byte // bytes received, in a buffer of rtuScanCap
	next    int    // first offset of buf not judged yet
	waiting []int  // offsets of candidate frames not yet whole
	dropped int    // noise dropped from the front of buf
	at      int    // offset of the reply, once found

	// head is where the reply starts when nothing else precedes it: 0,
	// or after the echo of the request.
	head     int
	echoable bool // the request cannot be read as its own reply
	echoed   bool // the echo of the request was passed over
}

func newRTUScanner(req []byte) *rtuScanner {
	pdu := req[1 : len(req)-2]
	return &rtuScanner{req: req, buf: make([]byte, 0, rtuScanCap),
		echoable: checkReplyPDU(pdu, pdu) != nil}
}

// space is where the next Read puts its bytes.
func (s *rtuScanner) space() []byte { return s.buf[len(s.buf):cap(s.buf)] }

// grow takes the n bytes read into space. It returns the reply, or found,
// a definite wrong answer, or neither while it needs more bytes.
func (s *rtuScanner) grow(n int) (reply []byte, found error) {
	s.buf = s.buf[:len(s.buf)+n]
	s.skipEcho()

	// Candidates waiting for their rest lie before the new offsets.
	still := s.waiting[:0]
	for _, i := range s.waiting {
		size, err := s.judge(i)
		if size != 0 || err != nil {
			return s.verdict(i, size, err)
		}
		if s.incomplete(i) {
			still = append(still, i)
		}
	}
	s.waiting = still

	for ; s.next+1 < len(s.buf); s.next++ {
		size, err := s.judge(s.next)
		if size != 0 || err != nil {
			return s.verdict(s.next, size, err)
		}
		if s.incomplete(s.next) {
			s.waiting = append(s.waiting, s.next)
		}
	}
	s.trim()
	return nil, nil
}

// skipEcho passes over the request's echo at the head of the buffer. A
// read reply never equals its request, as its byte count cannot be the
// request's address; a write reply may, and is then taken as the reply.
func (s *rtuScanner) skipEcho() {
	n := len(s.req)
	if !s.echoable || s.echoed || s.dropped != 0 || len(s.buf) < n ||
		!bytes.Equal(s.buf[:n], s.req) {
		return
	}
	s.head, s.echoed = n, true
	s.next = max(s.next, n)
	s.waiting = slices.DeleteFunc(s.waiting, func(i int) bool { return i < n })
}

// verdict returns what judge found at offset i.
func (s *rtuScanner) verdict(i, size int, err error) ([]byte, error) {
	if err != nil {
		return nil, err
	}
	s.at = i
	return s.buf[i : i+size : i+size], nil
}

// judge returns the size of the reply that starts at offset i, or a
// definite wrong answer there, or neither.
func (s *rtuScanner) judge(i int) (size int, found error) {
	b := s.buf[i:]
	n := rtuFrameLen(b)
	if b[0] != s.req[0] || n <= 0 || n > len(b) {
		return 0, nil
	}

	// A wrong answer is definite only at the head, where it cannot be the
	// tail of another frame that happens to hold this slave's address.
	atHead := i == s.head && s.dropped == 0
	frame := b[:n]
	if !rtuCRCValid(frame) {
		if atHead && s.mayAnswer(frame) {
			return 0, ErrCRC
		}
		return 0, nil
	}

	err := checkReplyPDU(s.req[1:len(s.req)-2], frame[1:n-2])
	switch {
	case err == nil:
		return n, nil
	case atHead:
		return 0, err
	}
	return 0, nil
}

// mayAnswer reports whether frame, its CRC aside, has the form of an
// answer to the request: its function code, or the exception form, and
// for a read the byte count the request asks for. Only such a frame with
// a bad CRC is a corrupted reply; one with another byte count, such as
// the 0 of an echoed read request cut short, is something else.
func (s *rtuScanner) mayAnswer(frame []byte) bool {
	switch fc := frame[1]; {
	case fc == s.req[1]|fcExceptionBit:
		return true
	case fc != s.req[1]:
		return false
	}
	want, read := readByteCount(s.req[1 : len(s.req)-2])
	return !read || int(frame[2]) == want
}

// incomplete reports whether a frame of the addressed slave may start at
// offset i once more bytes are in.
func (s *rtuScanner) incomplete(i int) bool {
	b := s.buf[i:]
	n := rtuFrameLen(b)
	return b[0] == s.req[0] && (n == 0 || n > len(b))
}

// trim drops all but the last rtuMaxADU bytes once the buffer is full. A
// frame whose start it drops would be whole, and judged, already.
func (s *rtuScanner) trim() {
	if len(s.buf) < cap(s.buf) {
		return
	}

	drop := len(s.buf) - rtuMaxADU
	s.buf = s.buf[:copy(s.buf, s.buf[drop:])]
	s.next -= drop
	s.head = max(0, s.head-drop)
	s.dropped += drop
	for k := range s.waiting {
		s.waiting[k] -= drop
	}
}

// noReply explains a transaction that reached its deadline with what s
// holds.
func (t *RTUTransport) noReply(ctx context.Context, byCtx bool, req []byte, s *rtuScanner) error {
	if cause := timeoutCause(ctx, byCtx); cause != ErrTimeout {
		return fmt.Errorf("reply from slave %d on bus %q: %w", req[0], t.name, cause)
	}

	// The first frame that looks like the reply tells what went wrong.
	buf := s.buf[s.head:]
	at, n := rtuOwnHeader(req, buf)
	switch {
	case at < 0:
	case n <= 0 || len(buf)-at < n:
		return fmt.Errorf("reply from slave %d on bus %q ended after %d bytes within %v: %w",
			req[0], t.name, len(buf)-at, t.timeout(req[0]), ErrShortFrame)
	case !rtuCRCValid(buf[at : at+n]):
		return t.wrap(req, ErrCRC)
	default:
		if err := checkReplyPDU(req[1:len(req)-2], buf[at+1:at+n-2]); err != nil {
			return t.wrap(req, err)
		}
	}
	return fmt.Errorf("no reply from slave %d on bus %q within %v (%d other bytes): %w",
		req[0], t.name, t.timeout(req[0]), s.dropped+len(buf), ErrTimeout)
}

// rtuOwnHeader returns where the first frame with req's slave and
// function code (or its exception form) begins in buf, or -1, and the
// frame's length as rtuFrameLen tells it.
func rtuOwnHeader(req, buf []byte) (at, n int) {
	for i := 0; i+1 < len(buf); i++ {
		if buf[i] == req[0] && buf[i+1]&^fcExceptionBit == req[1] {
			return i, rtuFrameLen(buf[i:])
		}
	}
	return -1, 0
}

// wrap names the bus and slave in a reply error.
func (t *RTUTransport) wrap(req []byte, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("reply from slave %d on bus %q: %w", req[0], t.name, err)
}

// countTraffic counts the other slaves' frames and loose bytes in b,
// the dropped bytes as loose, and an echo of the request.
func (t *RTUTransport) countTraffic(b []byte, dropped int, echoed bool) {
	if echoed {
		t.counters.Echoes++
	}
	t.counters.StrayBytes += uint64(dropped)
	for i := 0; i < len(b); {
		n := rtuFrameLen(b[i:])
		if n > 0 && n <= len(b)-i && rtuCRCValid(b[i:i+n]) {
			t.counters.Skipped++
			t.heard(b[i])
			i += n
			continue
		}
		t.counters.StrayBytes++
		i++
	}
}

// lateReplyPossible reports whether a transaction that failed with err
// may still see its reply, or the rest of it, arrive.
func lateReplyPossible(err error) bool {
	for _, e := range []error{ErrTimeout, ErrShortFrame, ErrCRC,
		context.Canceled, context.DeadlineExceeded} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// checkRTURequest makes sure req is an RTU request with a reply.
func checkRTURequest(req []byte) error {
	if len(req) < rtuMinADU || len(req) > rtuMaxADU {
		return fmt.Errorf("RTU request of %d bytes: %w", len(req), ErrInvalidRequest)
	}
	if req[0] == 0 || req[0] > rtuLastUnicast {
		return fmt.Errorf("slave address %d outside 1..%d: %w", req[0], rtuLastUnicast,
			ErrInvalidRequest)
	}
	return checkRequestPDU(req[1 : len(req)-2])
}

// rtuFrameLen returns the length of the RTU reply frame that begins b: 0
// when b is too short to tell, -1 when b begins no reply frame.
func rtuFrameLen(b []byte) int {
	if len(b) < 2 {
		return 0
	}
	n := pduLen(b[1:])
	if n <= 0 {
		return n
	}
	if n+3 > rtuMaxADU {
		return -1
	}
	return n + 3
}

// rtuSilence is t3.5, the silent interval that ends an RTU frame: 3.5
// characters of 11 bits, fixed at 1.75 ms above 19200 Bd (serial line
// spec V1.02 §2.5.1.1).
func rtuSilence(baud int) time.Duration {
	if baud <= 0 || baud > 19200 {
		return 1750 * time.Microsecond
	}
	return time.Duration(35*11) * time.Second / time.Duration(10*baud)
}

// rtuFrameTime is how long n characters of 11 bits take on the wire;
// 0 when the rate is unknown.
func rtuFrameTime(baud, n int) time.Duration {
	if baud <= 0 {
		return 0
	}
	return time.Duration(n*11) * time.Second / time.Duration(baud)
}

// rtuCRCTable holds CRC-16/MODBUS (reflected polynomial 0xA001) for each
// byte value (serial line spec V1.02 §6.2.2).
var rtuCRCTable = func() (table [256]uint16) {
	for i := range table {
		crc := uint16(i)
		for range 8 {
			if crc&1 != 0 {
				crc = crc>>1 ^ 0xA001
			} else {
				crc >>= 1
			}
		}
		table[i] = crc
	}
	return table
}()

// CRC16 returns the CRC-16/MODBUS of b: polynomial 0x8005 reflected
// (0xA001), preset 0xFFFF, as Modbus over Serial Line V1.02 §6.2.2
// computes it. An RTU frame carries it after its PDU, low byte first
// (§2.5.1.2).
func CRC16(b []byte) uint16 {
	crc := uint16(0xFFFF)
	for _, c := range b {
		crc = crc>>8 ^ rtuCRCTable[byte(crc)^c]
	}
	return crc
}

// rtuCRCValid reports whether frame ends in the CRC of the rest, low
// byte first (serial line spec V1.02 §2.5.1.2).
func rtuCRCValid(frame []byte) bool {
	n := len(frame)
	if n < rtuMinADU {
		return false
	}
	crc := CRC16(frame[:n-2])
	return frame[n-2] == byte(crc) && frame[n-1] == byte(crc>>8)
}
