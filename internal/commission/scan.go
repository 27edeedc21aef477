package commission

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/esep-kz/esep/drivers/modbus"
	"github.com/esep-kz/esep/internal/cli"
	"github.com/esep-kz/esep/internal/logging"
)

// scanTimeout is scan's default response timeout. At 9600 Bd the probe
// and a one-register reply take 17 ms on the wire (15 characters of 11
// bits); 200 ms leaves a meter's turnaround a wide margin while 247
// silent ids cost under a minute. A slower device needs a longer -timeout.
const scanTimeout = 200 * time.Millisecond

// Scan returns the scan command: it probes each slave id of a range with
// one read and lists those that answered. A reply and an exception both
// mean a device is there; silence means none is. Ctrl-C ends the scan
// with the list of what answered so far.
func Scan() cli.Command {
	return cli.Command{
		Name:    "scan",
		Summary: "find the slave ids that answer on a bus",
		Flags: func(fs *flag.FlagSet) func(context.Context, *cli.Env, []string) error {
			bf := declareBus(fs, scanTimeout, false)
			rf := declareRegisters(fs)
			ids := fs.String("range", "1-247", "slave ids to probe: first-last, or a list such as 1-10,20")

			return func(ctx context.Context, env *cli.Env, args []string) error {
				if err := noArgs(args); err != nil {
					return err
				}
				bs, err := bf.check()
				if err != nil {
					return err
				}
				sp, err := rf.check(bf.set())
				if err != nil {
					return err
				}
				list, err := parseIDs(*ids, bs)
				if err != nil {
					return err
				}
				s := &scan{bus: bs, probe: sp, ids: list, env: env}
				return s.run(ctx)
			}
		},
	}
}

// Kinds of answer to a probe.
const (
	answerReply     = "reply"
	answerException = "refused" // the device answered an exception: it is there
	answerGarbled   = "garbled" // a reply came that could not be taken
	answerGateway   = "gateway" // a gateway said no device is behind the id
	answerSilent    = "silent"  // no reply within the timeout
)

// answer is what one slave id did with the probe.
type answer struct {
	slave  int
	kind   string
	detail string
}

// present reports whether the answer shows a device at the id.
func (a answer) present() bool {
	return a.kind == answerReply || a.kind == answerException || a.kind == answerGarbled
}

// scan is one run of the scan command.
type scan struct {
	bus   bus
	probe span
	ids   []int
	env   *cli.Env

	answers map[string]int // count of each kind
	found   []answer
}

// run probes every id in turn and prints what answered, also when ctx
// ends or the bus fails before the last id.
func (s *scan) run(ctx context.Context) error {
	c, err := s.bus.open()
	if err != nil {
		return err
	}
	defer c.Close()

	start := time.Now()
	s.answers = map[string]int{}
	p := newProgress(s.env.Stderr, len(s.ids))
	probed, stop := 0, error(nil)
	for _, id := range s.ids {
		words, err := readWords(ctx, c, byte(id), s.probe.fn, s.probe.addr, s.probe.count)
		if ctx.Err() != nil {
			stop = fmt.Errorf("scan stopped after %d of %d ids: %w", probed, len(s.ids), ctx.Err())
			break
		}
		s.env.Log.Debug().Int(logging.Slave, id).Err(err).Msg("probe")
		a, fatal := classify(id, words, err, s.probe)
		if fatal != nil {
			stop = fmt.Errorf("scan stopped at slave %d: %w", id, fatal)
			break
		}

		probed++
		s.answers[a.kind]++
		if a.present() {
			s.found = append(s.found, a)
		}
		p.update(probed, len(s.found))
	}
	p.finish(probed, len(s.found))

	if err := s.print(s.env.Stdout, probed, time.Since(start)); err != nil {
		return err
	}
	return stop
}

// classify tells what the probe of slave id got. An error that leaves
// no bus to scan is returned as fatal.
func classify(id int, words []uint16, err error, probe span) (a answer, fatal error) {
	a.slave = id
	var exc *modbus.ExceptionError
	isExc := errors.As(err, &exc)
	switch {
	case err == nil:
		a.kind, a.detail = answerReply, formatWords(words, probe.bits())
	case isExc && (exc.Code == modbus.GatewayPathUnavailable ||
		exc.Code == modbus.GatewayTargetFailedToRespond):
		// The gateway answers, not a device: it has none behind the id
		// (FC-12 item 3).
		a.kind = answerGateway
	case isExc:
		// The device is there; it only refuses the probe's register,
		// which says nothing against it (most meters lack register 0).
		a.kind, a.detail = answerException, fmt.Sprintf("device present; exception %d (%s) "+
			"to the probe", exc.Code, exc.Code)
	case errors.Is(err, modbus.ErrTimeout):
		a.kind = answerSilent
	case errors.Is(err, modbus.ErrConnection), errors.Is(err, modbus.ErrClosed),
		errors.Is(err, modbus.ErrConfig), errors.Is(err, modbus.ErrInvalidRequest):
		return a, err
	default:
		a.kind, a.detail = answerGarbled, garble(err)
	}
	return a, nil
}

