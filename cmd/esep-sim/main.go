// Command esep-sim is the esep meter simulator: Modbus slaves that behave
// like real meters, for tests, the demo and the benchmark.
//
//	esep-sim serve -config configs/sim.yaml
//	esep-sim serve -tcp 127.0.0.1:5020 -units 1-32 -profile eastron-sdm120
//	esep-sim serve -rtu-link /tmp/esep-bus0 -baud 9600 -turnaround 5ms
//	esep-sim profiles
//
// serve prints each bus's device or address and its units, and runs
// until Ctrl-C (SIGINT) or SIGTERM; SIGUSR1 swaps the meters whose unit
// sets swap_on_signal.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/esep-kz/esep/drivers/modbus"
	"github.com/esep-kz/esep/internal/cli"
)

func main() {
	os.Exit(cli.Main("esep-sim",
		"the esep meter simulator: Modbus slaves that behave like real meters", os.Args[1:],
		serveCommand(),
		profilesCommand(),
	))
}

func profilesCommand() cli.Command {
	return cli.Command{
		Name:    "profiles",
		Summary: "list the meter profiles a unit can simulate",
		Flags: func(fs *flag.FlagSet) func(context.Context, *cli.Env, []string) error {
			dir := fs.String("profiles-dir", "", "directory of profiles laid over the shipped ones")
			return func(_ context.Context, env *cli.Env, _ []string) error {
				ps, err := modbus.LoadProfiles(*dir)
				if err != nil {
					return err
				}
				return listProfiles(env, ps)
			}
		},
	}
}

func listProfiles(env *cli.Env, ps modbus.Profiles) error {
	w := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "PROFILE\tKIND\tMETER\tVALUES\tSOURCE")
	for _, name := range ps.Names() {
		p := ps[name]
		fmt.Fprintf(w, "%s\t%s\t%s %s\t%d\t%s, %s\n", p.Name, p.Kind, p.Maker, p.Model,
			len(p.Values), p.Source.Document, p.Source.Revision)
	}
	return w.Flush()
}
