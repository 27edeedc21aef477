package modbus

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// wireBytes decodes space-separated hex, failing t on a typo.
func wireBytes(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

func TestRTUSilence(t *testing.T) {
	tests := []struct {
		baud int
		want time.Duration
	}{
		{1200, 32083333 * time.Nanosecond},
		{9600, 4010416 * time.Nanosecond},
		{19200, 2005208 * time.Nanosecond},
		{38400, 1750 * time.Microsecond}, // fixed above 19200 Bd, §2.5.1.1
		{115200, 1750 * time.Microsecond},
		{0, 1750 * time.Microsecond},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d Bd", tt.baud), func(t *testing.T) {
			if got := rtuSilence(tt.baud); got != tt.want {
				t.Errorf("rtuSilence(%d) = %v, want %v", tt.baud, got, tt.want)
			}
		})
	}
}

// TestRTUCRC checks the CRC on frames whose CRC the field cases give.
func TestRTUCRC(t *testing.T) {
	tests := []struct{ name, frame string }{
		{"FC-10 request", "0B 03 40 00 00 20 51 78"},
		{"FC-10 reply", "26 04 04 14 8E 27 10 D3 61"},
		{"FC-12 request", "CA 03 00 00 00 01 94 71"},
		{"FC-12 exception", "CA 83 02 B1 0F"},
		{"FC-12 control", "C9 03 02 00 DC 58 0D"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			frame := wireBytes(t, tt.frame)
			if !rtuCRCValid(frame) {
				t.Errorf("CRC of % X is %04X, not valid", frame, CRC16(frame[:len(frame)-2]))
			}
			frame[len(frame)-1] ^= 1
			if rtuCRCValid(frame) {
				t.Errorf("corrupted frame % X passes", frame)
			}
		})
	}
}

func TestRTUScanner(t *testing.T) {
	const (
		req     = "01 03 00 00 00 01 84 0A" // slave 1, FC3, 1 register at 0
		own     = "01 03 02 00 2A 39 9B"
		foreign = "02 03 02 12 34 F1 33"
	)
	tests := []struct {
		name     string
		buf      string
		head     bool
		wantAt   int
		wantSize int
		wantErr  error
	}{
		{"nothing yet", "", true, 0, 0, nil},
		{"whole reply", own, true, 0, 7, nil},
		{"reply without its CRC yet", "01 03 02 00 2A", true, 0, 0, nil},
		{"exception", rtuSealed(t, "01 83 02"), true, 0, 5, nil},
		{"other slave first (FC-15.3)", foreign + own, true, 7, 7, nil},
		{"other slave only", foreign, true, 0, 0, nil},
		{"noise first", "FF 00" + own, true, 2, 7, nil},
		{"bad CRC at head", "01 03 02 00 2A 39 9C", true, 0, 0, ErrCRC},
		{"bad CRC after other slave", foreign + "01 03 02 00 2A 39 9C", true, 0, 0, nil},
		{"bad CRC at head of a trimmed buffer", "01 03 02 00 2A 39 9C", false, 0, 0, nil},
		{"other function at head", rtuSealed(t, "01 04 02 00 2A"), true, 0, 0, ErrWrongFunction},
		{"byte count at head", rtuSealed(t, "01 03 04 00 2A 00 2B"), true, 0, 0, ErrByteCount},
		{"echo of the request first", req + own, true, 8, 7, nil},
		{"echo, bad CRC after it", req + "01 03 02 00 2A 39 9C", true, 0, 0, ErrCRC},
		{"echo cut short", "01 03 00 00 00 01", true, 0, 0, nil},
		{"bad CRC, byte count that answers nothing", "01 03 00 00 00 01 84 0B", true, 0, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			buf := wireBytes(t, tt.buf)
			s := newRTUScanner(wireBytes(t, req))
			if !tt.head {
				s.dropped = 1
			}
			reply, err := s.grow(copy(s.space(), buf))
			at, size := s.at, len(reply)
			if at != tt.wantAt || size != tt.wantSize || !errors.Is(err, tt.wantErr) ||
				(err == nil) != (tt.wantErr == nil) {
				t.Errorf("scan of % X = %d, %d, %v; want %d, %d, %v", buf, at, size, err,
					tt.wantAt, tt.wantSize, tt.wantErr)
			}
		})
	}
}

