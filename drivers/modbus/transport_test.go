package modbus

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// wireScript is one file of testdata/field: a field case replayed by a
// scripted peer. Its lines, '#' starting a comment:
//
//	transport rtu|tcp          framing; rtu runs over TCP and over a pty pair
//	baud N                     RTU line rate (default 9600)
//	timeout D                  response timeout (default 1s)
//	tid N                      first MBAP transaction id (default 1)
//	accept-other-unit          TCPOptions.AcceptOtherUnit
//	read FN SLAVE ADDR COUNT   starts a transaction: coils|discrete|holding|input
//	request HEX                the bytes the peer must receive
//	reply HEX                  a chunk the peer sends; several make a split reply
//	gap D                      the peer's pause before the next chunk
//	want registers HEX...      the words read (lines add up)
//	want exception CODE CLASS  an *ExceptionError, class as in ExceptionClass
//	want error NAME            a sentinel error of errors.go
//	within D                   the read's longest allowed duration
//	skipped N                  TransportCounters.Skipped after the read
type wireScript struct {
	name            string // file name without .txt
	transport       string
	baud            int
	timeout         time.Duration
	tid             uint16
	acceptOtherUnit bool
	steps           []*wireStep
}

// wireStep is one transaction of a wireScript.
type wireStep struct {
	fn            Function
	slave         byte
	addr, count   uint16
	request       []byte
	chunks        []wireChunk
	wantRegisters []uint16
	wantCode      ExceptionCode
	wantClass     string
	wantErr       error
	within        time.Duration
	skipped       int // -1 when not checked
}

// wireChunk is part of a reply, sent after a pause.
type wireChunk struct {
	gap  time.Duration
	data []byte
}

var wireFunctions = map[string]Function{
	"coils": FuncCoils, "discrete": FuncDiscrete, "holding": FuncHolding, "input": FuncInput,
}

var wireErrors = map[string]error{
	"ErrTimeout": ErrTimeout, "ErrCRC": ErrCRC, "ErrShortFrame": ErrShortFrame,
	"ErrBadFrame": ErrBadFrame, "ErrWrongSlave": ErrWrongSlave,
	"ErrWrongFunction": ErrWrongFunction, "ErrByteCount": ErrByteCount,
}

// readWireScripts parses every file of testdata/field.
func readWireScripts(t testing.TB) []*wireScript {
	t.Helper()
	files, err := filepath.Glob("testdata/field/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no field cases: %v", err)
	}

	scripts := make([]*wireScript, 0, len(files))
	for _, file := range files {
		scripts = append(scripts, readWireScript(t, file))
	}
	return scripts
}

