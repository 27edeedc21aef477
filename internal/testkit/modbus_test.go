package testkit

import (
	"bytes"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/goburrow/modbus"
	"github.com/goburrow/serial"
)

// modbusReplyTimeout is how long a client waits before deciding that no
// reply comes. pymodbus answers on loopback within milliseconds; the margin is
// for a loaded CI machine, and it is paid once per silent case.
const modbusReplyTimeout = time.Second

// rtuBaud is the rate most electricity meters ship with.
const rtuBaud = 9600

// modbusRegisters puts values next to gaps, so that an address shifted by
// one, pymodbus's default, reads a gap and fails. Unit 255 makes the
// framer of pymodbus pass every unit id on, so that the silence of unit 3
// rests on ignore_missing_slaves and not on the framer dropping it.
var modbusRegisters = RegisterMap{
	255: {Input: map[uint16]uint16{0: 0xff}},
	1: {
		Holding:  map[uint16]uint16{0: 0x0102, 100: 1, 101: 2, 102: 0xffff},
		Input:    map[uint16]uint16{30: 0x1234, 31: 0x5678},
		Coils:    map[uint16]bool{0: true, 1: false, 2: true},
		Discrete: map[uint16]bool{7: true},
	},
	2: {Holding: map[uint16]uint16{100: 0x2222}},
}

// modbusRead is one of goburrow's read methods, taken as a method
// expression so that a table row can name the function code.
type modbusRead func(c modbus.Client, addr, qty uint16) ([]byte, error)

var (
	readHolding  modbusRead = modbus.Client.ReadHoldingRegisters
	readInput    modbusRead = modbus.Client.ReadInputRegisters
	readCoils    modbusRead = modbus.Client.ReadCoils
	readDiscrete modbusRead = modbus.Client.ReadDiscreteInputs
)

// modbusReadCases are the requests sent to every kind of slave. A row wants
// data, an exception code, or no reply when silent is set.
var modbusReadCases = []struct {
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
		exception: modbus.ExceptionCodeIllegalDataAddress},
	{name: "no address shift after address 0", unit: 1, read: readHolding, addr: 1, qty: 1,
		exception: modbus.ExceptionCodeIllegalDataAddress},
	{name: "read past the end of a block", unit: 1, read: readHolding, addr: 101, qty: 3,
		exception: modbus.ExceptionCodeIllegalDataAddress},
	{name: "input registers", unit: 1, read: readInput, addr: 30, qty: 2,
		want: regWords(0x1234, 0x5678)},
	{name: "input register not in map", unit: 1, read: readInput, addr: 0, qty: 1,
		exception: modbus.ExceptionCodeIllegalDataAddress},
	{name: "coils", unit: 1, read: readCoils, addr: 0, qty: 3, want: []byte{0b101}},
	{name: "discrete input", unit: 1, read: readDiscrete, addr: 7, qty: 1, want: []byte{1}},
	{name: "second unit", unit: 2, read: readHolding, addr: 100, qty: 1, want: regWords(0x2222)},
	{name: "units do not share registers", unit: 2, read: readHolding, addr: 101, qty: 1,
		exception: modbus.ExceptionCodeIllegalDataAddress},
	{name: "unit 255", unit: 255, read: readInput, addr: 0, qty: 1, want: regWords(0xff)},
	{name: "unit not in map", unit: 3, read: readHolding, addr: 100, qty: 1, silent: true},
}

func TestModbusTCP(t *testing.T) {
	t.Parallel()
	srv := StartModbusTCP(t, modbusRegisters)
	checkModbusReads(t, func(t *testing.T, unit byte) modbus.Client {
		return goburrowTCP(t, srv.Addr(), unit)
	})
}

func TestModbusRTU(t *testing.T) {
	t.Parallel()
	srv := StartModbusRTU(t, modbusRegisters, rtuBaud)
	checkModbusReads(t, func(t *testing.T, unit byte) modbus.Client {
		return goburrowRTU(t, srv.Device(), unit)
	})
}

func TestModbusRestart(t *testing.T) {
	t.Parallel()
	t.Run("tcp", func(t *testing.T) {
		t.Parallel()
		srv := StartModbusTCP(t, modbusRegisters)
		// goburrow keeps using a connection whose peer died, so each
		// read dials afresh.
		checkModbusRestart(t, srv, func() modbus.Client { return goburrowTCP(t, srv.Addr(), 1) })
	})
	t.Run("rtu", func(t *testing.T) {
		t.Parallel()
		srv := StartModbusRTU(t, modbusRegisters, rtuBaud)
		// One open port throughout: the pty pair outlives the slave.
		c := goburrowRTU(t, srv.Device(), 1)
		checkModbusRestart(t, srv, func() modbus.Client { return c })
	})
}

