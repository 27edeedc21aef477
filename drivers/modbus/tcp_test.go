package modbus

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"
)

// TestTCPReplies checks how each kind of reply to a read of one holding
// register of unit 1, transaction id 1, ends.
func TestTCPReplies(t *testing.T) {
	const good = "00 01 00 00 00 05 01 03 02 00 2A"
	tests := []struct {
		name        string
		chunks      []string
		want        error
		wantSkipped uint64
	}{
		{"reply", []string{good}, nil, 0},
		{"reply in pieces", []string{"00 01 00", "00 00 05 01", "03 02 00 2A"}, nil, 0},
		{"silence", nil, ErrTimeout, 0},
		{"other transaction only", []string{"00 02 00 00 00 05 01 03 02 00 2A"}, ErrTimeout, 1},
		{"other protocol id first", []string{"00 01 00 01 00 05 01 03 02 00 07", good}, nil, 1},
		{"header only", []string{"00 01 00 00 00 05 01"}, ErrShortFrame, 0},
		{"length zero", []string{"00 01 00 00 00 00 01"}, ErrBadFrame, 0},
		{"length beyond a PDU", []string{"00 01 00 00 00 FF 01"}, ErrBadFrame, 0},
		{"other function", []string{"00 01 00 00 00 05 01 04 02 00 2A"}, ErrWrongFunction, 0},
		{"two registers", []string{"00 01 00 00 00 07 01 03 04 00 2A 00 2B"}, ErrByteCount, 0},
		{"byte count beyond data", []string{"00 01 00 00 00 04 01 03 02 00"}, ErrBadFrame, 0},
		{"other unit", []string{"00 01 00 00 00 05 02 03 02 00 2A"}, ErrWrongSlave, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			line := &scriptLine{}
			for _, c := range tt.chunks {
				line.chunks = append(line.chunks, wireBytes(t, c))
			}
			tr, err := NewTCP("script", line.opener(), TCPOptions{})
			if err != nil {
				t.Fatal(err)
			}

			c := NewClient(tr)
			got, err := c.ReadRegisters(context.Background(), 1, FuncHolding, 0, 1)
			if !errors.Is(err, tt.want) || (err == nil) != (tt.want == nil) {
				t.Errorf("got %v, %v; want %v", got, err, tt.want)
			}
			if err == nil && got[0] != 42 {
				t.Errorf("got %v, want [42]", got)
			}
			if s := c.Stats(); s.Skipped != tt.wantSkipped {
				t.Errorf("skipped %d frames, want %d", s.Skipped, tt.wantSkipped)
			}
		})
	}
}

func TestTCPTransactionIDsIncrease(t *testing.T) {
	line := &scriptLine{}
	tr, err := NewTCP("script", line.opener(), TCPOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c := NewClient(tr)

	for want := uint16(1); want <= 3; want++ {
		reply := wireBytes(t, "00 00 00 00 00 05 01 03 02 00 2A")
		binary.BigEndian.PutUint16(reply, want)
		line.chunks = [][]byte{reply}
		if _, err := c.ReadRegisters(context.Background(), 1, FuncHolding, 0, 1); err != nil {
			t.Fatalf("read with transaction id %d: %v", want, err)
		}
		if got := binary.BigEndian.Uint16(line.written[12*(want-1):]); got != want {
			t.Errorf("request %d has transaction id %d", want, got)
		}
	}
}

// TestTCPSlowDevice is FC-13 over Modbus TCP: the late replies to the
// requests that timed out carry their own transaction ids, so they are
// passed over and never taken as the answers to later requests.
func TestTCPSlowDevice(t *testing.T) {
	latencies := []time.Duration{450 * time.Millisecond, 520 * time.Millisecond,
		610 * time.Millisecond, 380 * time.Millisecond}
	answer := func(req []byte, i int) []byte {
		return []byte{req[0], req[1], 0, 0, 0, 5, req[6], req[7], 2, 0, byte(i + 1)}
	}
	serve := func(end io.ReadWriter) error { return serveDelayed(end, 12, latencies, answer) }

	for _, tt := range slowDeviceCases {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			opts := TCPOptions{Timeout: tt.timeout, SlaveTimeouts: tt.perSlave}
			tr := newTestTCP(t, startNetPeer(t, serve), opts)
			checkSlowDevice(t, NewClient(tr), tt.want)
		})
	}
}

