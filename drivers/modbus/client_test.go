package modbus

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/esep-kz/esep/internal/testkit"
)

// pymodbusRegisters are served by pymodbus, a Modbus implementation esep did
// not write. Values sit next to gaps, so that a read shifted by one
// address fails with exception 2.
var pymodbusRegisters = testkit.RegisterMap{
	1: {
		Holding:  map[uint16]uint16{100: 1, 101: 2, 102: 0xffff},
		Input:    map[uint16]uint16{30: 0x1234, 31: 0x5678},
		Coils:    map[uint16]bool{0: true, 1: false, 2: true},
		Discrete: map[uint16]bool{7: true},
	},
	2: {Holding: map[uint16]uint16{100: 0x2222}},
}

// pymodbusReads are asked of pymodbus in this order on one client, so that
// a silent unit is followed by reads that must get their own answers.
var pymodbusReads = []struct {
	name        string
	slave       byte
	fn          Function
	addr, count uint16
	want        any // []uint16, []bool, an ExceptionCode or an error
}{
	{"holding registers", 1, FuncHolding, 100, 3, []uint16{1, 2, 0xffff}},
	{"input registers", 1, FuncInput, 30, 2, []uint16{0x1234, 0x5678}},
	{"coils", 1, FuncCoils, 0, 3, []bool{true, false, true}},
	{"discrete input", 1, FuncDiscrete, 7, 1, []bool{true}},
	{"address before a block", 1, FuncHolding, 99, 1, IllegalDataAddress},
	{"read past a block", 1, FuncHolding, 101, 3, IllegalDataAddress},
	{"second unit", 2, FuncHolding, 100, 1, []uint16{0x2222}},
	{"unit without a device", 3, FuncHolding, 100, 1, ErrTimeout},
	{"first unit after the silent one", 1, FuncHolding, 101, 1, []uint16{2}},
	{"second unit after the silent one", 2, FuncHolding, 100, 1, []uint16{0x2222}},
}

// pymodbusTimeout is short, as pymodbus answers on loopback within
// milliseconds, and the silent unit costs it once (twice over RTU, with
// the guard).
const pymodbusTimeout = 500 * time.Millisecond

func TestPymodbusTCP(t *testing.T) {
	t.Parallel()
	srv := testkit.StartModbusTCP(t, pymodbusRegisters)
	c := NewClient(newTestTCP(t, srv.Addr(), TCPOptions{Timeout: pymodbusTimeout}))
	checkPymodbusReads(t, c)
}

func TestPymodbusRTU(t *testing.T) {
	t.Parallel()
	srv := testkit.StartModbusRTU(t, pymodbusRegisters, 9600)
	c := NewClient(newTestSerialRTU(t, srv.Device(), RTUOptions{Timeout: pymodbusTimeout}, 9600))
	checkPymodbusReads(t, c)
}

// checkPymodbusReads runs pymodbusReads on c in order.
func checkPymodbusReads(t *testing.T, c *Client) {
	for _, tt := range pymodbusReads {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readSlave(c, tt.slave, tt.fn, tt.addr, tt.count)
			var exc *ExceptionError
			switch want := tt.want.(type) {
			case ExceptionCode:
				if !errors.As(err, &exc) || exc.Code != want || exc.Class() != ClassPermanent {
					t.Errorf("got %v, %v; want exception %d, class permanent", got, err, want)
				}
			case error:
				if !errors.Is(err, want) {
					t.Errorf("got %v, %v; want %v", got, err, want)
				}
			default:
				if err != nil || !reflect.DeepEqual(got, want) {
					t.Errorf("got %v, %v; want %v", got, err, want)
				}
			}
		})
	}
}

// readSlave reads registers or bits, as fn asks.
func readSlave(c *Client, slave byte, fn Function, addr, count uint16) (any, error) {
	ctx := context.Background()
	if fn == FuncCoils || fn == FuncDiscrete {
		return c.ReadBits(ctx, slave, fn, addr, count)
	}
	return c.ReadRegisters(ctx, slave, fn, addr, count)
}

