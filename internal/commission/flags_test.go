package commission

import (
	"errors"
	"strings"
	"testing"

	"github.com/esep-kz/esep/internal/cli"
)

// TestFlagErrors runs each command with a wrong flag: it must exit 2,
// before it touches a bus, with a message naming the flag and the value.
// The bus address refuses connections, so a command that got as far as
// the bus would exit 1 instead.
func TestFlagErrors(t *testing.T) {
	t.Parallel()
	tcp := closedPort(t)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no bus", []string{"read"},
			"give one of -device, -tcp or -rtu-over-tcp, not 0"},
		{"two buses", []string{"scan", "-device", "/dev/ttyUSB0", "-tcp", tcp},
			"not 2 (-device, -tcp)"},
		{"empty device", []string{"read", "-device", ""},
			"-device is empty"},
		{"tcp without port", []string{"read", "-tcp", "meter.local"},
			`-tcp "meter.local" is not host:port`},
		{"baud", []string{"read", "-device", "/dev/ttyUSB0", "-baud", "9601"},
			"-baud 9601 is not one of"},
		{"parity", []string{"scan", "-device", "/dev/ttyUSB0", "-parity", "X"},
			`-parity "X" is not one of N, E, O`},
		{"data bits", []string{"read", "-device", "/dev/ttyUSB0", "-data-bits", "9"},
			"-data-bits 9 is not 7 or 8"},
		{"stop bits", []string{"read", "-device", "/dev/ttyUSB0", "-stop-bits", "3"},
			"-stop-bits 3 is not 1 or 2"},
		{"parity over tcp", []string{"read", "-tcp", tcp, "-parity", "N"},
			"-parity applies to -device only"},
		{"baud over tcp", []string{"read", "-tcp", tcp, "-baud", "9600"},
			"-baud applies to -device and -rtu-over-tcp"},
		{"timeout", []string{"read", "-tcp", tcp, "-timeout", "0s"},
			"-timeout 0s is outside 1ms..10s"},
		{"timeout unparsed", []string{"read", "-tcp", tcp, "-timeout", "soon"},
			`invalid value "soon" for flag -timeout`},
		{"slave on rtu", []string{"read", "-rtu-over-tcp", tcp, "-slave", "248"},
			"-slave 248 is outside 1..247"},
		{"slave on tcp", []string{"read", "-tcp", tcp, "-slave", "256"},
			"-slave 256 is outside 0..255"},
		{"function", []string{"read", "-tcp", tcp, "-function", "5"},
			`-function "5" is not one of 1 (coils)`},
		{"address", []string{"read", "-tcp", tcp, "-address", "0xZZ"},
			`-address "0xZZ" is not a decimal or 0x hex number`},
		{"address past the table", []string{"read", "-tcp", tcp, "-address", "65536"},
			`-address "65536" with -base pdu`},
		{"register 0", []string{"read", "-tcp", tcp, "-base", "register", "-address", "0"},
			`-address "0" with -base register: 0 is not a register address`},
		{"modicon without table",
			[]string{"read", "-tcp", tcp, "-base", "modicon", "-address", "20001"},
			`-address "20001" with -base modicon`},
		{"modicon against function",
			[]string{"read", "-tcp", tcp, "-base", "modicon", "-address", "30001", "-function", "3"},
			"-address 30001 is in the input registers (modicon), but -function 3 reads holding"},
		{"base", []string{"read", "-tcp", tcp, "-base", "one"},
			`-base "one" is not one of pdu, register, modicon`},
		{"count", []string{"read", "-tcp", tcp, "-count", "126"},
			"-count 126 is outside 1..125"},
		{"count of bits", []string{"read", "-tcp", tcp, "-function", "2", "-count", "2001"},
			"-count 2001 is outside 1..2000"},
		{"count past the end", []string{"read", "-tcp", tcp, "-address", "65535", "-count", "2"},
			"-count 2 from wire address 65535 runs past address 65535"},
		{"type", []string{"read", "-tcp", tcp, "-type", "f128"},
			`-type "f128" is not one of u16, i16`},
		{"order", []string{"read", "-tcp", tcp, "-order", "ACBD"},
			`-order "ACBD" is not one of ABCD, CDAB`},
		{"type of bits", []string{"read", "-tcp", tcp, "-function", "1", "-type", "f32"},
			"-type and -order decode registers; -function 1 reads coils"},
		{"stray argument", []string{"read", "-tcp", tcp, "40001"},
			`unexpected argument "40001"`},
		{"range", []string{"scan", "-tcp", tcp, "-range", "1-300"},
			`-range "1-300": "1-300" is outside 0..255`},
		{"scan has no slave", []string{"scan", "-tcp", tcp, "-slave", "1"},
			"flag provided but not defined: -slave"},
		{"no profile", []string{"read-meter", "-tcp", tcp},
			"-profile is required"},
		{"unknown profile", []string{"read-meter", "-tcp", tcp, "-profile", "sdm120"},
			`-profile "sdm120": unknown meter profile (known: 2flow-mag-11, abb-b23`},
		{"missing profiles dir",
			[]string{"read-meter", "-tcp", tcp, "-profile", "abb-b23",
				"-profiles-dir", "/nonexistent/profiles"},
			`-profiles-dir "/nonexistent/profiles"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, stderr := run(t, tt.args...)
			if code != 2 || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit 2 and %q", code, stderr, tt.want)
			}
			if out != "" {
				t.Errorf("a wrong invocation printed %q", out)
			}
		})
	}
}

func TestUsageErrorReadsAsItsMessage(t *testing.T) {
	err := usagef("-baud %d is not one of %v", 9601, bauds)
	if !errors.Is(err, cli.ErrUsage) {
		t.Errorf("%v does not match cli.ErrUsage", err)
	}
	want := "-baud 9601 is not one of [1200 2400 4800 9600 19200 38400 57600 115200]"
	if got := err.Error(); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