// TestTCPReconnect has the server close the connection after each reply:
// the next read notices on the stale connection and is asked again on a
// new one, without an error.
func TestTCPReconnect(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	go answerOncePerConnection(l)

	addr := l.Addr().String()
	c := NewClient(newTestTCP(t, addr, TCPOptions{Timeout: time.Second}))
	for i := range 3 {
		// Let the server's close reach the client before it sends again.
		time.Sleep(20 * time.Millisecond)
		if got, err := c.ReadRegisters(context.Background(), 1, FuncHolding, 0, 1); err != nil {
			t.Fatalf("read %d: got %v, %v", i+1, got, err)
		}
	}
	if s := c.Stats(); s.Reconnects != 2 || s.Connection != 0 || s.Replies != 3 {
		t.Errorf("stats %+v, want 3 replies, 2 reconnects and no connection error", s)
	}
}

// answerOncePerConnection answers one read request on each connection
// accepted by l, then closes it.
func answerOncePerConnection(l net.Listener) {
	for {
		conn, err := l.Accept()
		if err != nil {
			return
		}
		req := make([]byte, 12)
		if _, err := io.ReadFull(conn, req); err == nil {
			_, _ = conn.Write([]byte{req[0], req[1], 0, 0, 0, 5, req[6], req[7], 2, 0, 42})
		}
		_ = conn.Close()
	}
}

// FuzzTCPResponse feeds arbitrary bytes, in chunks, as the reply to a
// read over Modbus TCP: the client must not panic or hang, and must
// return either the values asked for or one of this package's errors.
func FuzzTCPResponse(f *testing.F) {
	for _, s := range wireSeeds(f, "tcp") {
		f.Add(s.tid, s.slave, byte(s.fn), s.count, false, uint8(0), s.reply)
		f.Add(s.tid, s.slave, byte(s.fn), s.count, true, uint8(5), s.reply)
	}
	f.Fuzz(func(t *testing.T, tid uint16, unit, fn byte, count uint16, lenient bool,
		split uint8, reply []byte) {
		line := &scriptLine{chunks: fuzzChunks(reply, split)}
		tr, err := NewTCP("fuzz", line.opener(), TCPOptions{AcceptOtherUnit: lenient})
		if err != nil {
			t.Fatal(err)
		}
		tr.tid = tid - 1
		checkFuzzRead(t, NewClient(tr), unit, fn, count)
	})
}

// newTestTCP returns a Modbus TCP transport to addr, closed at the end.
func newTestTCP(t *testing.T, addr string, opts TCPOptions) *TCPTransport {
	t.Helper()
	tr, err := NewTCP(addr, TCPLine(addr), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tr.Close() })
	return tr
}

func TestOpenFailureIsConnectionError(t *testing.T) {
	t.Parallel()
	refused := func(ctx context.Context) (Line, error) { return nil, syscall.ECONNREFUSED }
	tr, err := NewTCP("refuses", refused, TCPOptions{})
	if err != nil {
		t.Fatal(err)
	}

	_, err = NewClient(tr).ReadRegisters(context.Background(), 1, FuncHolding, 0, 1)
	if !errors.Is(err, ErrConnection) || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("got %v, want ErrConnection wrapping ECONNREFUSED", err)
	}
}

func TestConnectTimeoutBounded(t *testing.T) {
	t.Parallel()
	hangs := func(ctx context.Context) (Line, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	tr, err := NewTCP("blackhole", hangs, TCPOptions{ConnectTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	_, err = NewClient(tr).ReadRegisters(context.Background(), 1, FuncHolding, 0, 1)
	if took := time.Since(start); took > time.Second {
		t.Errorf("connect took %v, want about 50ms", took)
	}
	if !errors.Is(err, ErrConnection) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v, want ErrConnection after the connect timeout", err)
	}
}