// garbles are the errors of a reply that came but could not be taken.
var garbles = []error{modbus.ErrCRC, modbus.ErrShortFrame, modbus.ErrBadFrame,
	modbus.ErrWrongSlave, modbus.ErrWrongFunction, modbus.ErrByteCount}

// garble names what was wrong with a reply, without the request and bus
// that every line of the table shares.
func garble(err error) string {
	for _, g := range garbles {
		if errors.Is(err, g) {
			return g.Error()
		}
	}
	return err.Error()
}

// formatWords shows registers in hex and decimal, and bits as 0 or 1.
func formatWords(words []uint16, bits bool) string {
	s := make([]string, len(words))
	for i, w := range words {
		if bits {
			s[i] = strconv.Itoa(int(w))
		} else {
			s[i] = fmt.Sprintf("0x%04X (%d)", w, w)
		}
	}
	return strings.Join(s, " ")
}

// print writes the table of the ids that answered and a summary.
func (s *scan) print(out io.Writer, probed int, took time.Duration) error {
	fmt.Fprintf(out, "slaves %s on %s, probed with %s (timeout %s)\n\n",
		formatIDs(s.ids), s.bus, s.probe, s.bus.timeout)
	if len(s.found) > 0 {
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "SLAVE\tANSWER\tDETAIL")
		for _, a := range s.found {
			fmt.Fprintf(tw, "%d\t%s\t%s\n", a.slave, a.kind, a.detail)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		fmt.Fprintln(out)
	}

	fmt.Fprintf(out, "%d of %d ids probed in %s: %d answered, %d silent", probed, len(s.ids),
		took.Round(time.Millisecond), len(s.found), s.answers[answerSilent])
	if n := s.answers[answerGateway]; n > 0 {
		fmt.Fprintf(out, ", %d with no device behind the gateway (exception 10 or 11)", n)
	}
	fmt.Fprintln(out)

	switch {
	case s.answers[answerGarbled] > 0 && s.bus.serialLine():
		fmt.Fprintln(out, "garbled replies often mean a -baud, -parity or -stop-bits "+
			"other than the devices'")
	case len(s.found) == 0 && probed == len(s.ids) && s.bus.serialLine():
		fmt.Fprintln(out, "no device answered: check -baud, -parity, the A/B wiring "+
			"and the termination")
	}
	return nil
}

// parseIDs parses the value of -range: ids and first-last ranges,
// separated by commas, within the addresses bs carries.
func parseIDs(s string, bs bus) ([]int, error) {
	seen := map[int]bool{}
	for _, part := range splitList(s) {
		first, last, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(strings.TrimSpace(first))
		b := a
		if err == nil && isRange {
			b, err = strconv.Atoi(strings.TrimSpace(last))
		}
		switch {
		case err != nil:
			return nil, usagef("-range %q: %q is not an id or a range first-last", s, part)
		case a > b:
			return nil, usagef("-range %q: %q runs backwards", s, part)
		case a < bs.lowest || b > bs.highest:
			return nil, usagef("-range %q: %q is outside %d..%d, the addresses %s carries",
				s, part, bs.lowest, bs.highest, bs.transport)
		}
		for id := a; id <= b; id++ {
			seen[id] = true
		}
	}
	if len(seen) == 0 {
		return nil, usagef("-range %q names no slave id", s)
	}

	ids := make([]int, 0, len(seen))
	for id := range seen {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids, nil
}

// formatIDs writes sorted ids as ranges, as in "1-10,20".
func formatIDs(ids []int) string {
	var parts []string
	for i := 0; i < len(ids); {
		j := i
		for j+1 < len(ids) && ids[j+1] == ids[j]+1 {
			j++
		}
		if j == i {
			parts = append(parts, strconv.Itoa(ids[i]))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", ids[i], ids[j]))
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}
