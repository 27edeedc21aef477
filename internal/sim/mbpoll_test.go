package sim

import (
	"context"
	"net"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/esep-kz/esep/internal/testkit"

	"github.com/esep-kz/esep/drivers/modbus"
)

// mbpollCase is one run of Debian's mbpoll (libmodbus) against a server
// whose unit 1 has faults; it wants the values mbpoll prints, in order,
// or a line of its error output.
type mbpollCase struct {
	name      string
	transport string // "rtu" or "tcp"
	faults    Faults
	args      []string // slave, reference, count and type
	want      []string
	wantErr   string
}

var mbpollCases = []mbpollCase{
	{name: "holding registers", transport: "rtu", args: holding101,
		want: []string{"1", "2", "65535"}},
	{name: "input registers", transport: "rtu",
		args: []string{"-a", "1", "-r", "31", "-c", "2", "-t", "3:hex"},
		want: []string{"0x1234", "0x5678"}},
	{name: "coils", transport: "rtu",
		args: []string{"-a", "1", "-r", "1", "-c", "3", "-t", "0"},
		want: []string{"1", "0", "1"}},
	{name: "discrete input", transport: "rtu",
		args: []string{"-a", "1", "-r", "8", "-c", "1", "-t", "1"}, want: []string{"1"}},
	{name: "second unit", transport: "rtu",
		args: []string{"-a", "2", "-r", "101", "-c", "1", "-t", "4"}, want: []string{"8738"}},
	{name: "holding registers", transport: "tcp", args: holding101,
		want: []string{"1", "2", "65535"}},
	{name: "input registers", transport: "tcp",
		args: []string{"-a", "1", "-r", "31", "-c", "2", "-t", "3:hex"},
		want: []string{"0x1234", "0x5678"}},
	{name: "refused range", transport: "rtu", args: holding101,
		faults:  Faults{Refused: []Range{{Start: 102, Count: 1}}},
		wantErr: "Illegal data address"},
	{name: "busy", transport: "rtu", args: holding101,
		faults:  Faults{Exceptions: []ExceptionRule{{Code: modbus.ServerDeviceBusy}}},
		wantErr: "Slave device or server is busy"},
	{name: "gateway target failed", transport: "rtu", args: holding101,
		faults:  Faults{Exceptions: []ExceptionRule{{Code: modbus.GatewayTargetFailedToRespond}}},
		wantErr: "Target device failed to respond"},
	{name: "device failure", transport: "tcp", args: holding101,
		faults:  Faults{Exceptions: []ExceptionRule{{Code: modbus.ServerDeviceFailure}}},
		wantErr: "Slave device or server failure"},
	{name: "corrupt CRC", transport: "rtu", args: holding101,
		faults: Faults{CorruptCRCRate: 1}, wantErr: "Invalid CRC"},
	{name: "dead", transport: "rtu", args: holding101,
		faults: Faults{Dead: true}, wantErr: "Connection timed out"},
	{name: "dead", transport: "tcp", args: holding101,
		faults: Faults{Dead: true}, wantErr: "Connection timed out"},
	{name: "latency beyond the timeout (FC-13)", transport: "rtu", args: holding101,
		faults:  Faults{Latency: []time.Duration{700 * time.Millisecond}},
		wantErr: "Connection timed out"},
	{name: "foreign unit first (FC-15.3)", transport: "rtu", args: holding101,
		faults: Faults{ForeignUnit: 9}, wantErr: "Response not from requested slave"},
	{name: "stale transaction id first (FC-15.1)", transport: "tcp", args: holding101,
		faults: Faults{StaleTID: true}, wantErr: "Invalid data"},
	{name: "split in chunks (FC-10)", transport: "rtu", args: holding101,
		faults: Faults{Chunks: []int{1, 4}, ChunkGap: 16 * time.Millisecond},
		want:   []string{"1", "2", "65535"}},
}

// holding101 reads holding registers 100..102 of unit 1; mbpoll counts
// references from 1.
var holding101 = []string{"-a", "1", "-r", "101", "-c", "3", "-t", "4"}

