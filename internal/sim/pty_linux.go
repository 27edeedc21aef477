package sim

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// ptmx is the multiplexer that hands out pty pairs (pts(4)).
const ptmx = "/dev/ptmx"

// openPTY creates a pseudo-terminal pair and returns its master end in
// raw mode and the path of its slave end. The master is non-blocking
// under Go's poller, so reads take deadlines and Close interrupts them.
func openPTY() (*os.File, string, error) {
	m, err := os.OpenFile(ptmx, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, "", fmt.Errorf("cannot open %q: %w", ptmx, err)
	}

	// Control, not Fd: Fd would switch the file to blocking mode.
	rc, err := m.SyscallConn()
	var n uint32
	if err == nil {
		cerr := rc.Control(func(fd uintptr) { n, err = setupMaster(int(fd)) })
		if err == nil {
			err = cerr
		}
	}
	if err != nil {
		_ = m.Close()
		return nil, "", fmt.Errorf("cannot set up pty master %q: %w", ptmx, err)
	}
	return m, "/dev/pts/" + strconv.FormatUint(uint64(n), 10), nil
}

// setupMaster unlocks the new pair, as unlockpt(3) does, puts it in raw
// mode, and returns the number of its slave. grantpt(3) has nothing to do
// on Linux: devpts gives the slave to the caller when it is created.
func setupMaster(fd int) (uint32, error) {
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		return 0, fmt.Errorf("unlock: %w", err)
	}
	n, err := unix.IoctlGetUint32(fd, unix.TIOCGPTN)
	if err != nil {
		return 0, fmt.Errorf("get slave number: %w", err)
	}

	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return 0, fmt.Errorf("get line settings: %w", err)
	}
	makeRaw(t)
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, t); err != nil {
		return 0, fmt.Errorf("set raw mode: %w", err)
	}
	return n, nil
}

// makeRaw does what cfmakeraw(3) does: binary bytes pass untouched both
// ways, nothing is echoed and no byte is a signal. Clients that open the
// slave set their own line settings on top; this covers those that do
// not.
func makeRaw(t *unix.Termios) {
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP |
		unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB
	t.Cflag |= unix.CS8
	t.Cc[unix.VMIN] = 1
	t.Cc[unix.VTIME] = 0
}

// holder keeps the slave end of a pty open while no client has it. When
// the last holder of the slave closes it, Linux answers reads on the
// master with EIO at once, and poll(2) reports a hangup, so the reader
// would have nothing to wait on; with the slave held, reads on the master
// wait for the next client as they do before the first.
type holder struct {
	path string
	fd   int // -1 while not held
}

func newHolder(path string) *holder { return &holder{path: path, fd: -1} }

// hold opens the slave end, unless it is held already.
func (h *holder) hold() error {
	if h.fd >= 0 {
		return nil
	}
	fd, err := unix.Open(h.path, unix.O_RDWR|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("cannot hold pty %q open: %w", h.path, err)
	}
	h.fd = fd
	return nil
}

// release lets the slave end go once a client has it. It first drops
// what the pty kept for the slave while no client had it: replies to a
// client that had gone, which a serial port opened afresh does not show.
func (h *holder) release() {
	if h.fd < 0 {
		return
	}
	_ = unix.IoctlSetInt(h.fd, unix.TCFLSH, unix.TCIFLUSH)
	_ = unix.Close(h.fd)
	h.fd = -1
}
