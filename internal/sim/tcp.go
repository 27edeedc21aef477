package sim

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// mbapSize is the MBAP header: transaction id, protocol id, length and
// unit id (Modbus Messaging on TCP/IP Implementation Guide V1.0b §3.1.3).
const mbapSize = 7

// maxMBAPLength is the largest length field: the unit id and a PDU of at
// most 253 bytes (Implementation Guide §3.1.3, Application Protocol §4.1).
const maxMBAPLength = 254

// TCPConfig configures ServeTCP.
type TCPConfig struct {
	// Addr is the address to listen on; "127.0.0.1:0" picks a free port.
	Addr string

	// Turnaround is how long the device takes to answer a request.
	Turnaround time.Duration

	// NoDevice is the exception answered for unit ids with no device, as
	// a gateway answers (modbus.GatewayPathUnavailable or
	// GatewayTargetFailedToRespond). Zero leaves such requests
	// unanswered, as a TCP meter that ignores other units does.
	NoDevice Exception
}

// TCPServer answers Modbus TCP for a Units table on a listener. It
// serves many connections at once; each connection's requests are
// answered one at a time, in order, with the request's transaction id.
// TODO: unit ids 0 and 255, with which the Implementation Guide (§4.4.2)
// lets a client address a TCP device itself, reach no device yet.
type TCPServer struct {
	units *Units
	cfg   TCPConfig
	ln    net.Listener
	stats counters

	done    chan struct{}
	wg      sync.WaitGroup
	once    sync.Once
	stopCtx func() bool

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
}

// ServeTCP listens on cfg.Addr and serves units until ctx ends or Close
// is called.
func ServeTCP(ctx context.Context, units *Units, cfg TCPConfig) (*TCPServer, error) {
	if cfg.Turnaround < 0 {
		return nil, fmt.Errorf("cannot serve TCP on %q with turnaround %s: %w",
			cfg.Addr, cfg.Turnaround, ErrInvalidConfig)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("cannot serve TCP on %q: %w", cfg.Addr, err)
	}

	s := &TCPServer{
		units: units, cfg: cfg, ln: ln,
		done: make(chan struct{}), conns: map[net.Conn]struct{}{},
	}
	s.wg.Add(1)
	go func() { defer s.wg.Done(); s.accept() }()
	s.stopCtx = context.AfterFunc(ctx, func() { _ = s.Close() })
	return s, nil
}

// Addr returns the address the server listens on, host:port.
func (s *TCPServer) Addr() string { return s.ln.Addr().String() }

// Stats returns what the server counted so far.
func (s *TCPServer) Stats() Stats { return s.stats.snapshot() }

// Close stops the server: it closes the listener and every connection
// and waits for their goroutines.
func (s *TCPServer) Close() error {
	var err error
	s.once.Do(func() {
		s.stopCtx()
		close(s.done)
		err = s.ln.Close()

		s.mu.Lock()
		s.closed = true
		for c := range s.conns {
			_ = c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return err
}

// accept serves each connection in a goroutine of its own until the
// listener is closed.
func (s *TCPServer) accept() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		if !s.track(c, true) {
			_ = c.Close()
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer s.track(c, false)
			s.serveConn(c)
		}()
	}
}

// track adds c to the open connections, or removes it. It reports false
// when the server is closing and c must not be served.
func (s *TCPServer) track(c net.Conn, open bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !open {
		delete(s.conns, c)
		return true
	}
	if s.closed {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

// serveConn reads requests from c and answers them until c fails or
// sends a header that is not Modbus, which ends the connection.
func (s *TCPServer) serveConn(c net.Conn) {
	defer c.Close()
	head := make([]byte, mbapSize)
	for {
		if _, err := io.ReadFull(c, head); err != nil {
			return
		}
		n := int(binary.BigEndian.Uint16(head[4:]))
		// §3.1.3: protocol id 0 is Modbus; the length counts the unit id
		// and the PDU, which has at least a function code.
		if binary.BigEndian.Uint16(head[2:]) != 0 || n < 2 || n > maxMBAPLength {
			return
		}
		req := make([]byte, n-1)
		if _, err := io.ReadFull(c, req); err != nil {
			return
		}
		if !s.answer(c, binary.BigEndian.Uint16(head), head[6], req) {
			return
		}
	}
}

// answer handles one request; it reports false when the connection is
// gone or the server is closing.
func (s *TCPServer) answer(c net.Conn, tid uint16, unit byte, req []byte) bool {
	r, ok := s.units.handle(unit, req)
	if ok {
		s.stats.reply(unit, r, 0)
	} else {
		s.stats.add(func(st *Stats) { st.NoDevice++ })
		if s.cfg.NoDevice != 0 {
			r = reply{pdu: exceptionPDU(Function(req[0]), s.cfg.NoDevice)}
		}
	}
	if r.pdu == nil {
		return true
	}
	if !sleepUntil(s.done, time.Now().Add(s.cfg.Turnaround+r.latency)) {
		return false
	}
	return s.send(c, tid, unit, r) == nil
}

// send writes the reply r of unit under transaction id tid, after the
// extra frames its faults ask for, in the chunks they ask for.
func (s *TCPServer) send(c net.Conn, tid uint16, unit byte, r reply) error {
	var extra []byte
	if r.staleTID {
		extra = appendMBAP(extra, tid-1, unit, r.pdu)
	}
	if r.foreign != 0 {
		extra = appendMBAP(extra, tid, r.foreign, r.pdu)
	}
	if len(extra) > 0 {
		if _, err := c.Write(extra); err != nil {
			return err
		}
	}

	for i, piece := range split(appendMBAP(nil, tid, unit, r.pdu), r.chunks) {
		if i > 0 && !sleepUntil(s.done, time.Now().Add(r.gap)) {
			return net.ErrClosed
		}
		if _, err := c.Write(piece); err != nil {
			return err
		}
	}
	return nil
}

// appendMBAP appends to b the ADU of pdu from unit under transaction id
// tid (Implementation Guide §3.1.3).
func appendMBAP(b []byte, tid uint16, unit byte, pdu []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, tid)
	b = binary.BigEndian.AppendUint16(b, 0)
	b = binary.BigEndian.AppendUint16(b, uint16(len(pdu)+1))
	b = append(b, unit)
	return append(b, pdu...)
}
