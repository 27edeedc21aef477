package sim

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"
)

// hangupPoll is how often the reader looks again for a client while none
// has the slave end open and it cannot hold that end itself (see holder).
const hangupPoll = 10 * time.Millisecond

// RTUConfig configures ServeRTU.
type RTUConfig struct {
	// Baud is the line rate that replies are paced to, at 11 bits a
	// character. It must be positive; most meters ship at 9600.
	Baud int

	// Turnaround is how long a device takes from the end of a request to
	// the start of its reply.
	Turnaround time.Duration

	// Link, when set, is made a symbolic link to the slave end of the
	// pty: a stable name for a client's configuration. A symbolic link
	// already there is replaced; any other file is an error. Close
	// removes the link.
	Link string
}

// RTUServer answers Modbus RTU for a Units table on the master end of a
// pty pair, as a bus of meters would: a client opens Path as its serial
// port. Requests are answered one at a time, each reply paced to the
// baud rate after the device's turnaround.
type RTUServer struct {
	units *Units
	cfg   RTUConfig
	line  line
	pty   *os.File
	path  string
	hold  *holder // used by receive only
	stats counters

	// lastEnd is when the last reply's last byte ended on the paced wire;
	// only the serving goroutine uses it.
	lastEnd time.Time

	done     chan struct{}
	wg       sync.WaitGroup
	once     sync.Once
	closeErr error
	stopCtx  func() bool
}

// ServeRTU creates a pty pair and serves units on it until ctx ends or
// Close is called.
func ServeRTU(ctx context.Context, units *Units, cfg RTUConfig) (*RTUServer, error) {
	if cfg.Baud <= 0 || cfg.Turnaround < 0 {
		return nil, fmt.Errorf("cannot serve RTU at baud %d with turnaround %s: %w",
			cfg.Baud, cfg.Turnaround, ErrInvalidConfig)
	}
	pty, path, err := openPTY()
	if err != nil {
		return nil, err
	}
	if cfg.Link != "" {
		if err := link(path, cfg.Link); err != nil {
			_ = pty.Close()
			return nil, err
		}
	}

	s := &RTUServer{
		units: units, cfg: cfg, line: line{cfg.Baud},
		pty: pty, path: path, hold: newHolder(path), done: make(chan struct{}),
	}
	frames := make(chan frame, 64)
	s.wg.Add(2)
	go func() { defer s.wg.Done(); s.receive(frames) }()
	go func() { defer s.wg.Done(); s.serve(frames) }()
	s.stopCtx = context.AfterFunc(ctx, func() { _ = s.Close() })
	return s, nil
}

// Path returns the slave end of the pty, /dev/pts/N, for a client to
// open as its serial port.
func (s *RTUServer) Path() string { return s.path }

// Link returns the symbolic link to Path that RTUConfig asked for, or "".
func (s *RTUServer) Link() string { return s.cfg.Link }

// Stats returns what the server counted so far.
func (s *RTUServer) Stats() Stats { return s.stats.snapshot() }

// Close stops the server, closes the pty and removes the link. A client
// that still has the slave end open then reads end of file or EIO.
func (s *RTUServer) Close() error {
	s.once.Do(func() {
		s.stopCtx()
		close(s.done)
		s.closeErr = s.pty.Close()
		s.wg.Wait()
		s.hold.release()
		if s.cfg.Link != "" {
			unlink(s.path, s.cfg.Link)
		}
	})
	return s.closeErr
}

// receive reads the master end and hands on the frames it cuts, until
// the pty is closed.
func (s *RTUServer) receive(frames chan<- frame) {
	defer close(frames)
	var a assembler
	buf := make([]byte, 2*maxFrame)
	for {
		_ = s.pty.SetReadDeadline(a.silenceEnd(s.line.silence()))
		n, err := s.pty.Read(buf)
		if n > 0 {
			s.hold.release() // a client has the slave
		}
		done := a.add(buf[:n], time.Now())
		if errors.Is(err, os.ErrDeadlineExceeded) {
			if f, ok := a.flush(); ok {
				done = append(done, f)
			}
		}
		if !s.deliver(frames, done) {
			return
		}

		switch {
		case err == nil, errors.Is(err, os.ErrDeadlineExceeded):
		case errors.Is(err, syscall.EIO) && s.hangup(&a):
		default:
			return // closed
		}
	}
}

// deliver hands frames on; it reports false when the server stops.
func (s *RTUServer) deliver(to chan<- frame, frames []frame) bool {
	for _, f := range frames {
		select {
		case to <- f:
		case <-s.done:
			return false
		}
	}
	return true
}

// hangup is what the reader does when the last client has closed the
// slave: what that client sent is complete or lost, so a started frame is
// dropped, and the slave is held for the next client. It reports false
// when the server stops.
func (s *RTUServer) hangup(a *assembler) bool {
	_, _ = a.flush()
	if s.hold.hold() == nil {
		return true
	}
	return sleepUntil(s.done, time.Now().Add(hangupPoll))
}

// serve answers the frames one at a time, as a meter's firmware does.
func (s *RTUServer) serve(frames <-chan frame) {
	for f := range frames {
		s.answer(f)
	}
}

// link makes path a symbolic link to target. A symbolic link left there
// by an earlier run, whose pty is gone, is replaced; one to a pty that
// still exists belongs to a simulator still running, and a file of
// another kind to someone else: both are left alone.
func link(target, path string) error {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSymlink == 0 {
			return fmt.Errorf("cannot link %q to pty %q: it exists and is not a symbolic link: %w",
				path, target, ErrInvalidConfig)
		}
		if old, err := os.Readlink(path); err == nil && ptyExists(old) {
			return fmt.Errorf("cannot link %q to pty %q: it links to %q, which another "+
				"simulator may still serve (stop it, or remove the link): %w",
				path, target, old, ErrInvalidConfig)
		}
		_ = os.Remove(path)
	}
	if err := os.Symlink(target, path); err != nil {
		return fmt.Errorf("cannot link %q to pty %q: %w", path, target, err)
	}
	return nil
}

// ptyExists reports whether the pty at path is there: a pty's device
// node goes when its last holder closes it.
func ptyExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// unlink removes path if it still links to target: another simulator may
// have taken the name over since.
func unlink(target, path string) {
	if t, err := os.Readlink(path); err == nil && t == target {
		_ = os.Remove(path)
	}
}

// sleepUntil waits until t and reports true, or false as soon as done is
// closed.
func sleepUntil(done <-chan struct{}, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		select {
		case <-done:
			return false
		default:
			return true
		}
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-done:
		return false
	}
}
