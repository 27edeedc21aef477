package sim

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
	"testing"
	"time"
)

// readCases are the requests sent to every kind of server, by goburrow.
// A row wants data, an exception code, or no reply when silent is set.
var readCases = []struct {
	name      string
	unit      byte
	read      modbusRead
	addr, qty uint16
	want      []byte
	exception byte
	silent    bool
}{
	{name: "holding registers", unit: 1, read: readHolding, addr: 100, qty: 3,
		want: regWords(1, 2, 0xffff)},
	{name: "holding register at PDU address 0", unit: 1, read: readHolding, addr: 0, qty: 1,
		want: regWords(0x0102)},
	{name: "no address shift below a block", unit: 1, read: readHolding, addr: 99, qty: 1,
		exception: 2},
	{name: "read past the end of a block", unit: 1, read: readHolding, addr: 101, qty: 3,
		exception: 2},
	{name: "input registers", unit: 1, read: readInput, addr: 30, qty: 2,
		want: regWords(0x1234, 0x5678)},
	{name: "coils", unit: 1, read: readCoils, addr: 0, qty: 3, want: []byte{0b101}},
	{name: "discrete input", unit: 1, read: readDiscrete, addr: 7, qty: 1, want: []byte{1}},
	{name: "second unit", unit: 2, read: readHolding, addr: 100, qty: 1, want: regWords(0x2222)},
	{name: "units do not share registers", unit: 2, read: readHolding, addr: 101, qty: 1,
		exception: 2},
	{name: "unit with no device", unit: 3, read: readHolding, addr: 100, qty: 1, silent: true},
}

// slowBaud is the rate for goburrow reads that may get an exception
// reply. goburrow v0.1.0 reads an exception reply whole only when all of
// it is in at its first read (it looks for the request's code & 0x80,
// which is 0), and it sleeps before that read for 1.5 characters per
// expected byte plus t3.5. A 5-byte exception then arrives with 97 ms to
// spare at 1200 baud, but only 18 ms at 9600 and 6 ms at 19200: too
// little when other test binaries load the machine.
const slowBaud = 1200

func TestRTUGoburrow(t *testing.T) {
	t.Parallel()
	for _, baud := range []int{slowBaud, 19200} {
		s := startRTU(t, testUnits(t), RTUConfig{Baud: baud})
		for _, tc := range readCases {
			if baud > slowBaud && tc.exception != 0 {
				continue
			}
			t.Run(fmt.Sprintf("%s at %d baud", tc.name, baud), func(t *testing.T) {
				c := goburrowRTU(t, s.Path(), baud, tc.unit)
				got, err := tc.read(c, tc.addr, tc.qty)
				checkRead(t, got, err, tc.want, tc.exception, tc.silent)
			})
		}
	}
}

// checkRead compares what goburrow read with data, an exception or no
// reply.
func checkRead(t *testing.T, got []byte, err error, want []byte, exception byte, silent bool) {
	t.Helper()
	switch {
	case silent:
		if !timedOut(err) {
			t.Errorf("got %x, %v; want no reply", got, err)
		}
	case exception != 0:
		if exceptionOf(err) != exception {
			t.Errorf("got %x, %v; want exception %d", got, err, exception)
		}
	case err != nil || !bytes.Equal(got, want):
		t.Errorf("got %x, %v; want %x", got, err, want)
	}
}

// Requests for unit 1 of testBank, with their replies' lengths.
var (
	// read3 reads holding registers 100..102: a 11-byte reply.
	read3 = appendCRC([]byte{1, 0x03, 0x00, 100, 0x00, 3})
	// read1 reads holding register 100: a 7-byte reply.
	read1 = appendCRC([]byte{1, 0x03, 0x00, 100, 0x00, 1})
)

func TestRTUPacing(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		baud       int
		turnaround time.Duration
	}{
		{name: "9600 baud", baud: 9600},
		{name: "9600 baud and 50 ms turnaround", baud: 9600, turnaround: 50 * time.Millisecond},
		{name: "19200 baud", baud: 19200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			units := NewUnits()
			mustSet(t, units.SetDevice(1, bigBank()))
			s := startRTU(t, units, RTUConfig{Baud: tt.baud, Turnaround: tt.turnaround})
			pty := openRaw(t, s.Path())

			// 8 request and 255 reply characters of 11 bits: 301 ms at
			// 9600 baud. Only a lower bound: machines are noisy.
			wire := time.Duration(263*11)*time.Second/time.Duration(tt.baud) + tt.turnaround
			start := time.Now()
			send(t, pty, appendCRC([]byte{1, 0x03, 0, 0, 0, 125}))
			got := readN(t, pty, 255)
			if took := time.Since(start); took < wire {
				t.Errorf("125 registers at %d baud took %s; want at least %s", tt.baud, took, wire)
			}
			if !crcOK(got) || got[2] != 250 || got[3] != 0x03 || got[4] != 0xE8 {
				t.Errorf("reply % X...; want 250 bytes of registers from 1000 on", got[:8])
			}
			if st := s.Stats().Units[1]; st.WireTime != wire {
				t.Errorf("wire time %s; want %s", st.WireTime, wire)
			}
		})
	}
}

