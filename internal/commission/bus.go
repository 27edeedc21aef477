package commission

import (
	"flag"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/esep-kz/esep/drivers/modbus"
)

// Defaults of the serial flags: those the agent's configuration applies
// to a bus, so that settings tried here mean the same there. Even parity,
// 8 data bits and 1 stop bit is the default the Modbus serial line
// specification (V1.02, §2.5.1) requires of devices.
const (
	defaultBaud     = 9600
	defaultParity   = "E"
	defaultDataBits = 8
	defaultStopBits = 1
)

// bauds are the line rates the agent's configuration accepts.
var bauds = []int{1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200}

// Transports, named as the agent's configuration names them.
const (
	transportRTU        = "rtu"
	transportTCP        = "tcp"
	transportRTUOverTCP = "rtu-over-tcp"
)

// serialOnly are the flags that only a local serial port uses.
var serialOnly = []string{"parity", "data-bits", "stop-bits"}

// busFlags are the flags that choose a bus and set it up, and the slave
// to address on it; every command declares them through declareBus.
type busFlags struct {
	fs         *flag.FlagSet
	device     string
	tcp        string
	rtuOverTCP string
	baud       int
	parity     string
	dataBits   int
	stopBits   int
	timeout    time.Duration
	slave      *int // nil for a command that addresses many slaves
}

// declareBus declares the bus flags on fs with timeout as the default
// response timeout. withSlave adds -slave, for commands that address one
// slave.
func declareBus(fs *flag.FlagSet, timeout time.Duration, withSlave bool) *busFlags {
	b := &busFlags{fs: fs}
	fs.StringVar(&b.device, "device", "", "serial port of an RS-485 bus, such as /dev/ttyUSB0")
	fs.StringVar(&b.tcp, "tcp", "", "host:port of a Modbus TCP device or gateway")
	fs.StringVar(&b.rtuOverTCP, "rtu-over-tcp", "",
		"host:port of a serial device server passing RTU frames through")
	fs.IntVar(&b.baud, "baud", defaultBaud, "line rate of the serial bus")
	fs.StringVar(&b.parity, "parity", defaultParity, "parity of the serial port: N, E or O")
	fs.IntVar(&b.dataBits, "data-bits", defaultDataBits, "data bits of the serial port: 7 or 8")
	fs.IntVar(&b.stopBits, "stop-bits", defaultStopBits, "stop bits of the serial port: 1 or 2")
	fs.DurationVar(&b.timeout, "timeout", timeout, "response timeout of one request")
	if withSlave {
		b.slave = fs.Int("slave", 1, "slave address (unit id) of the device")
	}
	return b
}

// bus is a checked choice of bus, ready to open.
type bus struct {
	transport string
	flag      string // the flag that chose the transport
	addr      string // device path or host:port
	serial    modbus.SerialConfig
	timeout   time.Duration
	slave     byte
	// lowest and highest are the slave addresses the transport can carry.
	lowest, highest int
}

// set returns the names of the flags given on the command line.
func (b *busFlags) set() map[string]bool {
	set := map[string]bool{}
	b.fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set
}

// check checks the flags once parsed and returns the bus they describe.
func (b *busFlags) check() (bus, error) {
	set := b.set()
	choices := []struct{ flag, transport, addr string }{
		{"device", transportRTU, b.device},
		{"tcp", transportTCP, b.tcp},
		{"rtu-over-tcp", transportRTUOverTCP, b.rtuOverTCP},
	}
	var bs bus
	var chosen []string
	for _, c := range choices {
		if set[c.flag] {
			bs.transport, bs.flag, bs.addr = c.transport, c.flag, c.addr
			chosen = append(chosen, "-"+c.flag)
		}
	}
	if len(chosen) != 1 {
		return bus{}, usagef("give one of -device, -tcp or -rtu-over-tcp, not %d (%s)",
			len(chosen), strings.Join(chosen, ", "))
	}
	// The agent's configuration allows the same timeouts.
	if b.timeout < time.Millisecond || b.timeout > 10*time.Second {
		return bus{}, usagef("-timeout %s is outside 1ms..10s", b.timeout)
	}
	if err := b.checkLine(bs, set); err != nil {
		return bus{}, err
	}

	bs.timeout = b.timeout
	bs.serial = modbus.SerialConfig{Device: b.device, Baud: b.baud, DataBits: b.dataBits,
		Parity: strings.ToUpper(b.parity), StopBits: b.stopBits}
	// An RTU address is 1..247, 0 being broadcast (serial line spec V1.02
	// §2.2); over TCP unit ids 0 and 255 address the device itself
	// (Modbus messaging on TCP/IP implementation guide V1.0b §4.4.2).
	bs.lowest, bs.highest = 1, 247
	if bs.transport == transportTCP {
		bs.lowest, bs.highest = 0, 255
	}

	if b.slave != nil {
		s := *b.slave
		if s < bs.lowest || s > bs.highest {
			return bus{}, usagef("-slave %d is outside %d..%d, the addresses %s carries",
				s, bs.lowest, bs.highest, bs.transport)
		}
		bs.slave = byte(s)
	}
	return bs, nil
}