// TestModbusSetMap swaps the map of a slave across a restart on the same
// address, as a meter is swapped on its bus.
func TestModbusSetMap(t *testing.T) {
	t.Parallel()
	srv := StartModbusTCP(t, modbusRegisters)
	wantHolding100(t, goburrowTCP(t, srv.Addr(), 1), "before the swap")

	swapped := RegisterMap{1: {Holding: map[uint16]uint16{100: 0xbeef}}}
	if err := srv.SetMap(swapped); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	if err := srv.Start(); err != nil {
		t.Fatalf("restart with the new map: %v", err)
	}
	got, err := goburrowTCP(t, srv.Addr(), 1).ReadHoldingRegisters(100, 1)
	if want := regWords(0xbeef); err != nil || !bytes.Equal(got, want) {
		t.Errorf("holding register 100 after the swap: got %x, %v; want %x", got, err, want)
	}
}

// checkModbusReads sends every row of modbusReadCases through a fresh
// client, so that a row left waiting for a reply cannot confuse the next.
func checkModbusReads(t *testing.T, client func(t *testing.T, unit byte) modbus.Client) {
	for _, tc := range modbusReadCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.read(client(t, tc.unit), tc.addr, tc.qty)
			switch {
			case tc.silent:
				if !noReply(err) {
					t.Errorf("unit %d address %d: got %x, %v; want no reply",
						tc.unit, tc.addr, got, err)
				}
			case tc.exception != 0:
				var me *modbus.ModbusError
				if !errors.As(err, &me) || me.ExceptionCode != tc.exception {
					t.Errorf("unit %d address %d: got %x, %v; want exception %d",
						tc.unit, tc.addr, got, err, tc.exception)
				}
			case err != nil || !bytes.Equal(got, tc.want):
				t.Errorf("unit %d address %d: got %x, %v; want %x",
					tc.unit, tc.addr, got, err, tc.want)
			}
		})
	}
}

// checkModbusRestart kills, stops and restarts srv and checks that it
// answers only while running.
func checkModbusRestart(t *testing.T, srv *ModbusServer, client func() modbus.Client) {
	t.Helper()
	wantHolding100(t, client(), "after start")

	// Another address than wantHolding100 reads: should the restarted
	// slave answer this request late, the next read gets the wrong value.
	srv.Kill()
	if got, err := client().ReadHoldingRegisters(101, 1); err == nil {
		t.Errorf("read after kill: got %x; want an error", got)
	}
	if err := srv.Start(); err != nil {
		t.Fatalf("restart after kill: %v", err)
	}
	wantHolding100(t, client(), "after restart from kill")

	srv.Stop()
	if err := srv.Start(); err != nil {
		t.Fatalf("restart after stop: %v", err)
	}
	wantHolding100(t, client(), "after restart from stop")
}

func wantHolding100(t *testing.T, c modbus.Client, when string) {
	t.Helper()
	got, err := c.ReadHoldingRegisters(100, 1)
	if want := regWords(1); err != nil || !bytes.Equal(got, want) {
		t.Errorf("holding register 100 of unit 1 %s: got %x, %v; want %x", when, got, err, want)
	}
}

func goburrowTCP(t *testing.T, addr string, unit byte) modbus.Client {
	t.Helper()
	h := modbus.NewTCPClientHandler(addr)
	h.SlaveId = unit
	h.Timeout = modbusReplyTimeout
	t.Cleanup(func() { _ = h.Close() })
	return modbus.NewClient(h)
}

func goburrowRTU(t *testing.T, device string, unit byte) modbus.Client {
	t.Helper()
	h := modbus.NewRTUClientHandler(device)
	h.BaudRate = rtuBaud
	h.DataBits = 8
	h.Parity = "N"
	h.StopBits = 1
	h.SlaveId = unit
	h.Timeout = modbusReplyTimeout
	t.Cleanup(func() { _ = h.Close() })
	return modbus.NewClient(h)
}

// noReply reports whether err means that no reply came, over TCP or
// over goburrow's serial port.
func noReply(err error) bool {
	var ne net.Error
	return errors.Is(err, serial.ErrTimeout) || errors.As(err, &ne) && ne.Timeout()
}

// regWords encodes register values as they travel: big-endian.
func regWords(vals ...uint16) []byte {
	b := make([]byte, 0, 2*len(vals))
	for _, v := range vals {
		b = append(b, byte(v>>8), byte(v))
	}
	return b
}