// TestPymodbusRestart reads through a slave's kill and restart on one
// client: a connection error while it is down, a value once it is back.
func TestPymodbusRestart(t *testing.T) {
	t.Parallel()
	srv := testkit.StartModbusTCP(t, pymodbusRegisters)
	c := NewClient(newTestTCP(t, srv.Addr(), TCPOptions{Timeout: pymodbusTimeout}))
	ctx := context.Background()
	if _, err := c.ReadRegisters(ctx, 1, FuncHolding, 100, 1); err != nil {
		t.Fatalf("read before kill: %v", err)
	}

	srv.Kill()
	if got, err := c.ReadRegisters(ctx, 1, FuncHolding, 100, 1); !errors.Is(err, ErrConnection) {
		t.Errorf("read after kill: got %v, %v; want ErrConnection", got, err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	if got, err := c.ReadRegisters(ctx, 1, FuncHolding, 100, 1); err != nil || got[0] != 1 {
		t.Errorf("read after restart: got %v, %v; want [1]", got, err)
	}
}

// TestClientConcurrentReads has many goroutines share one client: the
// bus sees one transaction at a time and each gets its own answer.
func TestClientConcurrentReads(t *testing.T) {
	t.Parallel()
	srv := testkit.StartModbusTCP(t, pymodbusRegisters)
	c := NewClient(newTestTCP(t, srv.Addr(), TCPOptions{Timeout: 2 * time.Second}))

	const readers, reads = 8, 10
	var wg sync.WaitGroup
	for r := range readers {
		wg.Go(func() {
			for range reads {
				slave, addr, want := byte(1), uint16(101), uint16(2)
				if r%2 == 1 {
					slave, addr, want = 2, 100, 0x2222
				}
				got, err := c.ReadRegisters(context.Background(), slave, FuncHolding, addr, 1)
				if err != nil || got[0] != want {
					t.Errorf("reader %d: got %v, %v; want [%#x]", r, got, err, want)
					return
				}
			}
		})
	}
	wg.Wait()

	s := c.Stats()
	if s.Requests != readers*reads || s.Replies != readers*reads || s.Sent != readers*reads {
		t.Errorf("stats %+v, want %d requests sent and answered", s, readers*reads)
	}
	if s.WireTime <= 0 {
		t.Errorf("no wire time recorded: %+v", s)
	}
}

func TestClientRejectsRequests(t *testing.T) {
	tests := []struct {
		name        string
		fn          Function
		bits        bool
		addr, count uint16
	}{
		{"coils through ReadRegisters", FuncCoils, false, 0, 1},
		{"holding through ReadBits", FuncHolding, true, 0, 1},
		{"unknown function", 7, false, 0, 1},
		{"no registers", FuncHolding, false, 0, 0},
		{"126 registers", FuncInput, false, 0, 126},
		{"2001 coils", FuncCoils, true, 0, 2001},
		{"past address 65535", FuncHolding, false, 0xFFFF, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			line := &scriptLine{}
			tr, err := NewTCP("script", line.opener(), TCPOptions{})
			if err != nil {
				t.Fatal(err)
			}
			c := NewClient(tr)

			ctx := context.Background()
			if tt.bits {
				_, err = c.ReadBits(ctx, 1, tt.fn, tt.addr, tt.count)
			} else {
				_, err = c.ReadRegisters(ctx, 1, tt.fn, tt.addr, tt.count)
			}
			if !errors.Is(err, ErrInvalidRequest) || len(line.written) > 0 {
				t.Errorf("got %v after sending % X; want ErrInvalidRequest, nothing sent",
					err, line.written)
			}
		})
	}
}

func TestClientBitOrder(t *testing.T) {
	// 10 coils: bits 0-7 in the first byte, least significant first
	// (application protocol §6.1), then bits 8-9.
	line := &scriptLine{chunks: [][]byte{wireBytes(t, "00 01 00 00 00 05 01 01 02 CD 01")}}
	tr, err := NewTCP("script", line.opener(), TCPOptions{})
	if err != nil {
		t.Fatal(err)
	}

	got, err := NewClient(tr).ReadBits(context.Background(), 1, FuncCoils, 0, 10)
	want := []bool{true, false, true, true, false, false, true, true, true, false}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, %v; want %v", got, err, want)
	}
}

func TestClientClosed(t *testing.T) {
	line := &scriptLine{}
	tr, err := NewTCP("script", line.opener(), TCPOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c := NewClient(tr)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}

	_, err = c.ReadRegisters(context.Background(), 1, FuncHolding, 0, 1)
	if !errors.Is(err, ErrClosed) {
		t.Errorf("read after Close: %v, want ErrClosed", err)
	}
	if s := c.Stats(); s.Other != 1 {
		t.Errorf("stats %+v, want the read counted under Other", s)
	}
}