// checkLine checks the flags of the line: the address and the serial
// settings, which a TCP bus must not be given.
func (b *busFlags) checkLine(bs bus, set map[string]bool) error {
	name := bs.flag
	switch {
	case bs.addr == "":
		return usagef("-%s is empty", name)
	case bs.transport == transportRTU:
		return b.checkSerial()
	}

	if _, _, err := net.SplitHostPort(bs.addr); err != nil {
		return usagef("-%s %q is not host:port: %w", name, bs.addr, err)
	}
	for _, f := range serialOnly {
		if set[f] {
			return usagef("-%s applies to -device only, not to -%s", f, name)
		}
	}
	// The baud rate of a serial device server times its RTU frames.
	if set["baud"] && bs.transport == transportTCP {
		return usagef("-baud applies to -device and -rtu-over-tcp only, not to -tcp")
	}
	if bs.transport == transportRTUOverTCP {
		return b.checkBaud()
	}
	return nil
}

// checkSerial checks the settings of a local serial port.
func (b *busFlags) checkSerial() error {
	if err := b.checkBaud(); err != nil {
		return err
	}
	switch {
	case !slices.Contains([]string{"N", "E", "O"}, strings.ToUpper(b.parity)):
		return usagef("-parity %q is not one of N, E, O", b.parity)
	case b.dataBits != 7 && b.dataBits != 8:
		return usagef("-data-bits %d is not 7 or 8", b.dataBits)
	case b.stopBits != 1 && b.stopBits != 2:
		return usagef("-stop-bits %d is not 1 or 2", b.stopBits)
	}
	return nil
}

func (b *busFlags) checkBaud() error {
	if !slices.Contains(bauds, b.baud) {
		return usagef("-baud %d is not one of %v", b.baud, bauds)
	}
	return nil
}

// open returns a client on the bus; it opens the line on the first
// request. The caller closes it.
func (bs bus) open() (*modbus.Client, error) {
	var tr modbus.Transport
	var err error
	switch bs.transport {
	case transportRTU:
		tr, err = modbus.NewSerialRTU(bs.serial, modbus.RTUOptions{Timeout: bs.timeout})
	case transportTCP:
		tr, err = modbus.NewTCP(bs.addr, modbus.TCPLine(bs.addr),
			modbus.TCPOptions{Timeout: bs.timeout})
	default:
		tr, err = modbus.NewRTU(bs.addr, modbus.TCPLine(bs.addr),
			modbus.RTUOptions{Timeout: bs.timeout, Baud: bs.serial.Baud})
	}
	if err != nil {
		return nil, err
	}
	return modbus.NewClient(tr), nil
}

// serialLine reports whether the bus is a serial line, whose settings
// must match every device's.
func (bs bus) serialLine() bool { return bs.transport != transportTCP }

// String names the bus and its settings, as in "rtu /dev/ttyUSB0 9600 8E1".
func (bs bus) String() string {
	switch bs.transport {
	case transportRTU:
		s := bs.serial
		return fmt.Sprintf("rtu %s %d %d%s%d", s.Device, s.Baud, s.DataBits, s.Parity, s.StopBits)
	case transportRTUOverTCP:
		return fmt.Sprintf("rtu-over-tcp %s %d", bs.addr, bs.serial.Baud)
	}
	return "tcp " + bs.addr
}