// rtuSealed returns the hex frame s with its CRC appended.
func rtuSealed(t testing.TB, s string) string {
	crc := CRC16(wireBytes(t, s))
	return fmt.Sprintf("%s %02X %02X", s, byte(crc), byte(crc>>8))
}

// TestRTUIncompleteReplies checks how a transaction that reaches its
// deadline is explained, from what came before it.
func TestRTUIncompleteReplies(t *testing.T) {
	tests := []struct {
		name        string
		chunks      []string
		want        error
		wantSkipped uint64
	}{
		{"silence", nil, ErrTimeout, 0},
		{"other slave only (FC-15.3)", []string{"02 03 02 12 34 F1 33"}, ErrTimeout, 1},
		{"reply cut short", []string{"01 03 02", "00"}, ErrShortFrame, 0},
		{"bad CRC after other slave", []string{"02 03 02 12 34 F1 33", "01 03 02 00 2A 39 9C"},
			ErrCRC, 1},
		{"noise", []string{"FF FE FD"}, ErrTimeout, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := scriptClient(t, tt.chunks...)
			got, err := c.ReadRegisters(context.Background(), 1, FuncHolding, 0, 1)
			if !errors.Is(err, tt.want) {
				t.Errorf("got %v, %v; want %v", got, err, tt.want)
			}
			if s := c.Stats(); s.Skipped != tt.wantSkipped {
				t.Errorf("skipped %d frames, want %d", s.Skipped, tt.wantSkipped)
			}
		})
	}
}