// readWireScript parses a testdata/field file, failing t on any error.
func readWireScript(t testing.TB, file string) *wireScript {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	name := strings.TrimSuffix(filepath.Base(file), ".txt")
	s := &wireScript{name: name, baud: 9600, timeout: time.Second, tid: 1}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		if words := strings.Fields(line); len(words) > 0 {
			if err := s.parse(words); err != nil {
				t.Fatalf("%s:%d: %v", file, n, err)
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return s
}

// parse takes one line of a script, split into words.
func (s *wireScript) parse(w []string) error {
	var err error
	switch w[0] {
	case "transport":
		s.transport = w[1]
	case "baud":
		s.baud, err = strconv.Atoi(w[1])
	case "timeout":
		s.timeout, err = time.ParseDuration(w[1])
	case "tid":
		var v uint64
		v, err = strconv.ParseUint(w[1], 0, 16)
		s.tid = uint16(v)
	case "accept-other-unit":
		s.acceptOtherUnit = true
	case "read":
		err = s.parseRead(w)
	default:
		if len(s.steps) == 0 {
			return fmt.Errorf("%q before the first read", w[0])
		}
		err = s.steps[len(s.steps)-1].parse(w)
	}
	return err
}

// parseRead starts a transaction: read FN SLAVE ADDR COUNT.
func (s *wireScript) parseRead(w []string) error {
	fn, ok := wireFunctions[w[1]]
	if !ok || len(w) != 5 {
		return fmt.Errorf("want read coils|discrete|holding|input SLAVE ADDR COUNT, got %q", w)
	}
	var nums [3]uint64
	for i, bits := range []int{8, 16, 16} {
		v, err := strconv.ParseUint(w[2+i], 0, bits)
		if err != nil {
			return err
		}
		nums[i] = v
	}
	s.steps = append(s.steps, &wireStep{fn: fn, slave: byte(nums[0]),
		addr: uint16(nums[1]), count: uint16(nums[2]), skipped: -1})
	return nil
}

// parse takes one line that belongs to the transaction.
func (st *wireStep) parse(w []string) error {
	var err error
	switch w[0] {
	case "request":
		st.request, err = hex.DecodeString(strings.Join(w[1:], ""))
	case "reply":
		var data []byte
		data, err = hex.DecodeString(strings.Join(w[1:], ""))
		st.chunks = append(st.chunks, wireChunk{data: data})
	case "gap":
		var d time.Duration
		d, err = time.ParseDuration(w[1])
		st.chunks = append(st.chunks, wireChunk{gap: d})
	case "want":
		err = st.parseWant(w[1:])
	case "within":
		st.within, err = time.ParseDuration(w[1])
	case "skipped":
		st.skipped, err = strconv.Atoi(w[1])
	default:
		err = fmt.Errorf("unknown line %q", w)
	}
	return err
}

// parseWant takes a "want" line without its first word.
func (st *wireStep) parseWant(w []string) error {
	switch w[0] {
	case "registers":
		for _, word := range w[1:] {
			v, err := strconv.ParseUint(word, 16, 16)
			if err != nil {
				return err
			}
			st.wantRegisters = append(st.wantRegisters, uint16(v))
		}
	case "exception":
		code, err := strconv.ParseUint(w[1], 0, 8)
		st.wantCode, st.wantClass = ExceptionCode(code), strings.ReplaceAll(w[2], "-", " ")
		return err
	case "error":
		if st.wantErr = wireErrors[w[1]]; st.wantErr == nil {
			return fmt.Errorf("unknown error %q", w[1])
		}
	default:
		return fmt.Errorf("unknown want %q", w)
	}
	return nil
}

// TestTransportFieldCases replays every field case of testdata/field against a
// scripted peer: RTU cases over a TCP line and over a pty pair, TCP cases
// over a TCP connection. Its cases bound latencies, so it does not run in
// parallel with the package's other tests (see TestRTUSlowDevice).
func TestTransportFieldCases(t *testing.T) {
	for _, script := range readWireScripts(t) {
		lines := []string{"tcp"}
		if script.transport == "rtu" {
			lines = []string{"rtu-over-tcp", "rtu-over-pty"}
		}
		for _, line := range lines {
			t.Run(script.name+"/"+line, func(t *testing.T) {
				t.Parallel()
				runWireScript(t, script, line)
			})
		}
	}
}

// runWireScript plays script with a peer over line and checks each read.
func runWireScript(t *testing.T, s *wireScript, line string) {
	reqLen := 8 // an RTU read request
	if s.transport == "tcp" {
		reqLen = 12
	}
	serve := func(end io.ReadWriter) error { return playSteps(end, s.steps, reqLen) }

	var tr Transport
	switch line {
	case "tcp":
		addr := startNetPeer(t, serve)
		tcp := newTestTCP(t, addr, TCPOptions{Timeout: s.timeout,
			AcceptOtherUnit: s.acceptOtherUnit})
		tcp.tid = s.tid - 1
		tr = tcp
	case "rtu-over-tcp":
		addr := startNetPeer(t, serve)
		tr = newTestRTU(t, addr, RTUOptions{Baud: s.baud, Timeout: s.timeout})
	case "rtu-over-pty":
		device := startPtyPeer(t, serve)
		tr = newTestSerialRTU(t, device, RTUOptions{Timeout: s.timeout}, s.baud)
	}

	c := NewClient(tr)
	t.Cleanup(func() { _ = c.Close() })
	for i, st := range s.steps {
		start := time.Now()
		regs, err := readStep(c, st)
		took := time.Since(start)

		what := fmt.Sprintf("read %d: %s %d at %#x of slave %d", i+1, st.fn, st.count,
			st.addr, st.slave)
		st.check(t, what, regs, err)
		if st.within > 0 && took > st.within {
			t.Errorf("%s took %v, want at most %v", what, took, st.within)
		}
		if got := c.Stats().Skipped; st.skipped >= 0 && got != uint64(st.skipped) {
			t.Errorf("%s: %d frames skipped, want %d", what, got, st.skipped)
		}
	}
	checkWireStats(t, c.Stats(), s.steps)
}

// readStep runs the read of st; bits are not compared, only their error.
func readStep(c *Client, st *wireStep) ([]uint16, error) {
	ctx := context.Background()
	if st.fn == FuncCoils || st.fn == FuncDiscrete {
		_, err := c.ReadBits(ctx, st.slave, st.fn, st.addr, st.count)
		return nil, err
	}
	return c.ReadRegisters(ctx, st.slave, st.fn, st.addr, st.count)
}

// check compares the outcome of one read with what the step wants.
func (st *wireStep) check(t *testing.T, what string, regs []uint16, err error) {
	t.Helper()
	var exc *ExceptionError
	switch {
	case st.wantErr != nil:
		if !errors.Is(err, st.wantErr) {
			t.Errorf("%s: got %v, %v; want %v", what, regs, err, st.wantErr)
		}
	case st.wantCode != 0:
		ok := errors.As(err, &exc) && exc.Code == st.wantCode
		if !ok || exc.Class().String() != st.wantClass {
			t.Errorf("%s: got %v, %v; want exception %d class %s", what, regs, err,
				st.wantCode, st.wantClass)
		}
		if regs != nil {
			t.Errorf("%s: got values %v with an exception", what, regs)
		}
	case err != nil || !reflect.DeepEqual(regs, st.wantRegisters):
		t.Errorf("%s:\ngot  %04X, %v\nwant %04X", what, regs, err, st.wantRegisters)
	}
}

// checkWireStats makes sure that each read was counted under its own
// outcome and under no other, so that a split reply counts no CRC error.
func checkWireStats(t *testing.T, got Stats, steps []*wireStep) {
	t.Helper()
	want := Stats{Exceptions: map[ExceptionCode]uint64{}}
	for _, st := range steps {
		want.Requests++
		switch {
		case st.wantErr != nil:
			*want.errorCounter(st.wantErr)++
		case st.wantCode != 0:
			want.Exceptions[st.wantCode]++
		default:
			want.Replies++
		}
	}
	got.TransportCounters = TransportCounters{}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("stats\ngot  %+v\nwant %+v", got, want)
	}
}

// playSteps is the peer of a field script: for each step it reads a
// request of reqLen bytes, checks it and sends the reply chunks.
func playSteps(end io.ReadWriter, steps []*wireStep, reqLen int) error {
	for i, st := range steps {
		req := make([]byte, reqLen)
		if _, err := io.ReadFull(end, req); err != nil {
			return fmt.Errorf("read request %d: %w", i+1, err)
		}
		if st.request != nil && !bytes.Equal(req, st.request) {
			return fmt.Errorf("request %d is % X, want % X", i+1, req, st.request)
		}

		for _, c := range st.chunks {
			time.Sleep(c.gap)
			if _, err := end.Write(c.data); err != nil {
				return fmt.Errorf("send reply %d: %w", i+1, err)
			}
		}
	}
	return nil
}

// serveDelayed is a peer that answers request i (from 0) of reqLen bytes
// after delays[i], each on its own timer, as a device with that reply
// latency would; answer makes the reply.
func serveDelayed(end io.ReadWriter, reqLen int, delays []time.Duration,
	answer func(req []byte, i int) []byte) error {
	var (
		wg      sync.WaitGroup
		writeMu sync.Mutex
	)
	defer wg.Wait()
	for i, d := range delays {
		req := make([]byte, reqLen)
		if _, err := io.ReadFull(end, req); err != nil {
			return fmt.Errorf("read request %d: %w", i+1, err)
		}

		wg.Go(func() {
			time.Sleep(d)
			writeMu.Lock()
			defer writeMu.Unlock()
			_, _ = end.Write(answer(req, i))
		})
	}
	return nil
}

// startNetPeer listens on a loopback port and runs serve on the first
// connection. The test fails when serve fails or is still running 10 s
// after the test's end.
func startNetPeer(t *testing.T, serve func(io.ReadWriter) error) (addr string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}

	done := make(chan error, 1)
	go func() {
		conn, err := l.Accept()
		if err != nil {
			done <- err
			return
		}
		defer conn.Close()
		done <- serve(conn)
	}()
	t.Cleanup(func() {
		_ = l.Close()
		awaitPeer(t, done)
	})
	return l.Addr().String()
}

