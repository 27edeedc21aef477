package testkit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// startTimeout bounds how long a server may take to accept connections.
// VictoriaMetrics and a fresh PostgreSQL cluster need a few seconds on a
// loaded two-core machine; nothing healthy needs thirty.
const startTimeout = 30 * time.Second

// UnderCI reports whether the tests run in CI, where a missing server is a
// failure rather than a reason to skip.
func UnderCI() bool {
	v, _ := strconv.ParseBool(os.Getenv("CI"))
	return v
}

// Missing stops the test because a program or service it needs is absent:
// a skip with the install hint on a developer's machine, a failure in CI.
func Missing(t testing.TB, what, hint string) {
	t.Helper()
	msg := fmt.Sprintf("%s is not available (install: %s)", what, hint)
	if UnderCI() {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// LookBinary returns the path of the named program, looking in PATH and
// then in the given extra directories. When it is missing the test is
// skipped or failed as Missing describes, naming the Debian package.
func LookBinary(t testing.TB, name, debPackage string, dirs ...string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	Missing(t, name, "apt-get install "+debPackage)
	return ""
}

// portTries is how often a starter picks a new port when another process
// bound the one FreePort offered before the server could.
const portTries = 3

// onFreePort calls start with a fresh free port until it succeeds, fails
// for a reason other than a lost port, or runs out of tries.
func onFreePort(t testing.TB, start func(port int) error) error {
	t.Helper()
	var err error
	for range portTries {
		if err = start(FreePort(t)); !lostPort(err) {
			return err
		}
	}
	return err
}

// lostPort reports whether a server failed to start because its port was
// taken; every server here reports it with the strerror text of EADDRINUSE.
func lostPort(err error) bool {
	return err != nil && strings.Contains(strings.ToLower(err.Error()), "address already in use")
}

// FreePort returns a loopback TCP port that was free a moment ago. The
// server started on it may still lose a race with another process; the
// starters retry on a new port when that happens.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// WaitTCP waits until addr accepts a TCP connection or ctx ends.
func WaitTCP(ctx context.Context, addr string) error {
	var d net.Dialer
	for {
		c, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			return c.Close()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for %s: %w", addr, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Process is a server program run for a test. Its standard output and
// error go to a log file in the test's temporary directory, and the tail
// of that log is printed when the test fails.
type Process struct {
	name string
	args []string
	env  []string
	log  string
	cred *syscall.Credential

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// NewProcess prepares a program; Start runs it. The process is stopped,
// and its log shown on failure, when the test ends.
func NewProcess(t testing.TB, name string, args ...string) *Process {
	t.Helper()
	p := &Process{
		name: name,
		args: args,
		log:  filepath.Join(t.TempDir(), filepath.Base(name)+".log"),
	}
	t.Cleanup(func() {
		p.Kill()
		if t.Failed() {
			t.Logf("log of %s:\n%s", filepath.Base(name), p.LogTail(4096))
		}
	})
	return p
}

// Start runs the program. It may be called again after Stop or Kill to
// restart the same server with the same arguments.
func (p *Process) Start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		return fmt.Errorf("start %s: already running", p.name)
	}

	f, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open log of %s: %w", p.name, err)
	}
	defer f.Close()

	cmd := exec.Command(p.name, p.args...)
	cmd.Env = append(os.Environ(), p.env...)
	cmd.Stdout, cmd.Stderr = f, f
	// A process group of its own, so that a kill reaches whatever the
	// server forks and a Ctrl-C on the test run does not race our stop.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: p.cred}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", p.name, err)
	}

	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	p.cmd, p.done = cmd, done
	return nil
}

// Exited reports whether the program has ended since it was started.
func (p *Process) Exited() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done == nil {
		return true
	}
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Stop asks the program to end with SIGTERM and kills it if it has not
// ended after a grace period.
func (p *Process) Stop() {
	p.signal(syscall.SIGTERM, 10*time.Second)
}

// Kill ends the program with SIGKILL, as a power cut or the OOM killer
// would: it gets no chance to flush or say goodbye.
func (p *Process) Kill() {
	p.signal(syscall.SIGKILL, 10*time.Second)
}

func (p *Process) signal(sig syscall.Signal, grace time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return
	}

	_ = syscall.Kill(-p.cmd.Process.Pid, sig)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
	p.cmd, p.done = nil, nil
}

// LogTail returns the last n bytes of the program's log.
func (p *Process) LogTail(n int) string {
	b, err := os.ReadFile(p.log)
	if err != nil {
		return err.Error()
	}
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(bytes.TrimSpace(b))
}

// startAndWait starts p and waits until ready returns nil, failing fast
// when the program exits first.
func (p *Process) startAndWait(ready func(context.Context) error) error {
	if err := p.Start(); err != nil {
		return err
	}

	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	for {
		err := ready(ctx)
		if err == nil {
			return nil
		}
		if p.Exited() {
			return fmt.Errorf("%s exited before it was ready: %s",
				filepath.Base(p.name), p.LogTail(1024))
		}
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			p.Kill()
			return fmt.Errorf("%s not ready after %s: %w", filepath.Base(p.name), startTimeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
