package sim

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/esep-kz/esep/drivers/modbus"
	"github.com/esep-kz/esep/internal/config"
)

// Config is esep-sim's configuration: buses of simulated meters and how
// fast their time runs. configs/sim.yaml documents each key.
type Config struct {
	// TimeScale is how many simulated seconds pass in a second: 1 is
	// real time, 1440 a day in a minute.
	TimeScale float64 `yaml:"time_scale"`

	// Start is the simulated time when the simulator starts; zero is the
	// wall clock's time then.
	Start time.Time `yaml:"start"`

	// ProfilesDir is an optional directory of profiles laid over the
	// shipped ones, relative to the configuration file.
	ProfilesDir string `yaml:"profiles_dir"`

	// Buses are the served buses, each with its meters.
	Buses []BusConfig `yaml:"buses"`

	dir      string          // of the configuration file, for ProfilesDir
	profiles modbus.Profiles // loaded by Validate
}

// Transports a simulated bus is served over.
const (
	TransportRTU = "rtu" // Modbus RTU on a pty, as a serial port
	TransportTCP = "tcp" // Modbus TCP on a listener
)

// BusConfig is one bus of meters: a pty that a client opens as its
// serial port, or a TCP endpoint.
type BusConfig struct {
	// Name names the bus in the output and the log.
	Name string `yaml:"name"`

	// Transport is rtu or tcp.
	Transport string `yaml:"transport"`

	// Link is, for rtu, a symbolic link made to the pty: a stable
	// device name for a client's configuration.
	Link string `yaml:"link"`

	// Baud is the rtu line rate replies are paced to; default 9600.
	Baud int `yaml:"baud"`

	// Listen is the tcp address; default loopback on a free port.
	Listen string `yaml:"listen"`

	// NoDevice is, for tcp, the exception a gateway answers for unit ids
	// with no meter: 10 or 11; 0 leaves them unanswered.
	NoDevice int `yaml:"no_device"`

	// Turnaround is how long a meter takes to start its reply.
	Turnaround time.Duration `yaml:"turnaround"`

	// Units are the meters on the bus.
	Units []UnitConfig `yaml:"units"`
}

// Defaults for what a file leaves out.
const (
	defaultTimeScale = 1
	defaultBaud      = 9600
	defaultListen    = "127.0.0.1:0"
	maxTurnaround    = 10 * time.Second
)

// bauds are the rates RS-485 meters offer.
var bauds = []int{1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200}

// LoadConfig reads and checks the configuration at path: every problem
// is reported with the file, line and key. It loads the meter profiles,
// so that a unit naming an unknown one is reported too.
func LoadConfig(path string) (*Config, error) {
	c := &Config{dir: filepath.Dir(path)}
	if err := config.Load(path, c); err != nil {
		return nil, err
	}
	return c, nil
}

// Check validates a Config built in code, such as one made from
// command-line flags; source names it in errors.
func (c *Config) Check(source string) error {
	ch := config.NewChecker(source, nil)
	c.Validate(ch)
	return ch.Err()
}

// Profiles returns the meter profiles the configuration was checked
// against: the shipped ones and those of ProfilesDir.
func (c *Config) Profiles() modbus.Profiles { return c.profiles }

// Validate fills defaults and checks every field; see config.Validator.
func (c *Config) Validate(ch *config.Checker) {
	if c.TimeScale == 0 {
		c.TimeScale = defaultTimeScale
	}
	if !(c.TimeScale > 0 && c.TimeScale <= maxTimeScale) {
		ch.Errorf("time_scale", "%v is not above 0 and up to %d (1 is real time, "+
			"1440 a day in a minute)", c.TimeScale, maxTimeScale)
	}
	c.loadProfiles(ch)
	if len(c.Buses) == 0 {
		ch.Errorf("buses", "no buses configured")
	}

	names := map[string]bool{}
	for i := range c.Buses {
		c.Buses[i].validate(ch, fmt.Sprintf("buses[%d]", i), names, c.profiles)
	}
}

