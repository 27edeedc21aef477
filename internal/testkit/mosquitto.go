package testkit

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// mqttProbeTimeout bounds one readiness probe. A local broker answers a
// CONNECT in well under a millisecond; the rest is slack for a busy CI.
const mqttProbeTimeout = 250 * time.Millisecond

// mqttProbeID names the readiness probe in the broker's log.
const mqttProbeID = "testkit-probe"

// MosquittoOptions chooses how StartMosquitto configures the broker. The
// zero value is a plain MQTT listener that lets anyone in.
type MosquittoOptions struct {
	// TLS makes the listener speak MQTT over TLS and require a client
	// certificate from the broker's PKI. The certificate's common name
	// becomes the client's user name (use_identity_as_username), and a
	// password, if sent, is ignored.
	TLS bool
	// Users maps user names to passwords. When set, only these users may
	// connect (allow_anonymous false); otherwise anyone may.
	Users map[string]string
	// ACL is the content of the broker's acl_file, in the syntax of
	// mosquitto.conf(5). Empty means no ACL: everyone reads and writes
	// every topic.
	ACL string
	// Persistence keeps sessions, subscriptions and queued messages in a
	// data directory that survives Stop and Start. Without it every
	// restart begins with no sessions.
	Persistence bool
	// AutosaveChanges, with Persistence, makes the broker write its data
	// after every that many changes, so that Kill loses fewer than that.
	// Zero keeps mosquitto's default: write on Stop and every 30 minutes,
	// so Kill loses everything since start.
	AutosaveChanges int
	// MaxQueuedMessages caps the QoS 1 and 2 messages queued per client
	// (max_queued_messages). Zero keeps mosquitto's default of 1000; a
	// negative value removes the cap.
	MaxQueuedMessages int
}

// Mosquitto is a Mosquitto broker run for a test on a free loopback port.
// It is killed when the test ends.
type Mosquitto struct {
	// PKI holds the certificates of a TLS broker; it is nil for a plain one.
	PKI *PKI

	opts     MosquittoOptions
	dir      string
	port     int
	proc     *Process
	probeTLS *tls.Config
}

// StartMosquitto starts Debian's mosquitto with a configuration made
// from opts and waits until it answers MQTT. It fails the test when the
// broker cannot start, and skips it when mosquitto is not installed.
func StartMosquitto(t testing.TB, opts MosquittoOptions) *Mosquitto {
	t.Helper()
	m := newMosquitto(t, opts)

	err := onFreePort(t, func(port int) error {
		m.port = port
		return m.Start()
	})
	if err != nil {
		t.Fatalf("start mosquitto: %v", err)
	}
	return m
}

// newMosquitto writes the files a broker needs, except its configuration,
// which Start writes once the port is known.
func newMosquitto(t testing.TB, opts MosquittoOptions) *Mosquitto {
	t.Helper()
	bin := LookBinary(t, "mosquitto", "mosquitto", "/usr/sbin")
	m := &Mosquitto{opts: opts, dir: t.TempDir()}
	m.proc = NewProcess(t, bin, "-c", m.path("mosquitto.conf"))

	if opts.TLS {
		m.PKI = NewPKI(t)
		m.probeTLS = m.PKI.ClientTLS(t, m.PKI.ClientCert(t, mqttProbeID))
	}
	if len(opts.Users) > 0 {
		writeMosquittoPasswords(t, m.path("passwd"), opts.Users)
	}
	if opts.ACL != "" {
		if err := os.WriteFile(m.path("acl"), []byte(opts.ACL), 0o600); err != nil {
			t.Fatalf("write mosquitto ACL: %v", err)
		}
	}
	if opts.Persistence {
		if err := os.Mkdir(m.path("data"), 0o700); err != nil {
			t.Fatalf("make mosquitto data directory: %v", err)
		}
	}
	return m
}

// Addr returns the broker's host:port.
func (m *Mosquitto) Addr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(m.port))
}

// URL returns the broker's address as paho wants it: tcp://host:port, or
// ssl://host:port for a TLS broker.
func (m *Mosquitto) URL() string {
	if m.PKI != nil {
		return "ssl://" + m.Addr()
	}
	return "tcp://" + m.Addr()
}

// Start runs the broker and waits until it answers. After Stop or Kill it
// comes back on the same port with the same data directory; should
// another process have taken the port meanwhile, Start fails.
func (m *Mosquitto) Start() error {
	conf := m.path("mosquitto.conf")
	if err := os.WriteFile(conf, []byte(m.config()), 0o600); err != nil {
		return fmt.Errorf("write mosquitto config %q: %w", conf, err)
	}

	if err := m.proc.startAndWait(m.ready); err != nil {
		// Clear the exited process so that a later Start may run it again.
		m.proc.Kill()
		return fmt.Errorf("start mosquitto on %s: %w", m.Addr(), err)
	}
	return nil
}

// Stop ends the broker with SIGTERM, after which it writes its
// persistence data and closes every connection.
func (m *Mosquitto) Stop() {
	m.proc.Stop()
}

// Kill ends the broker with SIGKILL, as a power cut would: connections
// drop without a goodbye and data since the last autosave is lost.
func (m *Mosquitto) Kill() {
	m.proc.Kill()
}

// Restart stops the broker gracefully and starts it again.
func (m *Mosquitto) Restart() error {
	m.Stop()
	return m.Start()
}

