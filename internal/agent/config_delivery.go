package agent

import (
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"
	"go.yaml.in/yaml/v3"

	"github.com/esep-kz/esep/drivers/modbus"
	"github.com/esep-kz/esep/internal/config"
	"github.com/esep-kz/esep/internal/reading"
	"github.com/esep-kz/esep/internal/spool"
	"github.com/esep-kz/esep/internal/wire"
)

// SpoolSection configures the agent's on-disk spool (internal/spool).
type SpoolSection struct {
	// Path is the spool file; relative to the configuration file's
	// directory. Default: spool.db in Agent.StateDir.
	Path string `yaml:"path"`
	// MaxSize caps the readings and events kept, unsent and sent; over
	// it the oldest are thinned, then dropped, each counted and reported.
	// Default: 14 days of this agent's own readings (see spoolDefault).
	// Give the file system about three times as much (internal/spool).
	MaxSize ByteSize `yaml:"max_size"`
	// History is how long delivered records are kept for the centre's
	// resend requests. Default 7 days.
	History time.Duration `yaml:"history"`
}

// HealthSection configures the local health endpoint (internal/health).
type HealthSection struct {
	// Listen is host:port of /healthz and /metrics, loopback by default:
	// it tells how the agent fares, to the box's supervisor and to
	// Prometheus. "off" turns it off.
	Listen string `yaml:"listen"`
}

// Defaults of the delivery sections.
const (
	defaultHealthListen = "127.0.0.1:9464"
	spoolFile           = "spool.db"
	// spoolDays is how long an uplink may be down before the spool
	// thins: the issue asks for two weeks, a long holiday of a building
	// whose modem died on the first day.
	spoolDays = 14
	// minSpoolSize keeps a spool of a few meters from thinning after an
	// afternoon.
	minSpoolSize = 16 << 20
	// minSpoolSetting is the least a configuration may set: below it
	// a spool holds too few readings to ride out an outage, and a single
	// large reading may not fit at all.
	minSpoolSetting = 1 << 20
	// maxSpoolSize bounds what a configuration may ask of a box's flash.
	maxSpoolSize = 64 << 30
)

// ByteSize is a size in bytes, written as a whole number of bytes or with
// a binary unit: 512KiB, 64MiB, 2GiB.
type ByteSize int64

// UnmarshalYAML reads a size such as 64MiB. Its error is a value error,
// so the rest of the file is still checked.
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	v, err := parseByteSize(n.Value)
	if err != nil {
		return config.ValueError(n, "%v", err)
	}
	*b = v
	return nil
}

// byteUnits are the suffixes of ByteSize, longest first.
var byteUnits = []struct {
	suffix string
	size   int64
}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}}