// scriptClient returns a client of an RTU transport whose line delivers
// chunks, hex bytes, one per read.
func scriptClient(t *testing.T, chunks ...string) *Client {
	t.Helper()
	line := &scriptLine{}
	for _, c := range chunks {
		line.chunks = append(line.chunks, wireBytes(t, c))
	}
	tr, err := NewRTU("script", line.opener(), RTUOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return NewClient(tr)
}

// TestRTUEcho reads through a 2-wire adapter that echoes the request
// and checks that the echo is counted and is no stray traffic.
func TestRTUEcho(t *testing.T) {
	const req = "01 03 00 00 00 02 C4 0B"
	tests := []struct {
		name   string
		chunks []string
	}{
		{"echo then reply", []string{req, "01 03 04 12 34 56 78 81 07"}},
		{"echo in pieces", []string{"01 03 00", "00 00 02", "C4 0B 01 03", "04 12 34 56 78 81 07"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := scriptClient(t, tt.chunks...)
			got, err := c.ReadRegisters(context.Background(), 1, FuncHolding, 0, 2)
			if err != nil || !slices.Equal(got, []uint16{0x1234, 0x5678}) {
				t.Errorf("got %04X, %v; want [1234 5678]", got, err)
			}
			s := c.Stats()
			if s.Echoes != 1 || s.StrayBytes != 0 || s.Skipped != 0 || s.CRCErrors != 0 {
				t.Errorf("counted %d echoes, %d stray bytes, %d skipped, %d CRC errors; "+
					"want 1, 0, 0, 0", s.Echoes, s.StrayBytes, s.Skipped, s.CRCErrors)
			}
		})
	}
}

func TestRTURejectsSlaveAddress(t *testing.T) {
	for _, slave := range []byte{0, 248, 255} {
		t.Run(fmt.Sprintf("slave %d", slave), func(t *testing.T) {
			line := &scriptLine{}
			tr, err := NewRTU("script", line.opener(), RTUOptions{})
			if err != nil {
				t.Fatal(err)
			}
			_, err = NewClient(tr).ReadRegisters(context.Background(), slave, FuncHolding, 0, 1)
			if !errors.Is(err, ErrInvalidRequest) || len(line.written) > 0 {
				t.Errorf("got %v after writing % X; want ErrInvalidRequest, nothing sent",
					err, line.written)
			}
		})
	}
}

// timedLine is a scriptLine that notes when each request was written,
// and answers each write with the next of replies (nil: silence). Late
// bytes come once a read ran into its deadline, as a late reply does.
type timedLine struct {
	scriptLine
	replies [][]byte
	late    []byte
	writes  []time.Time
}

func (l *timedLine) Write(p []byte) (int, error) {
	l.writes = append(l.writes, time.Now())
	if len(l.replies) > 0 {
		if r := l.replies[0]; r != nil {
			l.chunks = append(l.chunks, r)
		}
		l.replies = l.replies[1:]
	}
	return l.scriptLine.Write(p)
}

func (l *timedLine) Read(p []byte) (int, error) {
	n, err := l.scriptLine.Read(p)
	if deadlinePassed(err) && l.late != nil {
		l.chunks, l.late = append(l.chunks, l.late), nil
	}
	return n, err
}

// TestRTUQuietBetweenRequests checks the 3.5-character silence after a
// reply (serial line spec §2.5.1.1) and the guard after a timeout.
func TestRTUQuietBetweenRequests(t *testing.T) {
	const guard = 100 * time.Millisecond
	own := wireBytes(t, "01 03 02 00 2A 39 9B")
	line := &timedLine{replies: [][]byte{own, nil, own}}
	tr, err := NewRTU("script", func(context.Context) (Line, error) { return line, nil },
		RTUOptions{Baud: 9600, Guard: guard})
	if err != nil {
		t.Fatal(err)
	}

	c := NewClient(tr)
	ctx := context.Background()
	if _, err := c.ReadRegisters(ctx, 1, FuncHolding, 0, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ReadRegisters(ctx, 1, FuncHolding, 0, 1); !errors.Is(err, ErrTimeout) {
		t.Fatalf("second read: %v, want ErrTimeout", err)
	}
	if _, err := c.ReadRegisters(ctx, 1, FuncHolding, 0, 1); err != nil {
		t.Fatal(err)
	}

	w := line.writes
	if gap := w[1].Sub(w[0]); gap < rtuSilence(9600) {
		t.Errorf("second request %v after a reply, want at least t3.5 = %v", gap, rtuSilence(9600))
	}
	if gap := w[2].Sub(w[1]); gap < guard {
		t.Errorf("third request %v after a timeout, want at least the guard %v", gap, guard)
	}
}

// TestRTUGuardPerSlave checks that the guard after a timeout holds back
// only the slave that timed out: a silent meter among many must cost one
// timeout a cycle, not a timeout and a guard.
func TestRTUGuardPerSlave(t *testing.T) {
	const timeout, guard = 50 * time.Millisecond, 400 * time.Millisecond
	two := wireBytes(t, "02 03 02 00 2A 7D 9B")
	one := wireBytes(t, "01 03 02 00 2A 39 9B")
	line := &timedLine{replies: [][]byte{nil, two, one}}
	tr, err := NewRTU("script", func(context.Context) (Line, error) { return line, nil },
		RTUOptions{Baud: 9600, Timeout: timeout, Guard: guard})
	if err != nil {
		t.Fatal(err)
	}

	c := NewClient(tr)
	ctx := context.Background()
	if _, err := c.ReadRegisters(ctx, 1, FuncHolding, 0, 1); !errors.Is(err, ErrTimeout) {
		t.Fatalf("read of silent slave 1: %v, want ErrTimeout", err)
	}
	if _, err := c.ReadRegisters(ctx, 2, FuncHolding, 0, 1); err != nil {
		t.Fatalf("read of slave 2: %v", err)
	}
	if _, err := c.ReadRegisters(ctx, 1, FuncHolding, 0, 1); err != nil {
		t.Fatalf("read of slave 1 again: %v", err)
	}

	// The script line reports the timeout at once, so the guard runs
	// from about the first request's write.
	w := line.writes
	if gap := w[1].Sub(w[0]); gap >= guard {
		t.Errorf("slave 2 asked %v after slave 1 timed out, want no guard (< %v)", gap, guard)
	}
	if gap := w[2].Sub(w[0]); gap < guard {
		t.Errorf("slave 1 asked again %v after it timed out, want at least the guard %v",
			gap, guard)
	}
}

// TestRTUSlowDevice is FC-13: a device answers after 450, 520, 610 and
// 380 ms. With a 500 ms timeout requests 2 and 3 time out, and their late
// replies must not be taken as the answers to requests 3 and 4; each
// reply carries its request's number. With 800 ms all four succeed.
//
// Timing tests like this one run before the parallel tests of the
// package: a 450 ms reply against a 500 ms timeout leaves 50 ms, which a
// machine busy starting pymodbus slaves can eat.
func TestRTUSlowDevice(t *testing.T) {
	latencies := []time.Duration{450 * time.Millisecond, 520 * time.Millisecond,
		610 * time.Millisecond, 380 * time.Millisecond}
	answer := func(req []byte, i int) []byte {
		reply := []byte{req[0], req[1], 2, 0, byte(i + 1), 0, 0}
		crc := CRC16(reply[:5])
		reply[5], reply[6] = byte(crc), byte(crc>>8)
		return reply
	}
	serve := func(end io.ReadWriter) error { return serveDelayed(end, 8, latencies, answer) }

	for _, line := range []string{"rtu-over-tcp", "rtu-over-pty"} {
		for _, tt := range slowDeviceCases {
			t.Run(line+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				opts := RTUOptions{Baud: 9600, Timeout: tt.timeout, SlaveTimeouts: tt.perSlave}
				var tr Transport
				if line == "rtu-over-tcp" {
					tr = newTestRTU(t, startNetPeer(t, serve), opts)
				} else {
					tr = newTestSerialRTU(t, startPtyPeer(t, serve), opts, 9600)
				}
				checkSlowDevice(t, NewClient(tr), tt.want)
			})
		}
	}
}

// slowDeviceCases are the runs of FC-13: the register value each of the
// four reads of slave 1 must return, 0 for a timeout. The last sets the
// timeout for slave 1 alone, as FC-13 asks it to be set per device.
var slowDeviceCases = []struct {
	name     string
	timeout  time.Duration
	perSlave map[byte]time.Duration
	want     []uint16
}{
	{"timeout 500ms", 500 * time.Millisecond, nil, []uint16{1, 0, 0, 4}},
	{"timeout 800ms", 800 * time.Millisecond, nil, []uint16{1, 2, 3, 4}},
	{"timeout 800ms for slave 1", 500 * time.Millisecond,
		map[byte]time.Duration{1: 800 * time.Millisecond}, []uint16{1, 2, 3, 4}},
}

// checkSlowDevice reads holding register 0 of slave 1 once per want.
func checkSlowDevice(t *testing.T, c *Client, want []uint16) {
	t.Helper()
	defer c.Close()
	for i, w := range want {
		got, err := c.ReadRegisters(context.Background(), 1, FuncHolding, 0, 1)
		switch {
		case w == 0 && !errors.Is(err, ErrTimeout):
			t.Errorf("read %d: got %v, %v; want a timeout", i+1, got, err)
		case w != 0 && (err != nil || got[0] != w):
			t.Errorf("read %d: got %v, %v; want [%d]", i+1, got, err, w)
		}
	}
}

// TestRTUCancel checks that cancelling the context ends the wait for a
// reply at once, over each kind of line.
func TestRTUCancel(t *testing.T) {
	silent := func(end io.ReadWriter) error {
		_, err := io.Copy(io.Discard, end)
		return err
	}
	for _, line := range []string{"rtu-over-tcp", "rtu-over-pty"} {
		t.Run(line, func(t *testing.T) {
			t.Parallel()
			opts := RTUOptions{Baud: 9600, Timeout: 10 * time.Second}
			var tr Transport
			if line == "rtu-over-tcp" {
				tr = newTestRTU(t, startNetPeer(t, silent), opts)
			} else {
				tr = newTestSerialRTU(t, startPtyPeer(t, silent), opts, 9600)
			}

			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(100*time.Millisecond, cancel)
			start := time.Now()
			_, err := NewClient(tr).ReadRegisters(ctx, 1, FuncHolding, 0, 1)
			if took := time.Since(start); !errors.Is(err, context.Canceled) || took > time.Second {
				t.Errorf("got %v after %v; want context.Canceled after about 100ms", err, took)
			}
		})
	}
}

// FuzzRTUResponse feeds arbitrary bytes, in chunks, as the reply to a
// read: the client must not panic or hang, and must return either the
// values asked for or one of this package's errors.
func FuzzRTUResponse(f *testing.F) {
	for _, s := range wireSeeds(f, "rtu") {
		f.Add(s.slave, byte(s.fn), s.count, uint8(0), s.reply)
		f.Add(s.slave, byte(s.fn), s.count, uint8(3), s.reply)
	}
	f.Fuzz(func(t *testing.T, slave, fn byte, count uint16, split uint8, reply []byte) {
		line := &scriptLine{chunks: fuzzChunks(reply, split)}
		tr, err := NewRTU("fuzz", line.opener(), RTUOptions{Baud: 19200})
		if err != nil {
			t.Fatal(err)
		}
		checkFuzzRead(t, NewClient(tr), 1+slave%rtuLastUnicast, fn, count)
	})
}

// wireSeed is one read of a field case, as fuzz seed.
type wireSeed struct {
	tid   uint16
	slave byte
	fn    Function
	count uint16
	reply []byte
}

// wireSeeds returns the reads and whole replies of the field cases of
// one transport.
func wireSeeds(t testing.TB, transport string) []wireSeed {
	var seeds []wireSeed
	for _, s := range readWireScripts(t) {
		if s.transport != transport {
			continue
		}
		for i, st := range s.steps {
			seed := wireSeed{tid: s.tid + uint16(i), slave: st.slave, fn: st.fn, count: st.count}
			for _, c := range st.chunks {
				seed.reply = append(seed.reply, c.data...)
			}
			seeds = append(seeds, seed)
		}
	}
	return seeds
}

// fuzzChunks cuts b into chunks of size bytes; 0 keeps it whole.
func fuzzChunks(b []byte, size uint8) [][]byte {
	if size == 0 {
		return [][]byte{b}
	}
	var chunks [][]byte
	for len(b) > int(size) {
		chunks, b = append(chunks, b[:size]), b[size:]
	}
	return append(chunks, b)
}

// checkFuzzRead reads with fn (any byte, mapped onto the four reads)
// and count (mapped into the function's range) and checks the outcome.
func checkFuzzRead(t *testing.T, c *Client, slave, fn byte, count uint16) {
	f := Function(1 + fn%4)
	r := functionReads[f]
	count = 1 + count%r.maxCount
	ctx := context.Background()

	var n int
	var err error
	if r.registers {
		var regs []uint16
		regs, err = c.ReadRegisters(ctx, slave, f, 0, count)
		n = len(regs)
	} else {
		var bits []bool
		bits, err = c.ReadBits(ctx, slave, f, 0, count)
		n = len(bits)
	}

	if err == nil && n != int(count) {
		t.Errorf("read %d %s: got %d values and no error", count, f, n)
	}
	if err != nil && !isOwnError(err) {
		t.Errorf("read %d %s: error %v wraps none of the package's errors", count, f, err)
	}
}

// newTestRTU returns an RTU transport over TCP to addr.
func newTestRTU(t *testing.T, addr string, opts RTUOptions) *RTUTransport {
	t.Helper()
	tr, err := NewRTU(addr, TCPLine(addr), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tr.Close() })
	return tr
}