// Sync returns once the broker has done all the work for every packet it
// answered before the call, including the autosave that work triggers:
// mosquitto serves packets in one loop and saves at the end of each pass
// (loop.c), and Sync's own CONNECT is served in a later pass. After Sync,
// a Kill keeps what AutosaveChanges promised to save. ctx bounds the wait.
func (m *Mosquitto) Sync(ctx context.Context) error {
	if err := m.probe(ctx); err != nil {
		return fmt.Errorf("sync with mosquitto: %w", err)
	}
	return nil
}

func (m *Mosquitto) path(name string) string {
	return filepath.Join(m.dir, name)
}

// config renders mosquitto.conf for the current port; mosquitto.conf(5)
// of 2.0.11 documents every key.
func (m *Mosquitto) config() string {
	var b strings.Builder
	line := func(format string, args ...any) {
		fmt.Fprintf(&b, format+"\n", args...)
	}

	// Started as root, mosquitto switches to user "mosquitto", who may
	// not read the test's temporary directory.
	if os.Geteuid() == 0 {
		line("user root")
	}
	// stderr is unbuffered, so the log survives a Kill to the last line.
	line("log_dest stderr")
	// Debug lines show every packet, which is what a failed test needs.
	line("log_type all")
	line("log_timestamp_format %%H:%%M:%%S")

	line("listener %d 127.0.0.1", m.port)
	if m.PKI != nil {
		line("cafile %s", m.PKI.CAFile)
		line("certfile %s", m.PKI.Server.CertFile)
		line("keyfile %s", m.PKI.Server.KeyFile)
		line("require_certificate true")
		line("use_identity_as_username true")
	}

	m.authConfig(line)
	m.storeConfig(line)
	return b.String()
}

// authConfig writes who may connect and what they may do.
func (m *Mosquitto) authConfig(line func(string, ...any)) {
	// mosquitto 2.0 refuses anonymous clients unless told otherwise.
	line("allow_anonymous %t", len(m.opts.Users) == 0)
	if len(m.opts.Users) > 0 {
		line("password_file %s", m.path("passwd"))
	}
	if m.opts.ACL != "" {
		line("acl_file %s", m.path("acl"))
	}
}

// storeConfig writes persistence and queue limits.
func (m *Mosquitto) storeConfig(line func(string, ...any)) {
	if q := m.opts.MaxQueuedMessages; q != 0 {
		// mosquitto reads 0 as "no limit".
		line("max_queued_messages %d", max(q, 0))
	}
	if !m.opts.Persistence {
		line("persistence false")
		return
	}

	line("persistence true")
	// mosquitto appends the file name to this path as it is, so the
	// trailing slash is needed.
	line("persistence_location %s/", m.path("data"))
	if n := m.opts.AutosaveChanges; n > 0 {
		line("autosave_on_changes true")
		line("autosave_interval %d", n)
	}
}

// ready makes one short attempt to get a CONNACK, for startAndWait.
func (m *Mosquitto) ready(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, mqttProbeTimeout)
	defer cancel()
	return m.probe(ctx)
}

// probe gets a CONNACK from the broker. Any CONNACK will do, even "not
// authorised": it proves that an MQTT broker listens. Over TLS the
// handshake also proves it is this one, as only it holds a certificate
// from this PKI.
func (m *Mosquitto) probe(ctx context.Context) error {
	var conn net.Conn
	var err error
	if m.probeTLS != nil {
		d := tls.Dialer{Config: m.probeTLS}
		conn, err = d.DialContext(ctx, "tcp", m.Addr())
	} else {
		var d net.Dialer
		conn, err = d.DialContext(ctx, "tcp", m.Addr())
	}
	if err != nil {
		return fmt.Errorf("dial mosquitto on %s: %w", m.Addr(), err)
	}
	defer conn.Close()

	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}
	return probeMQTT(conn)
}

// probeMQTT sends an MQTT 3.1.1 CONNECT with a clean session (section
// 3.1), reads the CONNACK (section 3.2) and says goodbye with DISCONNECT
// (section 3.14), so that the broker logs an orderly visit.
func probeMQTT(conn net.Conn) error {
	connect := []byte{
		0x10, 12 + byte(len(mqttProbeID)), // CONNECT, remaining length
		0, 4, 'M', 'Q', 'T', 'T', // protocol name
		4,     // protocol level 3.1.1
		0x02,  // flags: clean session
		0, 10, // keep alive, seconds
		0, byte(len(mqttProbeID)),
	}
	connect = append(connect, mqttProbeID...)
	if _, err := conn.Write(connect); err != nil {
		return fmt.Errorf("send CONNECT to %s: %w", conn.RemoteAddr(), err)
	}

	connack := make([]byte, 4)
	if _, err := io.ReadFull(conn, connack); err != nil {
		return fmt.Errorf("read CONNACK from %s: %w", conn.RemoteAddr(), err)
	}
	if connack[0] != 0x20 || connack[1] != 2 {
		return fmt.Errorf("no CONNACK from %s: got % x", conn.RemoteAddr(), connack)
	}

	_, _ = conn.Write([]byte{0xe0, 0}) // DISCONNECT
	return nil
}

// writeMosquittoPasswords makes a password file with mosquitto_passwd, the
// one tool that knows the hash format of the installed broker.
func writeMosquittoPasswords(t testing.TB, file string, users map[string]string) {
	t.Helper()
	bin := LookBinary(t, "mosquitto_passwd", "mosquitto", "/usr/bin")
	// mosquitto_passwd -b updates an existing file and will not create one.
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatalf("create mosquitto password file: %v", err)
	}

	for _, name := range slices.Sorted(maps.Keys(users)) {
		out, err := exec.Command(bin, "-b", file, name, users[name]).CombinedOutput()
		if err != nil {
			t.Fatalf("add mosquitto user %q: %v: %s", name, err, out)
		}
	}
}