func parseByteSize(s string) (ByteSize, error) {
	num, unit := strings.TrimSpace(s), int64(1)
	for _, u := range byteUnits {
		if strings.HasSuffix(num, u.suffix) {
			num, unit = strings.TrimSpace(strings.TrimSuffix(num, u.suffix)), u.size
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/unit {
		return 0, fmt.Errorf("%q is not a size: write bytes or KiB, MiB, GiB, such as 64MiB", s)
	}
	return ByteSize(n * unit), nil
}

// String writes the size with the largest unit that divides it.
func (b ByteSize) String() string {
	for _, u := range byteUnits {
		if int64(b) >= u.size && int64(b)%u.size == 0 {
			return fmt.Sprintf("%d%s", int64(b)/u.size, u.suffix)
		}
	}
	return fmt.Sprintf("%dB", int64(b))
}

// validateDelivery fills the defaults of the spool, uplink and health
// sections that do not depend on the profiles, and checks them.
func (c *Config) validateDelivery(ch *config.Checker) {
	setDefault(&c.Spool.History, spool.DefaultHistory)
	setDefault(&c.Health.Listen, defaultHealthListen)
	if c.Spool.MaxSize != 0 &&
		(c.Spool.MaxSize < minSpoolSetting || c.Spool.MaxSize > maxSpoolSize) {
		ch.Errorf("spool.max_size", "%s is outside %s..%s", c.Spool.MaxSize,
			ByteSize(minSpoolSetting), ByteSize(maxSpoolSize))
	}
	if c.Spool.History < 0 || c.Spool.History > 90*24*time.Hour {
		ch.Errorf("spool.history", "%s is outside 0..2160h (90 days)", c.Spool.History)
	}
	if l := c.Health.Listen; l != "off" {
		if _, _, err := net.SplitHostPort(l); err != nil {
			ch.Errorf("health.listen", "%q is not host:port, such as %s, or off", l,
				defaultHealthListen)
		}
	}
	if c.Uplink != nil {
		c.Uplink.Check(ch, "uplink")
	}
}

// spoolPath returns the spool file's path, once directories are resolved.
func (c *Config) spoolPath() string {
	if c.Spool.Path != "" {
		return c.Spool.Path
	}
	return filepath.Join(c.Agent.StateDir, spoolFile)
}

// setSpoolSize sets the spool's cap, when the file leaves it out, to
// spoolDays of this agent's readings: each meter's readings a day times
// the size of one reading of its profile with every value read.
func (c *Config) setSpoolSize() {
	if c.Spool.MaxSize != 0 {
		return
	}
	var total int64
	for _, m := range c.Meters {
		p, ok := c.profiles[m.Profile]
		if !ok || m.Interval <= 0 {
			continue
		}
		perDay := int64(24 * time.Hour / m.Interval)
		total += perDay * spoolDays * int64(sampleReadingSize(m.ID, p))
	}
	c.Spool.MaxSize = ByteSize(max(total, minSpoolSize))
}

// sampleReadingSize is the spooled size of a reading of meter id with
// every value of profile p read, each a number of nine digits: a full
// index is the longest a value gets.
func sampleReadingSize(id string, p *modbus.Profile) int {
	r := reading.Reading{Meter: id, Serial: "1234567890", Time: time.Now().UTC()}
	for _, pt := range p.Values {
		places := int32(2)
		if pt.Places != nil {
			places = *pt.Places
		}
		r.Values = append(r.Values, reading.Value{Quantity: pt.Quantity, Unit: pt.Unit,
			Quality: reading.Good, Number: decimal.New(123456789, -places), Places: places})
	}
	data, err := wire.EncodeReading(r)
	if err != nil {
		// A profile the wire refuses is caught when its readings are
		// spooled; assume a generous size here.
		return 64 * (len(p.Values) + 1)
	}
	return len(data) + spoolRecordOverhead + len(id)
}

// spoolRecordOverhead is what the spool adds to a record's data: key,
// header and checksum (internal/spool's recordSize).
const spoolRecordOverhead = 32

// Summary describes in a few lines what the configuration sets up, for
// an engineer checking it: the agent, its buses and meters, and where
// readings go.
func (c *Config) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "  agent %s, time zone %s\n", c.Agent.ID, c.Location())
	fmt.Fprintf(&b, "  %d buses, %d meters, %d profiles in use (%d known)\n", len(c.Buses),
		len(c.Meters), len(profileNames(c)), len(c.Profiles()))
	if c.Uplink == nil {
		b.WriteString("  no uplink: readings go to stdout as JSON lines, unspooled\n")
	} else {
		fmt.Fprintf(&b, "  spool %s, at most %s, delivered records kept %s\n", c.spoolPath(),
			c.Spool.MaxSize, c.Spool.History)
		fmt.Fprintf(&b, "  uplink %s, topics %s/v1/%s/...\n", c.Uplink.Broker, c.Uplink.Prefix,
			c.Agent.ID)
	}
	fmt.Fprintf(&b, "  health %s\n", c.Health.Listen)
	return b.String()
}