// awaitPeer fails t when the peer failed or does not end soon.
func awaitPeer(t *testing.T, done <-chan error) {
	t.Helper()
	select {
	case err := <-done:
		if err != nil && !errors.Is(err, net.ErrClosed) && !errors.Is(err, os.ErrClosed) {
			t.Errorf("peer: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Errorf("peer still running 10 s after the test")
	}
}

// scriptLine is a Line that yields its chunks to Read, one per call at
// most, and then fails every Read as a passed deadline, at once.
type scriptLine struct {
	chunks  [][]byte
	written []byte
}

func (l *scriptLine) Read(p []byte) (int, error) {
	for len(l.chunks) > 0 && len(l.chunks[0]) == 0 {
		l.chunks = l.chunks[1:]
	}
	if len(l.chunks) == 0 {
		return 0, os.ErrDeadlineExceeded
	}
	n := copy(p, l.chunks[0])
	l.chunks[0] = l.chunks[0][n:]
	return n, nil
}

func (l *scriptLine) Write(p []byte) (int, error) {
	l.written = append(l.written, p...)
	return len(p), nil
}

func (l *scriptLine) Close() error                { return nil }
func (l *scriptLine) SetDeadline(time.Time) error { return nil }
func (l *scriptLine) DiscardInput() error         { return nil }

// opener returns a LineOpener that hands out l.
func (l *scriptLine) opener() LineOpener {
	return func(context.Context) (Line, error) { return l, nil }
}

func TestPDULen(t *testing.T) {
	tests := []struct {
		name string
		pdu  []byte
		want int
	}{
		{"empty", nil, 0},
		{"read without byte count", []byte{3}, 0},
		{"read holding", []byte{3, 4}, 6},
		{"read coils", []byte{1, 1}, 3},
		{"exception", []byte{0x83}, 2},
		{"write single register echo", []byte{6}, 5},
		{"mask write echo", []byte{22}, 7},
		{"unknown function", []byte{0x2B}, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := pduLen(tt.pdu); got != tt.want {
				t.Errorf("pduLen(% x) = %d, want %d", tt.pdu, got, tt.want)
			}
		})
	}
}

func TestCheckReplyPDU(t *testing.T) {
	readTwo := []byte{3, 0, 0, 0, 2}
	tests := []struct {
		name       string
		req, reply []byte
		want       error
	}{
		{"registers", readTwo, []byte{3, 4, 0, 1, 0, 2}, nil},
		{"exception", readTwo, []byte{0x83, 2}, nil},
		{"other function", readTwo, []byte{4, 4, 0, 1, 0, 2}, ErrWrongFunction},
		{"other exception", readTwo, []byte{0x84, 2}, ErrWrongFunction},
		{"one register short", readTwo, []byte{3, 2, 0, 1}, ErrByteCount},
		{"byte count beyond data", readTwo, []byte{3, 4, 0, 1}, ErrBadFrame},
		{"long exception", readTwo, []byte{0x83, 2, 0}, ErrBadFrame},
		{"empty", readTwo, nil, ErrShortFrame},
		{"coils", []byte{1, 0, 0, 0, 9}, []byte{1, 2, 0xff, 1}, nil},
		{"coils byte count", []byte{1, 0, 0, 0, 9}, []byte{1, 1, 0xff}, ErrByteCount},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkReplyPDU(tt.req, tt.reply)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Errorf("checkReplyPDU(% x, % x) = %v, want %v", tt.req, tt.reply, err, tt.want)
			}
		})
	}
}