func TestMbpoll(t *testing.T) {
	t.Parallel()
	mbpoll := testkit.LookBinary(t, "mbpoll", "mbpoll")
	for _, tc := range mbpollCases {
		t.Run(tc.transport+" "+tc.name, func(t *testing.T) {
			t.Parallel()
			units := testUnits(t)
			mustSet(t, units.SetFaults(1, tc.faults))
			// A short timeout where one is expected, a long one else.
			timeout := "2"
			if strings.Contains(tc.wantErr, "timed out") {
				timeout = "0.5"
			}
			args := append([]string{"-o", timeout}, tc.args...)
			got, errLine := runMbpoll(t, mbpoll, tc.transport, units, args...)
			switch {
			case tc.wantErr != "" && !strings.Contains(errLine, tc.wantErr):
				t.Errorf("mbpoll %s: got %q, %q; want error %q", tc.args, got, errLine, tc.wantErr)
			case tc.wantErr == "" && !slices.Equal(got, tc.want):
				t.Errorf("mbpoll %s: got %q, %q; want %q", tc.args, got, errLine, tc.want)
			}
		})
	}
}

// TestMbpollPacing reads 125 registers at 9600 baud through a link: 8
// request and 255 reply characters of 11 bits take at least 301 ms.
func TestMbpollPacing(t *testing.T) {
	t.Parallel()
	mbpoll := testkit.LookBinary(t, "mbpoll", "mbpoll")
	units := NewUnits()
	mustSet(t, units.SetDevice(1, bigBank()))
	s := startRTU(t, units, RTUConfig{Baud: 9600, Link: filepath.Join(t.TempDir(), "bus")})

	start := time.Now()
	got, errLine := mbpollOnce(t, mbpoll, "-o", "2", "-m", "rtu", "-b", "9600", "-P", "none",
		"-a", "1", "-r", "1", "-c", "125", "-t", "4", s.Link())
	wire := time.Duration(263*11) * time.Second / 9600
	if took := time.Since(start); took < wire {
		t.Errorf("125 registers took %s; want at least %s", took, wire)
	}
	if len(got) != 125 || got[0] != "1000" || got[124] != "1124" {
		t.Errorf("got %d values %q, %q; want 1000..1124", len(got), got, errLine)
	}
	if st := s.Stats(); st.Units[1].Responses != 1 || st.Units[1].WireTime != wire {
		t.Errorf("stats %+v; want one response and wire time %s", st, wire)
	}
}

// runMbpoll serves units over transport and polls them once with args.
func runMbpoll(t *testing.T, mbpoll, transport string, units *Units, args ...string) (
	values []string, errLine string) {
	t.Helper()
	if transport == "rtu" {
		s := startRTU(t, units, RTUConfig{Baud: 9600})
		args = append(args, "-m", "rtu", "-b", "9600", "-P", "none", s.Path())
	} else {
		s := startTCP(t, units, TCPConfig{})
		host, port, _ := net.SplitHostPort(s.Addr())
		args = append(args, "-m", "tcp", "-p", port, host)
	}
	return mbpollOnce(t, mbpoll, args...)
}

// mbpollValue is a line of mbpoll's output with one value: "[101]: 	1"
// or "[103]: 	65535 (-1)".
var mbpollValue = regexp.MustCompile(`(?m)^\[\d+\]:\s+(\S+)`)

// mbpollFailure is the line mbpoll prints when a read fails.
var mbpollFailure = regexp.MustCompile(`(?m)^.* failed: .*$`)

// mbpollOnce polls once and returns the values mbpoll printed and its
// failure line, if any.
func mbpollOnce(t *testing.T, mbpoll string, args ...string) (values []string, errLine string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	args = append([]string{"-1"}, args...)
	out, err := exec.CommandContext(ctx, mbpoll, args...).CombinedOutput()
	for _, m := range mbpollValue.FindAllStringSubmatch(string(out), -1) {
		values = append(values, m[1])
	}
	errLine = mbpollFailure.FindString(string(out))
	if err != nil && errLine == "" {
		t.Fatalf("mbpoll %s: %v\n%s", strconv.Quote(strings.Join(args, " ")), err, out)
	}
	return values, errLine
}
