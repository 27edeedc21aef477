package modbus

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/esep-kz/esep/internal/testkit"
)

func TestSerialConfig(t *testing.T) {
	good := SerialConfig{Device: "/dev/ttyUSB0", Baud: 9600, DataBits: 8, Parity: "E", StopBits: 1}
	tests := []struct {
		name   string
		change func(c *SerialConfig)
		want   error
	}{
		{"8E1", func(c *SerialConfig) {}, nil},
		{"7O2", func(c *SerialConfig) { c.DataBits, c.Parity, c.StopBits = 7, "O", 2 }, nil},
		{"8N2", func(c *SerialConfig) { c.Parity, c.StopBits = "N", 2 }, nil},
		{"no device", func(c *SerialConfig) { c.Device = "" }, ErrConfig},
		{"no baud rate", func(c *SerialConfig) { c.Baud = 0 }, ErrConfig},
		{"6 data bits", func(c *SerialConfig) { c.DataBits = 6 }, ErrConfig},
		{"mark parity", func(c *SerialConfig) { c.Parity = "M" }, ErrConfig},
		{"lower-case parity", func(c *SerialConfig) { c.Parity = "e" }, ErrConfig},
		{"1.5 stop bits", func(c *SerialConfig) { c.StopBits = 0 }, ErrConfig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := good
			tt.change(&cfg)
			_, err := SerialLine(cfg)
			if !errors.Is(err, tt.want) || (err == nil) != (tt.want == nil) {
				t.Errorf("SerialLine(%+v) = %v, want %v", cfg, err, tt.want)
			}
		})
	}
}

// TestSerialLineDeadline checks that a Read on a real pty waits for the
// deadline and then fails as a net.Conn would, and that DiscardInput
// drops what the peer sent before.
func TestSerialLineDeadline(t *testing.T) {
	t.Parallel()
	peerDev, device := startPtyPair(t)
	peer, err := os.OpenFile(peerDev, os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()

	open, err := SerialLine(SerialConfig{Device: device, Baud: 9600, DataBits: 8, Parity: "N",
		StopBits: 1})
	if err != nil {
		t.Fatal(err)
	}
	line, err := open(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer line.Close()

	if _, err := peer.Write([]byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // through socat into the line's input
	if err := line.DiscardInput(); err != nil {
		t.Fatal(err)
	}

	const wait = 120 * time.Millisecond
	start := time.Now()
	if err := line.SetDeadline(start.Add(wait)); err != nil {
		t.Fatal(err)
	}
	n, err := line.Read(make([]byte, 8))
	took := time.Since(start)
	if n != 0 || !deadlinePassed(err) || took < wait || took > wait+time.Second {
		t.Errorf("Read = %d, %v after %v; want 0 and a passed deadline after %v", n, err, took,
			wait)
	}
}

// startPtyPeer starts a socat pty pair, runs serve on one end and returns
// the other end's device for the client.
func startPtyPeer(t *testing.T, serve func(io.ReadWriter) error) (device string) {
	t.Helper()
	peerDev, device := startPtyPair(t)
	peer, err := os.OpenFile(peerDev, os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}

	done := make(chan error, 1)
	go func() { done <- serve(peer) }()
	t.Cleanup(func() {
		_ = peer.Close() // ends a peer still reading; the client is done
		awaitPeer(t, done)
	})
	return device
}

// startPtyPair starts socat with two linked pseudo-terminals in raw mode,
// as testkit does for pymodbus, and returns their paths.
func startPtyPair(t *testing.T) (a, b string) {
	t.Helper()
	socat := testkit.LookBinary(t, "socat", "socat")
	// socat splits addresses at ',' and ':', which subtest names hold.
	dir, err := os.MkdirTemp("", "esep-pty-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })

	a, b = filepath.Join(dir, "a"), filepath.Join(dir, "b")
	p := testkit.NewProcess(t, socat, "-d", "pty,raw,echo=0,link="+a, "pty,raw,echo=0,link="+b)
	if err := p.Start(); err != nil {
		t.Fatalf("start socat: %v", err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		_, errA := os.Stat(a)
		_, errB := os.Stat(b)
		if errA == nil && errB == nil {
			return a, b
		}
		if time.Now().After(deadline) {
			t.Fatalf("socat made no pty links in %s", dir)
		}
	}
}

// newTestSerialRTU returns an RTU transport on serial device at 8N1.
func newTestSerialRTU(t *testing.T, device string, opts RTUOptions, baud int) *RTUTransport {
	t.Helper()
	cfg := SerialConfig{Device: device, Baud: baud, DataBits: 8, Parity: "N", StopBits: 1}
	tr, err := NewSerialRTU(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tr.Close() })
	return tr
}
