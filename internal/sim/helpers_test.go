package sim

import (
	"encoding/binary"
	"errors"
	"net"
	"testing"
	"time"

	goburrow "github.com/goburrow/modbus"
	"github.com/goburrow/serial"
)

// replyTimeout is how long a test client waits for an answer. It covers
// the wire time of the largest read at 9600 baud (about 300 ms) with a
// margin for a loaded machine, and it is paid once per silent case.
const replyTimeout = time.Second

// testBank returns a Bank with values next to gaps, so that an address
// shifted by one reads a gap and fails.
func testBank() *Bank {
	b := NewBank()
	b.SetRegisters(ReadHoldingRegisters, 0, 0x0102)
	b.SetRegisters(ReadHoldingRegisters, 100, 1, 2, 0xFFFF)
	b.SetRegisters(ReadInputRegisters, 30, 0x1234, 0x5678)
	b.SetBits(ReadCoils, 0, true, false, true)
	b.SetBits(ReadDiscreteInputs, 7, true)
	return b
}

// bigBank returns a Bank whose holding registers 0..124 hold 1000+address,
// for the largest read there is.
func bigBank() *Bank {
	b := NewBank()
	for a := range uint16(maxReadRegisters) {
		b.SetRegisters(ReadHoldingRegisters, a, 1000+a)
	}
	return b
}

// testUnits returns a table with testBank as unit 1 and a second bank
// holding 0x2222 at 100 as unit 2.
func testUnits(t testing.TB) *Units {
	t.Helper()
	u := NewUnits()
	two := NewBank()
	two.SetRegisters(ReadHoldingRegisters, 100, 0x2222)
	mustSet(t, u.SetDevice(1, testBank()))
	mustSet(t, u.SetDevice(2, two))
	return u
}

func mustSet(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// startRTU serves units on a pty for the length of the test.
func startRTU(t testing.TB, units *Units, cfg RTUConfig) *RTUServer {
	t.Helper()
	s, err := ServeRTU(t.Context(), units, cfg)
	if err != nil {
		t.Fatalf("ServeRTU(%+v): %v", cfg, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// startTCP serves units on a loopback port for the length of the test.
func startTCP(t testing.TB, units *Units, cfg TCPConfig) *TCPServer {
	t.Helper()
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	s, err := ServeTCP(t.Context(), units, cfg)
	if err != nil {
		t.Fatalf("ServeTCP(%+v): %v", cfg, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// goburrowRTU is goburrow's own RTU client on the pty's slave end, 8N1.
func goburrowRTU(t testing.TB, path string, baud int, unit byte) goburrow.Client {
	t.Helper()
	h := goburrow.NewRTUClientHandler(path)
	h.BaudRate, h.DataBits, h.Parity, h.StopBits = baud, 8, "N", 1
	h.SlaveId, h.Timeout = unit, replyTimeout
	if err := h.Connect(); err != nil {
		t.Fatalf("open %q with goburrow: %v", path, err)
	}
	t.Cleanup(func() { _ = h.Close() })
	return goburrow.NewClient(h)
}

// goburrowTCP is goburrow's TCP client.
func goburrowTCP(t testing.TB, addr string, unit byte) goburrow.Client {
	t.Helper()
	h := goburrow.NewTCPClientHandler(addr)
	h.SlaveId, h.Timeout = unit, replyTimeout
	if err := h.Connect(); err != nil {
		t.Fatalf("connect to %s with goburrow: %v", addr, err)
	}
	t.Cleanup(func() { _ = h.Close() })
	return goburrow.NewClient(h)
}

// modbusRead is one of goburrow's read methods, taken as a method
// expression so that a table row can name the function code.
type modbusRead func(c goburrow.Client, addr, qty uint16) ([]byte, error)

var (
	readHolding  modbusRead = goburrow.Client.ReadHoldingRegisters
	readInput    modbusRead = goburrow.Client.ReadInputRegisters
	readCoils    modbusRead = goburrow.Client.ReadCoils
	readDiscrete modbusRead = goburrow.Client.ReadDiscreteInputs
)

// exceptionOf returns the exception code in goburrow's error, or 0.
func exceptionOf(err error) byte {
	var me *goburrow.ModbusError
	if errors.As(err, &me) {
		return me.ExceptionCode
	}
	return 0
}

// timedOut reports whether err says that no reply came: goburrow's serial
// port and TCP connection say so differently.
func timedOut(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout() || errors.Is(err, serial.ErrTimeout)
}

func regWords(vals ...uint16) []byte {
	var b []byte
	for _, v := range vals {
		b = binary.BigEndian.AppendUint16(b, v)
	}
	return b
}

// dialRaw connects to a TCP server, for exchanges byte by byte.
func dialRaw(t testing.TB, addr string) net.Conn {
	t.Helper()
	var d net.Dialer
	c, err := d.DialContext(t.Context(), "tcp", addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}
