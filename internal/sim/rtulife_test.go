package sim

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestRTULink(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	stale := filepath.Join(dir, "stale")
	if err := os.Symlink("/dev/pts/nonexistent", stale); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		link    string
		wantErr error
	}{
		{name: "new link", link: filepath.Join(dir, "meter-bus")},
		{name: "replaces a stale link", link: stale},
		{name: "refuses to replace a file", link: file, wantErr: ErrInvalidConfig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ServeRTU(t.Context(), testUnits(t), RTUConfig{Baud: 19200, Link: tt.link})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("ServeRTU with link %q: %v; want %v", tt.link, err, tt.wantErr)
			}
			if err != nil {
				return
			}
			pty := openRaw(t, tt.link)
			send(t, pty, read1)
			if got := readN(t, pty, 7); got[4] != 1 {
				t.Errorf("read through %q: % X; want register 100 = 1", tt.link, got)
			}
			_ = pty.Close()
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			if _, err := os.Lstat(tt.link); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("link %q after Close: %v; want it gone", tt.link, err)
			}
		})
	}
}

// TestRTULinkInUse checks that a second simulator given the link of a
// running one leaves it alone: the first keeps its link, before and
// after the second gives up.
func TestRTULinkInUse(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "riser")
	first, err := ServeRTU(t.Context(), testUnits(t), RTUConfig{Baud: 19200, Link: path})
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	target, err := os.Readlink(path)
	if err != nil {
		t.Fatal(err)
	}

	second, err := ServeRTU(t.Context(), testUnits(t), RTUConfig{Baud: 19200, Link: path})
	if !errors.Is(err, ErrInvalidConfig) {
		if second != nil {
			_ = second.Close()
		}
		t.Fatalf("second ServeRTU on a link in use: %v; want ErrInvalidConfig", err)
	}
	if got, _ := os.Readlink(path); got != target {
		t.Errorf("link now goes to %q, want the first simulator's %q", got, target)
	}
}

func TestRTUStopsWithContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	link := filepath.Join(t.TempDir(), "bus")
	s := startRTU(t, testUnits(t), RTUConfig{Baud: 9600, Link: link})
	s2, err := ServeRTU(ctx, testUnits(t), RTUConfig{Baud: 9600, Link: link + "2"})
	if err != nil {
		t.Fatal(err)
	}

	client := openRaw(t, s2.Path())
	cancel()
	// Close waits for the stop the context began.
	if err := s2.Close(); err != nil {
		t.Errorf("Close after cancel: %v", err)
	}
	if _, err := os.Lstat(s2.Link()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("link %q after cancel: %v; want it gone", s2.Link(), err)
	}
	// The pty is gone: its number may be another's by now, but a client
	// that had it open reads a hangup, not a timeout.
	_ = client.SetReadDeadline(time.Now().Add(replyTimeout))
	if n, err := client.Read(make([]byte, 8)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("read on %q after cancel: %d bytes, %v; want a hangup", s2.Path(), n, err)
	}
	// The other server is not affected.
	pty := openRaw(t, s.Path())
	send(t, pty, read1)
	readN(t, pty, 7)
}

func TestServeRTUConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  RTUConfig
	}{
		{name: "no baud rate", cfg: RTUConfig{}},
		{name: "negative baud rate", cfg: RTUConfig{Baud: -9600}},
		{name: "negative turnaround", cfg: RTUConfig{Baud: 9600, Turnaround: -time.Millisecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ServeRTU(t.Context(), NewUnits(), tt.cfg)
			if !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("ServeRTU(%+v) = %v; want %v", tt.cfg, err, ErrInvalidConfig)
			}
			if s != nil {
				_ = s.Close()
			}
		})
	}
}
