package commission

import (
	"context"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/esep-kz/esep/internal/cli"
)

// readTimeout is read's default response timeout, the agent's default.
const readTimeout = time.Second

// Read returns the read command: one request for raw registers or bits
// of one slave, printed register by register in hex and decimal, then
// decoded every way a meter may mean them, as mbpoll does, so that a
// register map can be worked out, or checked, at the box.
func Read() cli.Command {
	return cli.Command{
		Name:    "read",
		Summary: "read raw registers of one slave and show every way to decode them",
		Flags: func(fs *flag.FlagSet) func(context.Context, *cli.Env, []string) error {
			bf := declareBus(fs, readTimeout, true)
			rf := declareRegisters(fs)
			types := fs.String("type", "",
				"decode only as these types, such as f32 or u32,i32: "+joinTypes(viewTypes, ", "))
			orders := fs.String("order", "",
				"decode only in these orders, such as CDAB: ABCD, CDAB, BADC, DCBA "+
					"(each also chooses its 64-bit form)")

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
				v, err := parseView(*types, *orders)
				if err != nil {
					return err
				}
				if sp.bits() && v.restricted() {
					return usagef("-type and -order decode registers; -function %s reads %s",
						rf.function, sp.fn)
				}
				return runRead(ctx, env.Stdout, bs, sp, v)
			}
		},
	}
}

// runRead reads sp from the slave on bs and prints it as v says.
func runRead(ctx context.Context, out io.Writer, bs bus, sp span, v view) error {
	c, err := bs.open()
	if err != nil {
		return err
	}
	defer c.Close()

	words, err := readWords(ctx, c, bs.slave, sp.fn, sp.addr, sp.count)
	if err != nil {
		return err
	}

	fmt.Fprintf(out, "slave %d on %s: %s, from %s\n\n", bs.slave, bs, sp, sp.notations(sp.addr))
	if sp.bits() {
		return printBits(out, sp, words)
	}
	if err := printRegisters(out, sp, words); err != nil {
		return err
	}
	for _, w := range widths {
		if err := v.printWidth(out, sp, words, w); err != nil {
			return err
		}
	}
	return nil
}

// printRegisters prints one line per register: its address in the
// notation of -base and on the wire, its value in hex, as u16 and i16,
// and its bytes as characters.
func printRegisters(out io.Writer, sp span, words []uint16) error {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ADDR\tWIRE\tHEX\tU16\tI16\tTEXT")
	for i, w := range words {
		wire := sp.addr + uint16(i)
		fmt.Fprintf(tw, "%s\t0x%04X\t0x%04X\t%d\t%d\t%s\n",
			sp.label(wire), wire, w, w, int16(w), text(w))
	}
	return tw.Flush()
}

// printBits prints one line per coil or discrete input.
func printBits(out io.Writer, sp span, words []uint16) error {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ADDR\tWIRE\tVALUE")
	for i, w := range words {
		wire := sp.addr + uint16(i)
		fmt.Fprintf(tw, "%s\t0x%04X\t%d\n", sp.label(wire), wire, w)
	}
	return tw.Flush()
}
