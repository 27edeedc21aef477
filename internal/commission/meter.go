package commission

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/esep-kz/esep/drivers/modbus"
	"github.com/esep-kz/esep/internal/cli"
	"github.com/esep-kz/esep/internal/reading"
)

// ReadMeter returns the read-meter command: one read cycle of one meter
// through its profile, planned, split on refusal and decoded as the
// agent does it, printed as a table of quantities with the meter's
// identity and the requests the plan took.
func ReadMeter() cli.Command {
	return cli.Command{
		Name:    "read-meter",
		Summary: "read one meter through its profile and print its values",
		Flags: func(fs *flag.FlagSet) func(context.Context, *cli.Env, []string) error {
			bf := declareBus(fs, readTimeout, true)
			name := fs.String("profile", "", "meter profile, such as eastron-sdm120")
			dir := fs.String("profiles-dir", "",
				"directory of *.yaml profiles laid over the shipped ones")

			return func(ctx context.Context, env *cli.Env, args []string) error {
				if err := noArgs(args); err != nil {
					return err
				}
				bs, err := bf.check()
				if err != nil {
					return err
				}
				p, err := loadProfile(*name, *dir)
				if err != nil {
					return err
				}
				return readMeter(ctx, env.Stdout, bs, p)
			}
		},
	}
}

// loadProfile returns the profile called name, from dir laid over the
// shipped profiles.
func loadProfile(name, dir string) (*modbus.Profile, error) {
	if name == "" {
		return nil, usagef("-profile is required: name the meter's profile, such as eastron-sdm120")
	}
	// LoadProfiles reads a missing directory as an empty one; here it is
	// a typing error that would silently fall back to the shipped files.
	if dir != "" {
		if _, err := os.Stat(dir); err != nil {
			return nil, usagef("-profiles-dir %q: %w", dir, err)
		}
	}

	ps, err := modbus.LoadProfiles(dir)
	if err != nil {
		return nil, err
	}
	p, ok := ps[name]
	if !ok {
		return nil, usagef("-profile %q: %w (known: %s)", name, modbus.ErrUnknownProfile,
			strings.Join(ps.Names(), ", "))
	}
	return p, nil
}

// readMeter reads the slave on bs with profile p and prints the result.
// It fails when a value or identity field could not be read, after
// printing what could.
func readMeter(ctx context.Context, out io.Writer, bs bus, p *modbus.Profile) error {
	needs := p.Needs()
	opts := p.PlanOptions(modbus.DefaultPlanOptions())
	opts.IsIllegalAddress = isIllegalAddress
	plan, err := modbus.NewDevicePlan(needs, opts)
	if err != nil {
		return fmt.Errorf("cannot plan the reads of profile %q: %w", p.Name, err)
	}
	c, err := bs.open()
	if err != nil {
		return err
	}
	defer c.Close()

	blocks := plan.Plan().Blocks
	start := time.Now()
	results := plan.Read(ctx, func(ctx context.Context, fn byte, addr, count uint16) (
		[]uint16, error) {
		return readWords(ctx, c, bs.slave, modbus.Function(fn), addr, count)
	})
	took := time.Since(start)
	d, decodeErr := p.Decode(modbus.PlanWords(needs, results))
	if decodeErr != nil && !anyRead(d) && firstErr(results) != nil {
		// One cause, most often silence, would fill every row of a
		// table of dashes; the cause alone says it.
		return fmt.Errorf("nothing read from slave %d on %s with profile %q (%s): %w",
			bs.slave, bs, p.Name, count(c.Stats().Requests, "request"), firstErr(results))
	}

	fmt.Fprintf(out, "meter %s (%s %s), slave %d on %s\n\n", p.Name, p.Maker, p.Model,
		bs.slave, bs)
	if err := printMeter(out, p, d); err != nil {
		return err
	}
	fmt.Fprintf(out, "\n%s in %s, planned as %s\n", count(c.Stats().Requests, "request"),
		took.Round(time.Millisecond), describeBlocks(blocks))

	if decodeErr == nil {
		return nil
	}
	return fmt.Errorf("read of slave %d with profile %q is incomplete:\n%w",
		bs.slave, p.Name, decodeErr)
}

// printMeter prints the identity fields and the table of values.
func printMeter(out io.Writer, p *modbus.Profile, d modbus.Decoded) error {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	id := p.Identity
	for _, f := range []struct {
		name, value string
		reg         *modbus.Register
	}{{"serial", d.Serial, id.Serial}, {"model", d.Model, id.Model},
		{"firmware", d.Firmware, id.Firmware}} {
		switch {
		case f.reg == nil:
			f.value = "not in profile"
		case f.value == "":
			f.value = "not read"
		}
		fmt.Fprintf(tw, "%s\t%s\n", f.name, f.value)
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprintln(out)
	fmt.Fprintln(tw, "QUANTITY\tVALUE\tUNIT\tQUALITY")
	for _, v := range d.Values {
		number := "-"
		if v.HasNumber() {
			number = v.Number.StringFixed(v.Places)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", v.Quantity, number, v.Unit, v.Quality)
	}
	return tw.Flush()
}

// isIllegalAddress reports whether err is a refusal, exception 1, 2 or
// 3, on which the plan splits a request to find the registers the device
// refuses, as the agent's plans do.
func isIllegalAddress(err error) bool {
	var exc *modbus.ExceptionError
	return errors.As(err, &exc) && exc.Class() == modbus.ClassPermanent
}

// anyRead reports whether some value or identity field was read, in
// range or not.
func anyRead(d modbus.Decoded) bool {
	for _, v := range d.Values {
		if v.Quality != reading.Error {
			return true
		}
	}
	return d.Serial != "" || d.Model != "" || d.Firmware != ""
}

// firstErr returns the first error among results.
func firstErr(results []modbus.NeedResult) error {
	for _, r := range results {
		if r.Err != nil {
			return r.Err
		}
	}
	return nil
}

func describeBlocks(blocks []modbus.Block) string {
	s := make([]string, len(blocks))
	for i, b := range blocks {
		s[i] = b.String()
	}
	return strings.Join(s, ", ")
}

// count writes n things, as in "1 request" or "3 requests".
func count(n uint64, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}