// loadProfiles loads the shipped profiles and those of ProfilesDir.
func (c *Config) loadProfiles(ch *config.Checker) {
	dir := c.ProfilesDir
	if dir != "" && !filepath.IsAbs(dir) {
		dir = filepath.Join(c.dir, dir)
	}
	if dir != "" {
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			ch.Errorf("profiles_dir", "%q is not a directory", dir)
			dir = ""
		}
	}
	var err error
	if c.profiles, err = modbus.LoadProfiles(dir); err != nil {
		ch.Errorf("profiles_dir", "%v", err)
	}
}

// nameRE is what a bus name may be: it appears in logs and output.
var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

func (b *BusConfig) validate(ch *config.Checker, path string, names map[string]bool,
	profiles modbus.Profiles) {
	switch {
	case !nameRE.MatchString(b.Name):
		ch.Errorf(path+".name", "%q is not a bus name (letters, digits, '.', '_', '-')", b.Name)
	case names[b.Name]:
		ch.Errorf(path+".name", "bus %q is defined twice", b.Name)
	}
	names[b.Name] = true

	switch b.Transport {
	case TransportRTU:
		b.validateRTU(ch, path)
	case TransportTCP:
		b.validateTCP(ch, path)
	default:
		ch.Errorf(path+".transport", "%q is not one of rtu, tcp", b.Transport)
	}
	if b.Turnaround < 0 || b.Turnaround > maxTurnaround {
		ch.Errorf(path+".turnaround", "%s is outside 0..%s", b.Turnaround, maxTurnaround)
	}
	if len(b.Units) == 0 {
		ch.Errorf(path+".units", "a bus needs at least one unit")
	}

	taken := map[byte]string{}
	for i := range b.Units {
		upath := fmt.Sprintf("%s.units[%d]", path, i)
		b.Units[i].validate(ch, upath, b.Transport, taken, profiles)
	}
}

func (b *BusConfig) validateRTU(ch *config.Checker, path string) {
	if b.Baud == 0 {
		b.Baud = defaultBaud
	}
	if !slices.Contains(bauds, b.Baud) {
		ch.Errorf(path+".baud", "%d is not one of %v", b.Baud, bauds)
	}
	if b.Listen != "" {
		ch.Errorf(path+".listen", "applies to transport tcp; an rtu bus is a pty (see link)")
	}
	if b.NoDevice != 0 {
		ch.Errorf(path+".no_device", "applies to transport tcp: an RTU slave never answers "+
			"for another address")
	}
}

func (b *BusConfig) validateTCP(ch *config.Checker, path string) {
	if b.Listen == "" {
		b.Listen = defaultListen
	}
	if _, _, err := net.SplitHostPort(b.Listen); err != nil {
		ch.Errorf(path+".listen", "%q is not host:port (port 0 picks a free one)", b.Listen)
	}
	for key, set := range map[string]bool{"link": b.Link != "", "baud": b.Baud != 0} {
		if set {
			ch.Errorf(path+"."+key, "applies to transport rtu only")
		}
	}
	codes := []int{0, int(modbus.GatewayPathUnavailable), int(modbus.GatewayTargetFailedToRespond)}
	if !slices.Contains(codes, b.NoDevice) {
		ch.Errorf(path+".no_device", "%d is not 0 (no answer), %d (%s) or %d (%s)", b.NoDevice,
			codes[1], modbus.GatewayPathUnavailable, codes[2], modbus.GatewayTargetFailedToRespond)
	}
}

// Describe names the bus's transport and settings for a person.
func (b *BusConfig) Describe() string {
	if b.Transport == TransportTCP {
		return fmt.Sprintf("Modbus TCP, turnaround %s", b.Turnaround)
	}
	return fmt.Sprintf("Modbus RTU at %d Bd, turnaround %s", b.Baud, b.Turnaround)
}

// knownProfiles lists profile names for an error message.
func knownProfiles(ps modbus.Profiles) string { return strings.Join(ps.Names(), ", ") }
