// Package agent is the edge agent: the building-side process that polls
// meters, spools their readings and publishes them to the centre.
package agent

import (
	"fmt"
	"net"
	"path/filepath"
	"regexp"
	"slices"
	"time"

	"github.com/esep-kz/esep/drivers/modbus"
	"github.com/esep-kz/esep/internal/config"
	"github.com/esep-kz/esep/internal/uplink"
)

// Bus transports an agent can poll over.
const (
	TransportRTU        = "rtu"          // Modbus RTU on a local serial port (RS-485)
	TransportTCP        = "tcp"          // Modbus TCP (MBAP header)
	TransportRTUOverTCP = "rtu-over-tcp" // RTU frames through a serial device server
)

// Config is the agent's configuration file.
type Config struct {
	Agent  AgentSection `yaml:"agent"`
	Buses  []Bus        `yaml:"buses"`
	Meters []Meter      `yaml:"meters"`
	// Spool is where readings wait for the uplink; see SpoolSection.
	Spool SpoolSection `yaml:"spool"`
	// Uplink is the MQTT broker the readings go to. Without it the agent
	// writes readings and events as JSON lines on its standard output,
	// for trying it out and for commissioning: nothing is spooled then.
	Uplink *uplink.Config `yaml:"uplink"`
	// Health is the local health and metrics endpoint.
	Health HealthSection `yaml:"health"`

	location *time.Location  // Agent.Timezone, set by Validate
	profiles modbus.Profiles // shipped and ProfilesDir, set by LoadConfig
}

// Location returns the time zone of Agent.Timezone, or nil for a Config
// that was not validated.
func (c *Config) Location() *time.Location { return c.location }

// Profiles returns the meter profiles LoadConfig loaded: the shipped
// ones with those of Agent.ProfilesDir laid over them.
func (c *Config) Profiles() modbus.Profiles { return c.profiles }

// AgentSection identifies the agent to the centre and says where it
// keeps its files.
type AgentSection struct {
	// ID names the agent in topics and at the centre; one per building.
	ID string `yaml:"id"`
	// Timezone is the tz database zone that slots and periods (day,
	// month) are counted in; readings themselves are stamped in UTC.
	Timezone string `yaml:"timezone"`
	// ProfilesDir is an optional directory of meter profiles laid over
	// the shipped ones; relative to the configuration file's directory.
	ProfilesDir string `yaml:"profiles_dir"`
	// StateDir holds what the agent remembers across restarts (meter
	// serials, last indexes); relative to the configuration file's
	// directory.
	StateDir string `yaml:"state_dir"`
}

// Bus is one field bus the agent polls: a serial line or a TCP endpoint.
type Bus struct {
	Name      string `yaml:"name"`
	Transport string `yaml:"transport"` // rtu, tcp or rtu-over-tcp
	Device    string `yaml:"device"`    // serial device path, for rtu
	Address   string `yaml:"address"`   // host:port, for tcp and rtu-over-tcp
	Baud      int    `yaml:"baud"`
	Parity    string `yaml:"parity"`    // N, E or O
	DataBits  int    `yaml:"data_bits"` // 7 or 8
	StopBits  int    `yaml:"stop_bits"` // 1 or 2
	// Timeout is how long to wait for a reply before the transaction fails.
	Timeout time.Duration `yaml:"timeout"`
	// Delay is the pause between the end of one transaction and the next
	// request on this bus, on top of the protocol's silent interval; some
	// meters need it to turn their RS-485 driver around.
	Delay time.Duration `yaml:"delay"`
	// Guard is how long an RTU bus waits before it addresses a slave
	// again after that slave failed to answer, so that a late reply is
	// not taken for the next one (FC-13); 0 selects the failed
	// transaction's timeout. A slave that sends nothing through two
	// guards in a row is taken for dead, and its guard is skipped while
	// other slaves are asked between, until it is heard from
	// (modbus.RTUOptions.Guard). TCP matches replies by transaction id
	// and has no guard.
	Guard time.Duration `yaml:"guard"`
	// ConnectTimeout bounds opening the serial port or dialing the
	// gateway; 0 selects 5s. A cellular link to a device server may need
	// longer, a LAN gateway far less, as a dead one holds its meters up
	// this long each slot.
	ConnectTimeout time.Duration `yaml:"connect_timeout"`
}

// Meter is one meter polled on a bus through a device profile.
type Meter struct {
	ID       string        `yaml:"id"`
	Bus      string        `yaml:"bus"`
	Slave    int           `yaml:"slave"`
	Profile  string        `yaml:"profile"`
	Interval time.Duration `yaml:"interval"`
	// Timeout overrides the bus timeout for this meter alone: a slow
	// meter gets its time without slowing the detection of dead ones
	// on the same bus (FC-13). 0 keeps the bus timeout.
	Timeout time.Duration `yaml:"timeout"`
}