// TestRTUGuardDeadOrSlow checks that a slave silent through two guards
// in a row has its guard skipped when other slaves are asked between, so
// that it costs a timeout a cycle however short the cycle; that the guard
// stays when it is asked twice in a row; and that a slave heard from,
// late or garbled, keeps its guard.
func TestRTUGuardDeadOrSlow(t *testing.T) {
	const guard = 150 * time.Millisecond
	late := wireBytes(t, "01 03 02 00 2A 39 9B")
	garbled := wireBytes(t, "01 03 02 00 2A 39 9C")
	two := wireBytes(t, "02 03 02 00 2A 7D 9B")
	// among answers slave 1 with r and slave 2 normally, turn about.
	among := func(r []byte, n int) [][]byte {
		var out [][]byte
		for range n {
			out = append(out, r, two)
		}
		return out
	}
	tests := []struct {
		name string
		line *timedLine
		// reads are the slaves read in turn; guarded, whether slave 1 was
		// asked at least the guard after it was last asked.
		reads   []byte
		guarded []bool
		skipped uint64
	}{
		{"dead among others", &timedLine{replies: among(nil, 4)},
			[]byte{1, 2, 1, 2, 1, 2, 1, 2}, []bool{false, false, true, false, true, false,
				false, false}, 0},
		{"dead, asked twice in a row", &timedLine{replies: append(among(nil, 3), nil, nil)},
			[]byte{1, 2, 1, 2, 1, 2, 1, 1}, []bool{false, false, true, false, true, false,
				false, true}, 0},
		{"late reply in the guard", &timedLine{late: late},
			[]byte{1, 1, 1}, []bool{false, true, true}, 1},
		{"garbled replies: alive", &timedLine{replies: among(garbled, 4)},
			[]byte{1, 2, 1, 2, 1, 2, 1, 2}, []bool{false, false, true, false, true, false,
				true, false}, 0},
		{"dead, then heard among others", &timedLine{replies: [][]byte{nil, two, nil, two,
			nil, slices.Concat(late, two), nil}},
			[]byte{1, 2, 1, 2, 1, 2, 1}, []bool{false, false, true, false, true, false, true}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, err := NewRTU("script", func(context.Context) (Line, error) {
				return tt.line, nil
			}, RTUOptions{Baud: 19200, Timeout: time.Millisecond, Guard: guard})
			if err != nil {
				t.Fatal(err)
			}
			c := NewClient(tr)
			last := -1
			for i, slave := range tt.reads {
				_, err := c.ReadRegisters(t.Context(), slave, FuncHolding, 0, 1)
				if slave != 1 {
					continue
				}
				if err == nil {
					t.Fatalf("read %d of slave 1 answered; the script has it fail", i)
				}
				if last >= 0 {
					gap := tt.line.writes[i].Sub(tt.line.writes[last])
					if got := gap >= guard; got != tt.guarded[i] {
						t.Errorf("read %d of slave 1, %v after its last: guarded %v, want %v",
							i, gap, got, tt.guarded[i])
					}
				}
				last = i
			}
			if s := c.Stats(); s.Skipped != tt.skipped {
				t.Errorf("%d frames skipped, want %d", s.Skipped, tt.skipped)
			}
		})
	}
}

