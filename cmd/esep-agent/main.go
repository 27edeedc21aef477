// Command esep-agent is the edge agent of esep: installed in a building,
// it polls the meters there and delivers their readings to the centre.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"text/tabwriter"
	// Slots and periods are local to Asia/Almaty: the zone data travels
	// in the binary, so that a bare edge box without /usr/share/zoneinfo
	// counts them the same as every other.
	_ "time/tzdata"

	"github.com/esep-kz/esep/drivers/modbus"
	"github.com/esep-kz/esep/internal/agent"
	"github.com/esep-kz/esep/internal/cli"
	"github.com/esep-kz/esep/internal/commission"
)

func main() {
	cmds := []cli.Command{runCommand(), checkConfigCommand(), portsCommand()}
	cmds = append(cmds, commission.Commands()...)
	os.Exit(cli.Main("esep-agent", "the esep edge agent", os.Args[1:], cmds...))
}

// defaultConfig is where a packaged agent keeps its configuration.
const defaultConfig = "/etc/esep/agent.yaml"

func runCommand() cli.Command {
	return cli.Command{
		Name: "run",
		Summary: "poll the meters until SIGINT or SIGTERM, spooling readings and events and " +
			"publishing them over MQTT (or, without an uplink section, printing JSON lines)",
		Flags: func(fs *flag.FlagSet) func(context.Context, *cli.Env, []string) error {
			path := fs.String("config", defaultConfig, "configuration file")
			return func(ctx context.Context, env *cli.Env, _ []string) error {
				c, err := agent.LoadConfig(*path)
				if err != nil {
					return err
				}
				return agent.Run(ctx, c, env.Stdout, env.Log)
			}
		},
	}
}

func checkConfigCommand() cli.Command {
	return cli.Command{
		Name:    "check-config",
		Summary: "load and check a configuration file and its profiles, then print what it configures",
		Flags: func(fs *flag.FlagSet) func(context.Context, *cli.Env, []string) error {
			path := fs.String("config", defaultConfig, "configuration file")
			return func(_ context.Context, env *cli.Env, _ []string) error {
				c, err := agent.LoadConfig(*path)
				if err != nil {
					return err
				}
				_, err = fmt.Fprintf(env.Stdout, "%s: OK\n%s", *path, c.Summary())
				return err
			}
		},
	}
}

// orDash is s, or "-" for an empty column an eye would skip.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func portsCommand() cli.Command {
	return cli.Command{
		Name:    "ports",
		Summary: "list serial ports with their USB vendor and product IDs",
		Flags: func(*flag.FlagSet) func(context.Context, *cli.Env, []string) error {
			return func(_ context.Context, env *cli.Env, _ []string) error {
				ports, err := modbus.ListPorts()
				if err != nil {
					return err
				}
				if len(ports) == 0 {
					_, err := fmt.Fprintln(env.Stdout, "no serial ports found")
					return err
				}
				w := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(w, "PORT\tUSB\tVID:PID\tSERIAL\tPRODUCT")
				for _, p := range ports {
					usb, ids := "no", "-"
					if p.USB {
						usb, ids = "yes", p.VID+":"+p.PID
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", p.Name, usb, ids,
						orDash(p.SerialNumber), orDash(p.Product))
				}
				return w.Flush()
			}
		},
	}
}