// Defaults returned for fields a file leaves out.
const (
	// Parity E with 8 data bits and 1 stop bit is the default the Modbus
	// serial line specification (V1.02, §2.5.1) requires of devices.
	defaultParity   = "E"
	defaultBaud     = 9600
	defaultDataBits = 8
	defaultStopBits = 1
	defaultTimeout  = time.Second
	// maxConnectTimeout bounds connect_timeout: a bus that cannot connect
	// in a minute holds its meters' slots up for nothing.
	maxConnectTimeout = time.Minute
	defaultInterval   = 15 * time.Minute
	// Kazakhstan keeps one zone, UTC+5, since 1 March 2024; current tz
	// data has it as Asia/Almaty.
	defaultTimezone = "Asia/Almaty"
	defaultStateDir = "/var/lib/esep-agent"
	// maxTimeout bounds every timeout and pause: a longer one holds the
	// bus for nothing, as a meter that has not answered in 10 s will not.
	maxTimeout = 10 * time.Second
)

// LoadConfig reads and checks the agent configuration at path, filling
// what it leaves out with the defaults above, then loads the meter
// profiles and checks that every meter names one. Relative directories
// are taken from the configuration file's directory.
func LoadConfig(path string) (*Config, error) {
	var c Config
	if err := config.Load(path, &c); err != nil {
		return nil, err
	}
	c.resolveDirs(filepath.Dir(path))
	if err := c.loadProfiles(path); err != nil {
		return nil, err
	}
	c.setSpoolSize()
	return &c, nil
}

// applyDefaults fills unset fields. It runs inside Validate because list
// elements only exist once the file has been decoded.
func (c *Config) applyDefaults() {
	setDefault(&c.Agent.Timezone, defaultTimezone)
	setDefault(&c.Agent.StateDir, defaultStateDir)
	for i := range c.Buses {
		b := &c.Buses[i]
		setDefault(&b.Baud, defaultBaud)
		setDefault(&b.Parity, defaultParity)
		setDefault(&b.DataBits, defaultDataBits)
		setDefault(&b.StopBits, defaultStopBits)
		setDefault(&b.Timeout, defaultTimeout)
	}
	for i := range c.Meters {
		setDefault(&c.Meters[i].Interval, defaultInterval)
	}
}

func setDefault[T comparable](field *T, def T) {
	var zero T
	if *field == zero {
		*field = def
	}
}

// nameRE is what IDs may contain: they appear in MQTT topics, metric
// labels and file names, where '/', '+', '#' and spaces break things.
var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// Validate fills defaults and checks every field; see config.Validator.
func (c *Config) Validate(ch *config.Checker) {
	c.applyDefaults()
	c.Agent.validate(ch)
	if loc, err := time.LoadLocation(c.Agent.Timezone); err != nil {
		ch.Errorf("agent.timezone", "%q is not a zone of the tz database, such as %s",
			c.Agent.Timezone, defaultTimezone)
	} else {
		c.location = loc
	}

	buses := map[string]bool{}
	for i := range c.Buses {
		c.Buses[i].validate(ch, fmt.Sprintf("buses[%d]", i), buses)
	}
	if len(c.Meters) == 0 {
		ch.Errorf("meters", "no meters configured")
	}
	seen := map[string]bool{}
	slaves := map[string]bool{}
	for i := range c.Meters {
		c.Meters[i].validate(ch, fmt.Sprintf("meters[%d]", i), buses, seen, slaves)
	}
	c.validateDelivery(ch)
}

func (a *AgentSection) validate(ch *config.Checker) {
	if !nameRE.MatchString(a.ID) {
		ch.Errorf("agent.id", "%q is not a valid ID (letters, digits, '.', '_', '-'; "+
			"at most 64, starting with a letter or digit)", a.ID)
	}
}

var (
	bauds    = []int{1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200}
	parities = []string{"N", "E", "O"}
)

// checkName reports a name that is malformed or already in seen, then
// adds it to seen.
func checkName(ch *config.Checker, path, what, name string, seen map[string]bool) {
	switch {
	case !nameRE.MatchString(name):
		ch.Errorf(path, "%q is not a valid %s name (letters, digits, '.', '_', '-')", name, what)
	case seen[name]:
		ch.Errorf(path, "%s %q is defined twice", what, name)
	}
	seen[name] = true
}

