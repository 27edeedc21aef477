package uplink

import (
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/esep-kz/esep/internal/config"
	"github.com/esep-kz/esep/internal/wire"
)

// Config is the uplink section of the agent's configuration file:
//
//	uplink:
//	  broker: ssl://mqtt.example.kz:8883
//	  username: agent-017
//	  password_env: ESEP_MQTT_PASSWORD
//	  ca_file: /etc/esep/ca.pem
//	  cert_file: /etc/esep/agent.pem
//	  key_file: /etc/esep/agent-key.pem
//
// Files are read again on every connection attempt, so a renewed
// certificate or a corrected CA file takes effect without a restart.
type Config struct {
	// Broker is tcp://host:port (or mqtt://) for plain MQTT and
	// ssl://host:port (or tls://, mqtts://) for MQTT over TLS.
	Broker string `yaml:"broker"`
	// Prefix is the first level of every topic; "esep" when left out.
	Prefix   string        `yaml:"prefix"`
	Username string        `yaml:"username"`
	Password config.Secret `yaml:"password_env"`
	// CAFile holds the CA certificates that the broker's certificate must
	// chain to; without it the system's roots are used.
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile are the agent's client certificate and key,
	// for brokers that require mutual TLS.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ServerName is the name the broker's certificate must carry, when it
	// differs from the host in Broker (a broker reached by IP address).
	ServerName string `yaml:"server_name"`

	// KeepAlive is the MQTT keep-alive interval (MQTT 3.1.1 section
	// 3.1.2.10); the broker drops the agent after 1.5 times as long
	// without a packet, and the agent notices a dead link as soon.
	KeepAlive time.Duration `yaml:"keep_alive"`
	// ConnectTimeout bounds the dial, the TLS handshake and the CONNACK.
	ConnectTimeout time.Duration `yaml:"connect_timeout"`
	// AckTimeout is how long a message may wait for its PUBACK before the
	// link is taken for dead and the session is started again.
	AckTimeout time.Duration `yaml:"ack_timeout"`
	// BackoffMin and BackoffMax bound the wait between connection
	// attempts; see backoff.
	BackoffMin time.Duration `yaml:"backoff_min"`
	BackoffMax time.Duration `yaml:"backoff_max"`

	// Window is how many messages may await their PUBACK at once.
	Window int `yaml:"window"`
	// BatchItems and BatchBytes bound one batch: at most that many
	// records, and about that many bytes of record data (a single larger
	// record still goes, alone).
	BatchItems int `yaml:"batch_items"`
	BatchBytes int `yaml:"batch_bytes"`
}

// Defaults of Config.
const (
	defaultPrefix = wire.DefaultPrefix
	// A GSM operator's NAT forgets an idle flow after a few minutes; a
	// ping a minute keeps it and notices a dead link within 90 s.
	defaultKeepAlive = time.Minute
	// A TLS handshake over a slow 2G link takes several seconds.
	defaultConnectTimeout = 30 * time.Second
	defaultAckTimeout     = time.Minute
	// Reconnection waits grow from about a second, which rides out a
	// broker restart, to two minutes, which keeps a modem that is down
	// for hours from dialing all the time and still reconnects within
	// two minutes of its return.
	defaultBackoffMin = time.Second
	defaultBackoffMax = 2 * time.Minute
	// Eight batches in flight cover a GSM round trip of a second at the
	// link's rate; more would only pile up in the modem's buffer.
	defaultWindow     = 8
	defaultBatchItems = 50
	defaultBatchBytes = 32 << 10
)

// ApplyDefaults fills the fields a file leaves out.
func (c *Config) ApplyDefaults() {
	setDefault(&c.Prefix, defaultPrefix)
	setDefault(&c.KeepAlive, defaultKeepAlive)
	setDefault(&c.ConnectTimeout, defaultConnectTimeout)
	setDefault(&c.AckTimeout, defaultAckTimeout)
	setDefault(&c.BackoffMin, defaultBackoffMin)
	setDefault(&c.BackoffMax, defaultBackoffMax)
	setDefault(&c.Window, defaultWindow)
	setDefault(&c.BatchItems, defaultBatchItems)
	setDefault(&c.BatchBytes, defaultBatchBytes)
}

