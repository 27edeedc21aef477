package testkit

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// pymodbusScript serves a RegisterMap; it targets the API of pymodbus
// 3.0.0rc1 as Debian 12 ships it in python3-pymodbus.
//
//go:embed pymodbus_server.py
var pymodbusScript []byte

// UnitRegisters is the data one Modbus slave holds, keyed by the address
// a request carries on the wire: 0-based PDU addresses, not the 4xxxx
// numbers of meter manuals. An address missing from its table is answered
// with exception 2, illegal data address; writes to a present address are
// kept until the slave restarts.
type UnitRegisters struct {
	Holding  map[uint16]uint16 `json:"holding,omitempty"`
	Input    map[uint16]uint16 `json:"input,omitempty"`
	Coils    map[uint16]bool   `json:"coils,omitempty"`
	Discrete map[uint16]bool   `json:"discrete,omitempty"`
}

// RegisterMap is what a ModbusServer serves, per unit (slave) id. A
// request to a unit missing from the map gets no reply at all, as on a
// bus where no device has that address, so the client times out.
type RegisterMap map[byte]UnitRegisters

// ModbusServer is a pymodbus slave serving a fixed RegisterMap, over TCP
// on a loopback port or as RTU behind a socat pseudo-terminal pair.
type ModbusServer struct {
	python    *Process
	socat     *Process // nil over TCP
	readyFile string
	mapFile   string // the RegisterMap as JSON, read at each Start
	addr      string // host:port over TCP
	device    string // client end of the pty pair over RTU
}

// StartModbusTCP starts a Modbus TCP slave on 127.0.0.1 serving regs and
// waits until it accepts connections. It is stopped when the test ends.
func StartModbusTCP(t testing.TB, regs RegisterMap) *ModbusServer {
	t.Helper()
	python := pymodbusPython(t)
	dir := t.TempDir()
	script, regsFile := writeSlaveFiles(t, dir, regs)

	var s *ModbusServer
	err := onFreePort(t, func(n int) error {
		port := strconv.Itoa(n)
		s = &ModbusServer{
			readyFile: filepath.Join(dir, "ready"),
			mapFile:   regsFile,
			addr:      net.JoinHostPort("127.0.0.1", port),
		}
		// Python's bind error reaches err through the log tail.
		s.python = NewProcess(t, python, script,
			"--map", regsFile, "--port", port, "--ready", s.readyFile)
		return s.Start()
	})
	if err != nil {
		t.Fatalf("start Modbus TCP slave: %v", err)
	}
	t.Cleanup(s.close)
	return s
}

// StartModbusRTU starts a Modbus RTU slave serving regs at the given baud
// rate on one end of a socat pseudo-terminal pair; Device names the end
// for the client. Both are stopped when the test ends, the slave first.
func StartModbusRTU(t testing.TB, regs RegisterMap, baud int) *ModbusServer {
	t.Helper()
	if baud <= 0 {
		t.Fatalf("start Modbus RTU slave: baud rate %d is not positive", baud)
	}
	python := pymodbusPython(t)
	socat := LookBinary(t, "socat", "socat")
	dir := ptyDir(t)
	script, regsFile := writeSlaveFiles(t, dir, regs)
	slave, client := filepath.Join(dir, "slave"), filepath.Join(dir, "client")

	// raw and echo=0 so that the line discipline passes binary frames
	// untouched and sends nothing back on its own.
	s := &ModbusServer{readyFile: filepath.Join(dir, "ready"), mapFile: regsFile,
		device: client}
	s.socat = NewProcess(t, socat, "-d",
		"pty,raw,echo=0,link="+slave, "pty,raw,echo=0,link="+client)
	if err := s.socat.startAndWait(linksExist(slave, client)); err != nil {
		t.Fatalf("start pty pair for Modbus RTU slave in %q: %v", dir, err)
	}

	s.python = NewProcess(t, python, script, "--map", regsFile,
		"--device", slave, "--baud", strconv.Itoa(baud), "--ready", s.readyFile)
	if err := s.Start(); err != nil {
		t.Fatalf("start Modbus RTU slave: %v", err)
	}
	t.Cleanup(s.close)
	return s
}

// Addr returns the slave's host:port over TCP, or "" over RTU.
func (s *ModbusServer) Addr() string { return s.addr }

// Device returns the serial device a client opens over RTU, or "" over
// TCP. It stays valid across Stop and Start.
func (s *ModbusServer) Device() string { return s.device }