// slowSlave is an RTU slave behind a loopback TCP socket, as behind a
// serial device server, whose registers hold their own addresses. It
// answers its nth request after delays[n]: noReply drops the request,
// badCRC answers at once with a corrupted CRC.
type slowSlave struct {
	addr   string
	delays []time.Duration
}

const (
	noReply = -1 * time.Nanosecond
	badCRC  = -2 * time.Nanosecond
)

func startSlowSlave(t *testing.T, delays ...time.Duration) *slowSlave {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	s := &slowSlave{addr: ln.Addr().String(), delays: delays}
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(conn)
		}
	}()
	return s
}

func (s *slowSlave) serve(conn net.Conn) {
	defer conn.Close()
	var mu sync.Mutex // late replies may overlap
	for n := 0; ; n++ {
		req := make([]byte, 8)
		if _, err := io.ReadFull(conn, req); err != nil {
			return
		}
		d := time.Duration(0)
		if n < len(s.delays) {
			d = s.delays[n]
		}
		if d == noReply {
			continue
		}

		addr, count := binary.BigEndian.Uint16(req[2:]), binary.BigEndian.Uint16(req[4:])
		reply := []byte{req[0], req[1], byte(2 * count)}
		for i := range count {
			reply = binary.BigEndian.AppendUint16(reply, addr+i)
		}
		crc := CRC16(reply)
		reply = append(reply, byte(crc), byte(crc>>8))
		if d == badCRC {
			reply[len(reply)-1] ^= 0xFF
			d = 0
		}
		time.AfterFunc(d, func() {
			mu.Lock()
			defer mu.Unlock()
			_, _ = conn.Write(reply)
		})
	}
}