func (b *Bus) validate(ch *config.Checker, path string, names map[string]bool) {
	checkName(ch, path+".name", "bus", b.Name, names)

	switch b.Transport {
	case TransportRTU:
		if b.Device == "" {
			ch.Errorf(path+".device", "a serial device is required for transport rtu")
		}
	case TransportTCP, TransportRTUOverTCP:
		if _, _, err := net.SplitHostPort(b.Address); err != nil {
			ch.Errorf(path+".address", "%q is not host:port", b.Address)
		}
	default:
		ch.Errorf(path+".transport", "%q is not one of rtu, tcp, rtu-over-tcp", b.Transport)
	}

	if !slices.Contains(bauds, b.Baud) {
		ch.Errorf(path+".baud", "%d is not one of %v", b.Baud, bauds)
	}
	if !slices.Contains(parities, b.Parity) {
		ch.Errorf(path+".parity", "%q is not one of N, E, O", b.Parity)
	}
	if b.DataBits != 7 && b.DataBits != 8 {
		ch.Errorf(path+".data_bits", "%d is not 7 or 8", b.DataBits)
	}
	if b.StopBits != 1 && b.StopBits != 2 {
		ch.Errorf(path+".stop_bits", "%d is not 1 or 2", b.StopBits)
	}
	if b.Timeout < time.Millisecond || b.Timeout > maxTimeout {
		ch.Errorf(path+".timeout", "%s is outside 1ms..10s", b.Timeout)
	}
	if b.Delay < 0 || b.Delay > maxTimeout {
		ch.Errorf(path+".delay", "%s is outside 0..10s", b.Delay)
	}
	if b.ConnectTimeout < 0 || b.ConnectTimeout > maxConnectTimeout {
		ch.Errorf(path+".connect_timeout", "%s is outside 0..%s", b.ConnectTimeout,
			maxConnectTimeout)
	}
	switch {
	case b.Guard < 0 || b.Guard > maxTimeout:
		ch.Errorf(path+".guard", "%s is outside 0..10s", b.Guard)
	case b.Guard != 0 && b.Transport == TransportTCP:
		ch.Errorf(path+".guard", "applies to RTU framing only: Modbus TCP matches "+
			"replies by transaction id")
	}
}

func (m *Meter) validate(ch *config.Checker, path string, buses, ids, slaves map[string]bool) {
	checkName(ch, path+".id", "meter", m.ID, ids)

	if !buses[m.Bus] {
		ch.Errorf(path+".bus", "no bus is named %q", m.Bus)
	}
	// 1..247 per the Modbus serial line specification (§2.2): 0 is the
	// broadcast address and 248..255 are reserved.
	if m.Slave < 1 || m.Slave > 247 {
		ch.Errorf(path+".slave", "%d is outside 1..247", m.Slave)
	}
	key := fmt.Sprintf("%s/%d", m.Bus, m.Slave)
	if slaves[key] {
		ch.Errorf(path+".slave", "slave %d on bus %q is already used by another meter", m.Slave, m.Bus)
	}
	slaves[key] = true

	if m.Profile == "" {
		ch.Errorf(path+".profile", "a device profile is required")
	}
	if m.Timeout != 0 && (m.Timeout < time.Millisecond || m.Timeout > maxTimeout) {
		ch.Errorf(path+".timeout", "%s is outside 1ms..10s (0 keeps the bus timeout)", m.Timeout)
	}
	// Polls are aligned to the wall clock (every 15m fires at :00, :15,
	// :30, :45), which only works for intervals that divide a day.
	switch {
	case m.Interval < time.Second:
		ch.Errorf(path+".interval", "%s is shorter than 1s", m.Interval)
	case m.Interval%time.Second != 0:
		ch.Errorf(path+".interval", "%s is not a whole number of seconds", m.Interval)
	case intervalMisfit(m.Interval) != "":
		ch.Errorf(path+".interval", "%s", intervalMisfit(m.Interval))
	}
}

// intervalMisfit says why polls every d cannot keep to the same times of
// day, namely that a day is not a whole number of them, and which
// intervals can; it returns "" for an interval that divides a day.
func intervalMisfit(d time.Duration) string {
	const day = 24 * time.Hour
	if d <= 0 || day%d == 0 {
		return ""
	}

	unit, name := time.Millisecond, "millisecond"
	switch {
	case d%time.Hour == 0:
		unit, name = time.Hour, "hour"
	case d%time.Minute == 0:
		unit, name = time.Minute, "minute"
	case d%time.Second == 0:
		unit, name = time.Second, "second"
	}
	msg := fmt.Sprintf("a day (%d %ss) is not a whole number of %d-%s intervals",
		day/unit, name, d/unit, name)

	// The nearest in the same unit (in whole seconds for less) that do.
	var below, above time.Duration
	step := max(unit, time.Second)
	for s := step; s <= day; s += step {
		if day%s == 0 && s < d {
			below = s
		}
		if day%s == 0 && s > d {
			above = s
			break
		}
	}
	switch {
	case below == 0:
		msg += fmt.Sprintf("; the nearest that divides a day is %s", shortDuration(above))
	case above == 0:
		msg += fmt.Sprintf("; the nearest that divides a day is %s", shortDuration(below))
	default:
		msg += fmt.Sprintf("; the nearest that divide a day are %s and %s",
			shortDuration(below), shortDuration(above))
	}
	return msg + " (others: 1m, 2m, 3m, 4m, 5m, 6m, 10m, 12m, 15m, 20m, 30m, 1h, 2h, ...)"
}

// shortDuration writes d as people write intervals: 6m, 1h30m, 45s.
func shortDuration(d time.Duration) string {
	if d%time.Second != 0 || d <= 0 {
		return d.String()
	}

	h, m, s := d/time.Hour, d%time.Hour/time.Minute, d%time.Minute/time.Second
	out := ""
	for _, part := range []struct {
		n    time.Duration
		unit string
	}{{h, "h"}, {m, "m"}, {s, "s"}} {
		if part.n != 0 {
			out += fmt.Sprintf("%d%s", part.n, part.unit)
		}
	}
	return out
}