// Start runs the slave again after Stop or Kill, with the same map on the
// same address or device, and waits until it serves requests. Requests
// sent over RTU while it was down are not answered late: the unread input
// of the pty is gone once its slave end is opened again (seen on Linux 6
// with socat 1.7.4, and guarded by TestModbusRestart).
func (s *ModbusServer) Start() error {
	err := os.Remove(s.readyFile)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("reset ready file of Modbus slave %q: %w", s.where(), err)
	}
	if err := s.python.startAndWait(s.ready); err != nil {
		return fmt.Errorf("start Modbus slave %q: %w", s.where(), err)
	}
	return nil
}

// SetMap makes the slave serve regs from its next Start on, as a meter
// swapped for another while the bus stays: the address or device stays
// the same.
func (s *ModbusServer) SetMap(regs RegisterMap) error {
	b, err := json.Marshal(regs)
	if err != nil {
		return fmt.Errorf("encode register map of Modbus slave %q: %w", s.where(), err)
	}
	if err := os.WriteFile(s.mapFile, b, 0o644); err != nil {
		return fmt.Errorf("write register map of Modbus slave %q: %w", s.where(), err)
	}
	return nil
}

// Stop ends the slave with SIGTERM. Over RTU the pty pair stays, as the
// bus stays when a meter loses power: a client's open port keeps working
// and its requests time out until Start.
func (s *ModbusServer) Stop() { s.python.Stop() }

// Kill ends the slave with SIGKILL; see Stop for what remains.
func (s *ModbusServer) Kill() { s.python.Kill() }

// close stops the slave before socat, so that pymodbus never sees its
// serial device vanish under it.
func (s *ModbusServer) close() {
	s.python.Stop()
	if s.socat != nil {
		s.socat.Stop()
	}
}

func (s *ModbusServer) where() string {
	if s.device != "" {
		return s.device
	}
	return s.addr
}

// ready reports whether the slave serves requests. The script creates the
// ready file once its port is bound or its device open; over TCP one dial
// also proves that the port is pymodbus's and not a process that won a
// race for it.
func (s *ModbusServer) ready(ctx context.Context) error {
	if _, err := os.Stat(s.readyFile); err != nil {
		return err
	}
	if s.addr == "" {
		return nil
	}

	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", s.addr)
	if err != nil {
		return err
	}
	return c.Close()
}

// linksExist returns a readiness check for socat: it creates each link
// only after it has opened that pty.
func linksExist(paths ...string) func(context.Context) error {
	return func(context.Context) error {
		for _, p := range paths {
			if _, err := os.Stat(p); err != nil {
				return err
			}
		}
		return nil
	}
}

// ptyDir returns a directory whose path socat can take in an address.
// socat splits addresses at ',' and ':' and treats quotes, brackets and
// '!' specially, and t.TempDir keeps such characters from subtest names.
func ptyDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	if strings.IndexFunc(dir, socatSpecial) < 0 {
		return dir
	}

	dir, err := os.MkdirTemp("", "esep-pty-")
	if err != nil {
		t.Fatalf("make directory for pty links: %v", err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

func socatSpecial(r rune) bool {
	ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
		strings.ContainsRune("/._-", r)
	return !ok
}

// writeSlaveFiles writes the pymodbus script and regs as JSON into dir.
func writeSlaveFiles(t testing.TB, dir string, regs RegisterMap) (script, regsFile string) {
	t.Helper()
	b, err := json.Marshal(regs)
	if err != nil {
		t.Fatalf("encode register map for pymodbus: %v", err)
	}

	script = filepath.Join(dir, "pymodbus_server.py")
	regsFile = filepath.Join(dir, "registers.json")
	for name, data := range map[string][]byte{script: pymodbusScript, regsFile: b} {
		if err := os.WriteFile(name, data, 0o644); err != nil {
			t.Fatalf("write %q for pymodbus: %v", name, err)
		}
	}
	return script, regsFile
}

// pymodbusPython returns a Python that can import pymodbus, or skips or
// fails the test as Missing describes.
func pymodbusPython(t testing.TB) string {
	t.Helper()
	p := findPymodbusPython()
	if p == "" {
		Missing(t, "pymodbus for /usr/bin/python3 or python3 in PATH",
			"apt-get install python3-pymodbus python3-serial python3-serial-asyncio, or make test")
	}
	return p
}

// findPymodbusPython tries /usr/bin/python3 first: Debian installs
// python3-pymodbus into /usr/lib/python3/dist-packages, which only that
// interpreter reads, while a pyenv or venv python3 often comes first in
// PATH. Importing pymodbus.server also checks pyserial-asyncio, which
// pymodbus 3.0 needs even for TCP.
var findPymodbusPython = sync.OnceValue(func() string {
	for _, name := range []string{"/usr/bin/python3", "python3"} {
		p, err := exec.LookPath(name)
		if err != nil {
			continue
		}

		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		err = exec.CommandContext(ctx, p, "-c", "import pymodbus.server").Run()
		cancel()
		if err == nil {
			return p
		}
	}
	return ""
})