// TestRTUSlowSlaveNeverMisread reads a slave that misses a request, or
// garbles a reply, and then answers late: the late reply must never be
// taken as the answer to the next request, whose registers differ.
func TestRTUSlowSlaveNeverMisread(t *testing.T) {
	const timeout, late = 100 * time.Millisecond, 150 * time.Millisecond
	tests := []struct {
		name  string
		first time.Duration
	}{
		{"missed, then late", noReply},
		{"garbled, then late", badCRC},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startSlowSlave(t, tt.first, late, late, late)
			c := NewClient(newTestRTU(t, s.addr, RTUOptions{Baud: 19200, Timeout: timeout}))
			for i, addr := range []uint16{0, 100, 200, 300} {
				regs, err := c.ReadRegisters(t.Context(), 1, FuncHolding, addr, 2)
				if err == nil && regs[0] != addr {
					t.Fatalf("read %d of registers %d-%d returned %v: another request's reply",
						i, addr, addr+1, regs)
				}
			}
		})
	}
}

// TestRTUCancelled checks that a read whose context ends, in the guard
// or waiting for the reply, reports the context's end and counts it as
// cancelled, not as a malformed frame.
func TestRTUCancelled(t *testing.T) {
	s := startSlowSlave(t, noReply, noReply, noReply)
	c := NewClient(newTestRTU(t, s.addr, RTUOptions{Baud: 19200,
		Timeout: 50 * time.Millisecond, Guard: time.Second}))
	if _, err := c.ReadRegisters(t.Context(), 1, FuncHolding, 0, 1); !errors.Is(err, ErrTimeout) {
		t.Fatalf("first read = %v, want a timeout", err)
	}
	for _, where := range []string{"in the guard", "waiting for the reply"} {
		slave, d := byte(1), 100*time.Millisecond // in the guard of the first read
		if where == "waiting for the reply" {
			slave, d = 2, 10*time.Millisecond // before the 50 ms timeout
		}
		ctx, cancel := context.WithTimeout(t.Context(), d)
		_, err := c.ReadRegisters(ctx, slave, FuncHolding, 0, 1)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrBadFrame) {
			t.Errorf("read cancelled %s = %v, want the context's end, not a bad frame",
				where, err)
		}
	}
	if st := c.Stats(); st.Canceled != 2 || st.BadFrames != 0 {
		t.Errorf("stats: %d cancelled, %d bad frames; want 2, 0", st.Canceled, st.BadFrames)
	}
}
