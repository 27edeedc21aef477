package commission

import (
	"bytes"
	"context"
	"flag"
	"math"
	"net"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/esep-kz/esep/internal/cli"
	"github.com/esep-kz/esep/internal/sim"
)

// run runs esep-agent's frame with the commissioning commands, as a
// person would at the box.
func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = cli.Run(&out, &errOut, "esep-agent", "the esep edge agent", args, Commands()...)
	t.Logf("esep-agent %s: exit %d\nstdout:\n%s\nstderr:\n%s",
		strings.Join(args, " "), code, out.String(), errOut.String())
	return code, out.String(), errOut.String()
}

// runWith runs cmd outside the frame with ctx, for tests that end the
// context themselves; the frame's own context ends only on a signal.
func runWith(t *testing.T, ctx context.Context, cmd cli.Command, args ...string) (
	stdout string, err error) {
	t.Helper()
	fs := flag.NewFlagSet(cmd.Name, flag.ContinueOnError)
	runFn := cmd.Flags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatalf("parse %v: %v", args, err)
	}
	var out, errOut bytes.Buffer
	env := &cli.Env{Stdout: &out, Stderr: &errOut, Log: zerolog.Nop()}
	err = runFn(ctx, env, fs.Args())
	t.Logf("%s %s: %v\nstdout:\n%s\nstderr:\n%s",
		cmd.Name, strings.Join(args, " "), err, out.String(), errOut.String())
	return out.String(), err
}

// unit is what one unit id of a simulated bus holds and how it fails.
type unit struct {
	device sim.Device
	faults sim.Faults
}

// newUnits returns a table of the given units.
func newUnits(t *testing.T, units map[byte]unit) *sim.Units {
	t.Helper()
	u := sim.NewUnits()
	for id, un := range units {
		if err := u.SetDevice(id, un.device); err != nil {
			t.Fatal(err)
		}
		if err := u.SetFaults(id, un.faults); err != nil {
			t.Fatal(err)
		}
	}
	return u
}

// simTCP serves units over Modbus TCP on a free loopback port for the
// length of the test and returns its address.
func simTCP(t *testing.T, units *sim.Units, cfg sim.TCPConfig) string {
	t.Helper()
	cfg.Addr = "127.0.0.1:0"
	s, err := sim.ServeTCP(t.Context(), units, cfg)
	if err != nil {
		t.Fatalf("ServeTCP: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s.Addr()
}

// simRTU serves units as an RTU bus at 19200 Bd on a pty for the length
// of the test and returns the device a client opens.
func simRTU(t *testing.T, units *sim.Units) string {
	t.Helper()
	s, err := sim.ServeRTU(t.Context(), units, sim.RTUConfig{Baud: 19200})
	if err != nil {
		t.Fatalf("ServeRTU: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s.Path()
}

// holding returns a Bank holding words from holding register addr on.
func holding(addr uint16, words ...uint16) *sim.Bank {
	b := sim.NewBank()
	b.SetRegisters(sim.ReadHoldingRegisters, addr, words...)
	return b
}

// f32Words returns the words of f as a meter sends them high word first.
func f32Words(f float32) []uint16 {
	b := math.Float32bits(f)
	return []uint16{uint16(b >> 16), uint16(b)}
}

// closedPort returns a loopback address that refuses connections.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// section returns the lines of out from the one that starts with header
// up to the next blank line. Each line's fields are joined by one space,
// in the lines and in header, so that column widths do not matter.
func section(out, header string) []string {
	var lines []string
	in := false
	for line := range strings.Lines(out) {
		line = strings.Join(strings.Fields(line), " ")
		switch {
		case !in && strings.HasPrefix(line, header):
			in = true
		case !in:
			continue
		case line == "":
			return lines
		}
		lines = append(lines, line)
	}
	return lines
}

// checkSection fails the test unless the section of out under header
// holds exactly want, header first.
func checkSection(t *testing.T, out, header string, want ...string) {
	t.Helper()
	got := section(out, header)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("section %q:\ngot:\n%s\nwant:\n%s", header,
			strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