func TestOptionsChecked(t *testing.T) {
	negative := map[byte]time.Duration{3: -time.Second}
	rtu := []struct {
		name string
		opts RTUOptions
	}{
		{"timeout", RTUOptions{Timeout: -1}},
		{"guard", RTUOptions{Guard: -1}},
		{"baud", RTUOptions{Baud: -1}},
		{"connect timeout", RTUOptions{ConnectTimeout: -1}},
		{"slave timeout", RTUOptions{SlaveTimeouts: negative}},
	}
	for _, tt := range rtu {
		t.Run("RTU "+tt.name, func(t *testing.T) {
			if _, err := NewRTU("x", nil, tt.opts); !errors.Is(err, ErrConfig) {
				t.Errorf("NewRTU(%+v) = %v, want ErrConfig", tt.opts, err)
			}
		})
	}

	tcp := []struct {
		name string
		opts TCPOptions
	}{
		{"timeout", TCPOptions{Timeout: -1}},
		{"connect timeout", TCPOptions{ConnectTimeout: -1}},
		{"slave timeout", TCPOptions{SlaveTimeouts: negative}},
	}
	for _, tt := range tcp {
		t.Run("TCP "+tt.name, func(t *testing.T) {
			if _, err := NewTCP("x", nil, tt.opts); !errors.Is(err, ErrConfig) {
				t.Errorf("NewTCP(%+v) = %v, want ErrConfig", tt.opts, err)
			}
		})
	}
}
