package busbench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/esep-kz/esep/drivers/modbus"
)

// Mbpoll is Debian's mbpoll, a libmodbus master, run on a bus.
type Mbpoll struct {
	Path    string        // the program, as exec.LookPath finds "mbpoll"
	Timeout time.Duration // its response timeout, -o: 10 ms to 10 s
}

// Poll runs mbpoll once for cycles cycles of cycle and times it. Every
// read of cycle must ask the same registers of its unit, as mbpoll reads
// one range from a list of slaves (-a). The list is cycle's units once
// per cycle, so one process polls them all: its start-up, some process
// creation and a fixed 20 ms pause after opening the port, is paid once
// per run and counted. mbpoll's own polling loop (-l) would add at least
// its poll interval after every slave.
func (m Mbpoll) Poll(ctx context.Context, b *Bus, cycle []Request, cycles int) (Run, error) {
	args, err := m.args(b, cycle, cycles)
	if err != nil {
		return Run{}, err
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, m.Path, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr

	return b.measure(cycles, func() ([]Request, int, error) {
		// mbpoll exits with 1 after any failed read; the output tells
		// which, so only a run that read nothing at all fails.
		runErr := cmd.Run()
		served, sent, err := parseMbpoll(stdout.Bytes(), cycle[0])
		switch {
		case err != nil:
			return nil, 0, fmt.Errorf("mbpoll %s: %w", strings.Join(args, " "), err)
		case sent == 0 && runErr != nil:
			return nil, 0, fmt.Errorf("mbpoll %s: %w: %s", strings.Join(args, " "), runErr,
				strings.TrimSpace(stderr.String()))
		}
		return served, sent, nil
	})
}

// mbpollTypes are mbpoll's data types (-t) of the register tables.
var mbpollTypes = map[modbus.Function]string{modbus.FuncInput: "3", modbus.FuncHolding: "4"}

// args returns mbpoll's command line: RTU at b's rate, 8N1, PDU
// addresses (-0), once (-1), without its banner (-q).
func (m Mbpoll) args(b *Bus, cycle []Request, cycles int) ([]string, error) {
	if len(cycle) == 0 {
		return nil, errors.New("mbpoll: no reads to poll")
	}
	first := cycle[0]
	typ, ok := mbpollTypes[first.Func]
	units := make([]string, 0, len(cycle))
	for _, r := range cycle {
		if !ok || r.Func != first.Func || r.Addr != first.Addr || r.Count != first.Count {
			return nil, fmt.Errorf("mbpoll reads one register range of one table from every "+
				"slave; cannot read %+v along with %+v", r, first)
		}
		units = append(units, strconv.Itoa(int(r.Unit)))
	}
	list := strings.Repeat(strings.Join(units, ",")+",", cycles)

	return []string{"-m", "rtu", "-b", strconv.Itoa(b.Baud), "-d", "8", "-s", "1",
		"-P", "none", "-t", typ, "-0", "-r", strconv.Itoa(int(first.Addr)),
		"-c", strconv.Itoa(int(first.Count)), "-o", strconv.FormatFloat(m.Timeout.Seconds(),
			'f', 2, 64), "-1", "-q", "-a", strings.TrimSuffix(list, ","), b.Path()}, nil
}

// mbpoll's output: a line per slave, then a line per value read, as
// "[0]: 	256" or "[7]: 	65535 (-1)". A failed read prints no values.
var (
	mbpollSlave = regexp.MustCompile(`^-- Polling slave (\d+)`)
	mbpollValue = regexp.MustCompile(`^\[(\d+)\]:\s+(\d+)`)
)

// parseMbpoll returns the reads of the registers of like that mbpoll's
// output shows answered, and how many it sent.
func parseMbpoll(out []byte, like Request) (served []Request, sent int, err error) {
	var cur Request
	var values []uint16
	done := func() error {
		if sent == 0 || len(values) == 0 {
			return nil
		}
		if err := checkValues(cur, values); err != nil {
			return err
		}
		served = append(served, cur)
		return nil
	}

	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if m := mbpollSlave.FindStringSubmatch(line); m != nil {
			if err := done(); err != nil {
				return nil, 0, err
			}
			unit, _ := strconv.Atoi(m[1])
			cur, values, sent = like, values[:0], sent+1
			cur.Unit = byte(unit)
			continue
		}
		if m := mbpollValue.FindStringSubmatch(line); m != nil && sent > 0 {
			v, _ := strconv.ParseUint(m[2], 10, 16)
			values = append(values, uint16(v))
		}
	}
	if err := done(); err != nil {
		return nil, 0, err
	}
	return served, sent, sc.Err()
}