// Validate fills defaults and checks the section on its own, for a file
// that holds nothing else; see config.Validator.
func (c *Config) Validate(ch *config.Checker) { c.Check(ch, "") }

// Check fills defaults and reports every problem to ch, naming fields
// under path, such as "uplink", where the section sits in its file.
func (c *Config) Check(ch *config.Checker, path string) {
	c.ApplyDefaults()
	// Any valid agent ID will do to check the prefix alone.
	if err := wire.CheckTopics(c.Prefix, "agent"); err != nil {
		ch.Errorf(field(path, "prefix"), "%v", err)
	}
	c.checkBroker(ch, path)
	c.checkAuth(ch, path)

	// paho sends the keep-alive in whole seconds; 0 would turn it off.
	if c.KeepAlive < time.Second {
		ch.Errorf(field(path, "keep_alive"), "%s is below the minimum of 1s", c.KeepAlive)
	}
	for _, d := range []struct {
		key string
		val time.Duration
	}{
		{"connect_timeout", c.ConnectTimeout}, {"ack_timeout", c.AckTimeout},
		{"backoff_min", c.BackoffMin}, {"backoff_max", c.BackoffMax},
	} {
		if d.val < 0 {
			ch.Errorf(field(path, d.key), "%s is negative", d.val)
		}
	}
	if c.BackoffMax < c.BackoffMin {
		ch.Errorf(field(path, "backoff_max"), "%s is below backoff_min %s",
			c.BackoffMax, c.BackoffMin)
	}
	for _, n := range []struct {
		key string
		val int
	}{{"window", c.Window}, {"batch_items", c.BatchItems}, {"batch_bytes", c.BatchBytes}} {
		if n.val < 1 {
			ch.Errorf(field(path, n.key), "%d is not a positive number", n.val)
		}
	}
}

// schemes maps the broker URL schemes paho knows to whether they use TLS.
var schemes = map[string]bool{"tcp": false, "mqtt": false, "ssl": true, "tls": true, "mqtts": true}

func (c *Config) checkBroker(ch *config.Checker, path string) {
	u, err := url.Parse(c.Broker)
	if c.Broker == "" || err != nil {
		ch.Errorf(field(path, "broker"), "%q is not a broker URL such as ssl://host:8883",
			c.Broker)
		return
	}
	if _, ok := schemes[u.Scheme]; !ok {
		ch.Errorf(field(path, "broker"), "scheme %q is not one of tcp, mqtt, ssl, tls, mqtts",
			u.Scheme)
	}
	if u.User != nil {
		// The URL would carry the password into every log line and
		// into check-config's output.
		ch.Errorf(field(path, "broker"), "holds a user name or password: set username "+
			"and password_env instead")
		return
	}
	_, port, err := net.SplitHostPort(u.Host)
	if n, perr := strconv.Atoi(port); err != nil || perr != nil || n < 1 || n > 65535 {
		ch.Errorf(field(path, "broker"), "%q does not name a host and a port 1-65535",
			c.Broker)
	}
}

func (c *Config) checkAuth(ch *config.Checker, path string) {
	if c.Password.IsSet() && c.Username == "" {
		ch.Errorf(field(path, "username"), "must be set with password_env")
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		ch.Errorf(field(path, "key_file"), "cert_file and key_file go together")
	}
	if c.secure() {
		return
	}
	for _, f := range []struct{ key, val string }{
		{"ca_file", c.CAFile}, {"cert_file", c.CertFile}, {"server_name", c.ServerName},
	} {
		if f.val != "" {
			ch.Errorf(field(path, f.key), "is set but broker %q does not use TLS", c.Broker)
		}
	}
}

// secure reports whether the broker URL asks for TLS.
func (c *Config) secure() bool {
	u, err := url.Parse(c.Broker)
	return err == nil && schemes[u.Scheme]
}

// field joins a section path and a key into a checker path.
func field(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func setDefault[T comparable](f *T, def T) {
	var zero T
	if *f == zero {
		*f = def
	}
}
