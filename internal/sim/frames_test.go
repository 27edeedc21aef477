package sim

import (
	"bytes"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// frameCase is one field report in testdata/frames: a unit's registers,
// its faults, a request as the client sent it and the reply it must get.
type frameCase struct {
	transport string
	unit      byte
	bank      *Bank
	faults    Faults
	noDevice  Exception
	request   []byte
	reply     []byte
}

// TestFrames sends each request of testdata/frames to a server set up as
// the file says and compares the reply byte for byte.
func TestFrames(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("testdata/frames/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no frame cases in testdata/frames: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
			t.Parallel()
			fc := parseFrameCase(t, file)
			start := time.Now()
			got := fc.exchange(t)
			if !bytes.Equal(got, fc.reply) {
				t.Fatalf("request % X\n got % X\nwant % X", fc.request, got, fc.reply)
			}
			// A split reply takes at least its gaps.
			gaps := time.Duration(len(fc.faults.Chunks)) * fc.faults.ChunkGap
			if took := time.Since(start); took < gaps {
				t.Errorf("reply took %s; want at least the gaps, %s", took, gaps)
			}
		})
	}
}

// exchange serves the case, sends its request and reads a reply as long
// as the one expected.
func (fc *frameCase) exchange(t *testing.T) []byte {
	units := NewUnits()
	if fc.unit != 0 {
		mustSet(t, units.SetDevice(fc.unit, fc.bank))
		mustSet(t, units.SetFaults(fc.unit, fc.faults))
	}

	var conn deadlineReadWriter
	switch fc.transport {
	case "rtu":
		conn = openRaw(t, startRTU(t, units, RTUConfig{Baud: 19200}).Path())
	case "tcp":
		conn = dialRaw(t, startTCP(t, units, TCPConfig{NoDevice: fc.noDevice}).Addr())
	default:
		t.Fatalf("transport %q is neither rtu nor tcp", fc.transport)
	}
	if _, err := conn.Write(fc.request); err != nil {
		t.Fatalf("send % X: %v", fc.request, err)
	}
	return readN(t, conn, len(fc.reply))
}

// parseFrameCase reads lines of "key: value"; # starts a comment line.
func parseFrameCase(t *testing.T, file string) *frameCase {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	fc := &frameCase{bank: NewBank()}
	for i, ln := range strings.Split(string(b), "\n") {
		key, val, ok := strings.Cut(ln, ":")
		if ln == "" || strings.HasPrefix(ln, "#") {
			continue
		}
		if !ok {
			t.Fatalf("%s:%d: %q is not key: value", file, i+1, ln)
		}
		if err := fc.set(key, strings.Fields(val)); err != nil {
			t.Fatalf("%s:%d: %s: %v", file, i+1, key, err)
		}
	}
	return fc
}

func (fc *frameCase) set(key string, f []string) error {
	var err error
	switch key {
	case "transport":
		fc.transport = f[0]
	case "unit":
		fc.unit, err = parseByte(f[0])
	case "nodevice":
		var code byte
		code, err = parseByte(f[0])
		fc.noDevice = Exception(code)
	case "holding", "input":
		err = fc.setRegisters(key, f)
	case "chunks":
		for _, s := range f {
			n, err := strconv.Atoi(s)
			if err != nil {
				return err
			}
			fc.faults.Chunks = append(fc.faults.Chunks, n)
		}
	case "gap":
		fc.faults.ChunkGap, err = time.ParseDuration(f[0])
	case "request":
		fc.request, err = appendHex(fc.request, f)
	case "reply":
		fc.reply, err = appendHex(fc.reply, f)
	default:
		return strconv.ErrSyntax
	}
	return err
}

// setRegisters takes an address and the hex words stored from it on.
func (fc *frameCase) setRegisters(table string, f []string) error {
	addr, err := strconv.ParseUint(f[0], 0, 16)
	if err != nil {
		return err
	}
	words, err := appendHex(nil, f[1:])
	if err != nil {
		return err
	}
	fn := ReadHoldingRegisters
	if table == "input" {
		fn = ReadInputRegisters
	}
	for i := 0; i+1 < len(words); i += 2 {
		fc.bank.SetRegisters(fn, uint16(int(addr)+i/2), uint16(words[i])<<8|uint16(words[i+1]))
	}
	return nil
}

func parseByte(s string) (byte, error) {
	n, err := strconv.ParseUint(s, 0, 8)
	return byte(n), err
}

func appendHex(b []byte, fields []string) ([]byte, error) {
	more, err := hex.DecodeString(strings.Join(fields, ""))
	return append(b, more...), err
}

// deadlineReadWriter is a pty's slave end or a TCP connection.
type deadlineReadWriter interface {
	io.ReadWriter
	SetReadDeadline(time.Time) error
}

// openRaw opens the slave end of a pty as a plain file, for exchanges
// byte by byte. The line is raw: ServeRTU set it so.
func openRaw(t testing.TB, path string) *os.File {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open %q: %v", path, err)
	}
	t.Cleanup(func() { _ = f.Close() })
	return f
}

// readN reads n bytes within replyTimeout, or fails the test with what
// came.
func readN(t testing.TB, r deadlineReadWriter, n int) []byte {
	t.Helper()
	_ = r.SetReadDeadline(time.Now().Add(replyTimeout))
	b := make([]byte, n)
	got, err := io.ReadFull(r, b)
	if err != nil {
		t.Fatalf("read %d bytes: got % X: %v", n, b[:got], err)
	}
	return b
}