func TestRTUSilentInterval(t *testing.T) {
	t.Parallel()
	// At 1200 baud t3.5 is 32 ms, so a busy machine that delays the
	// client or the reader does not hide an immediate request.
	l := line{slowBaud}
	silence := l.silence()
	tests := []struct {
		name           string
		gap            time.Duration // after the first reply; <0: both requests at once
		wantViolations uint64
		wantCollisions uint64
	}{
		{name: "next request at once", gap: 0, wantViolations: 1},
		{name: "next request after t3.5", gap: 2 * silence},
		{name: "next request before the reply", gap: -1, wantCollisions: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := startRTU(t, testUnits(t), RTUConfig{Baud: l.baud})
			pty := openRaw(t, s.Path())
			if tt.gap < 0 {
				send(t, pty, append(slices.Clone(read1), read1...))
				readN(t, pty, 7)
				wantSilence(t, pty, l.chars(7)+100*time.Millisecond)
			} else {
				send(t, pty, read1)
				readN(t, pty, 7)
				time.Sleep(tt.gap)
				send(t, pty, read1)
				readN(t, pty, 7)
			}
			st := s.Stats()
			if st.SilentIntervalViolations != tt.wantViolations || st.Collisions != tt.wantCollisions {
				t.Errorf("violations %d, collisions %d; want %d, %d", st.SilentIntervalViolations,
					st.Collisions, tt.wantViolations, tt.wantCollisions)
			}
		})
	}
}

func TestRTUStats(t *testing.T) {
	t.Parallel()
	l := line{19200}
	s := startRTU(t, testUnits(t), RTUConfig{Baud: l.baud, Turnaround: time.Millisecond})
	pty := openRaw(t, s.Path())
	badCRC := slices.Clone(read3)
	badCRC[7] ^= 1
	steps := []struct {
		req   []byte
		reply int // length; 0 for none
	}{
		{req: read3, reply: 11},
		{req: badCRC},
		{req: appendCRC([]byte{3, 0x03, 0, 100, 0, 1})}, // no device
		{req: appendCRC([]byte{1, 0x03, 0, 99, 0, 1}), reply: 5},
	}
	for _, st := range steps {
		// Twice t3.5 of silence between frames, so none is a violation.
		time.Sleep(2 * l.silence())
		send(t, pty, st.req)
		if st.reply > 0 {
			readN(t, pty, st.reply)
		}
	}

	wire := l.chars(8+11) + l.chars(8+5) + 2*time.Millisecond
	want := Stats{
		Units:     map[byte]UnitStats{1: {Requests: 2, Responses: 2, Exceptions: 1, WireTime: wire}},
		NoDevice:  1,
		BadFrames: 1,
		WireTime:  wire,
	}
	if got := s.Stats(); !reflect.DeepEqual(got, want) {
		t.Errorf("stats\n got %+v\nwant %+v", got, want)
	}
}

// send writes b to w or fails the test.
func send(t testing.TB, w io.Writer, b []byte) {
	t.Helper()
	if _, err := w.Write(b); err != nil {
		t.Fatalf("send % X: %v", b, err)
	}
}

// wantSilence fails the test if anything arrives within d.
func wantSilence(t testing.TB, r deadlineReadWriter, d time.Duration) {
	t.Helper()
	_ = r.SetReadDeadline(time.Now().Add(d))
	b := make([]byte, maxFrame)
	if n, err := r.Read(b); n > 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("got % X, %v; want nothing for %s", b[:n], err, d)
	}
}

// TestRTUGoburrowBackToBack reads with goburrow, which sends a request as
// soon as it has the previous reply. Before reading it sleeps 1.5
// characters per byte of request and reply plus t3.5, which keeps t3.5
// by itself, unless the device's turnaround outlasts that sleep.
func TestRTUGoburrowBackToBack(t *testing.T) {
	t.Parallel()
	const reads = 3
	tests := []struct {
		name       string
		turnaround time.Duration
		want       uint64
	}{
		{name: "reply within goburrow's sleep", want: 0},
		{name: "reply after goburrow's sleep", turnaround: 100 * time.Millisecond,
			want: reads - 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := startRTU(t, testUnits(t), RTUConfig{Baud: slowBaud, Turnaround: tt.turnaround})
			c := goburrowRTU(t, s.Path(), slowBaud, 1)
			for range reads {
				if _, err := c.ReadHoldingRegisters(100, 1); err != nil {
					t.Fatal(err)
				}
			}
			if got := s.Stats().SilentIntervalViolations; got != tt.want {
				t.Errorf("violations %d; want %d", got, tt.want)
			}
		})
	}
}
