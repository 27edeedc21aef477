package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/esep-kz/esep/internal/cli"
	"github.com/esep-kz/esep/internal/logging"
	"github.com/esep-kz/esep/internal/sim"
)

// serveFlags are the flags of serve: a configuration file, or one bus
// described on the command line.
type serveFlags struct {
	config     string
	timeScale  float64
	tcp        string
	rtu        bool
	rtuLink    string
	baud       int
	turnaround time.Duration
	units      string
	profile    string
	seed       uint64
}

func (o *serveFlags) declare(fs *flag.FlagSet) {
	fs.StringVar(&o.config, "config", "", "configuration file (see configs/sim.yaml)")
	fs.Float64Var(&o.timeScale, "time-scale", 0,
		"simulated seconds per second, overriding the file: 1 real time, 1440 a day a minute")
	fs.StringVar(&o.tcp, "tcp", "", "without -config: serve one Modbus TCP bus on this address")
	fs.BoolVar(&o.rtu, "rtu", false, "without -config: serve one Modbus RTU bus on a pty")
	fs.StringVar(&o.rtuLink, "rtu-link", "", "like -rtu, with a symbolic link to the pty here")
	fs.IntVar(&o.baud, "baud", 9600, "with -rtu: line rate")
	fs.DurationVar(&o.turnaround, "turnaround", 0, "without -config: meters' reply delay")
	fs.StringVar(&o.units, "units", "1", "without -config: slave ids, such as 1-32 or 1,3,7-9")
	fs.StringVar(&o.profile, "profile", "eastron-sdm120", "without -config: meter profile")
	fs.Uint64Var(&o.seed, "seed", 1, "without -config: seed of the meters")
}

func serveCommand() cli.Command {
	return cli.Command{
		Name:    "serve",
		Summary: "serve simulated meters on ptys and TCP until Ctrl-C",
		Flags: func(fs *flag.FlagSet) func(context.Context, *cli.Env, []string) error {
			var o serveFlags
			o.declare(fs)
			return func(ctx context.Context, env *cli.Env, args []string) error {
				if len(args) > 0 {
					return fmt.Errorf("unexpected arguments %q: %w", args, cli.ErrUsage)
				}
				cfg, err := o.load(fs)
				if err != nil {
					return err
				}
				return serve(ctx, env, cfg)
			}
		},
	}
}

// load reads the configuration file, or builds one bus from the flags.
func (o *serveFlags) load(fs *flag.FlagSet) (*sim.Config, error) {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	busFlags := []string{"tcp", "rtu", "rtu-link", "baud", "turnaround", "units", "profile", "seed"}

	if o.config != "" {
		for _, name := range busFlags {
			if set[name] {
				return nil, fmt.Errorf("-%s describes a bus without a file; the buses of "+
					"-config are in the file: %w", name, cli.ErrUsage)
			}
		}
		cfg, err := sim.LoadConfig(o.config)
		if err == nil && set["time-scale"] {
			cfg.TimeScale = o.timeScale
		}
		return cfg, err
	}
	return o.flagConfig()
}

// flagConfig is the configuration of one bus described by flags.
func (o *serveFlags) flagConfig() (*sim.Config, error) {
	bus := sim.BusConfig{Turnaround: o.turnaround,
		Units: []sim.UnitConfig{{Slave: o.units, Profile: o.profile, Seed: o.seed}}}
	switch {
	case o.tcp != "" && (o.rtu || o.rtuLink != ""):
		return nil, fmt.Errorf("-tcp and -rtu serve one bus each; write a file for two: %w",
			cli.ErrUsage)
	case o.tcp != "":
		bus.Name, bus.Transport, bus.Listen = "tcp", sim.TransportTCP, o.tcp
	case o.rtu || o.rtuLink != "":
		bus.Name, bus.Transport, bus.Link, bus.Baud = "rtu", sim.TransportRTU, o.rtuLink, o.baud
	default:
		return nil, fmt.Errorf("give -config FILE, or a bus with -tcp ADDR or -rtu: %w",
			cli.ErrUsage)
	}
	cfg := &sim.Config{TimeScale: o.timeScale, Buses: []sim.BusConfig{bus}}
	if err := cfg.Check("command line"); err != nil {
		return nil, err
	}
	return cfg, nil
}

// serve runs the simulation until ctx ends, swapping the marked meters
// on each SIGUSR1.
func serve(ctx context.Context, env *cli.Env, cfg *sim.Config) error {
	s, err := sim.Start(ctx, cfg)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := printSummary(env.Stdout, s); err != nil {
		return err
	}

	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	defer signal.Stop(usr1)
	for {
		select {
		case <-ctx.Done():
			env.Log.Info().Msg("simulator stopped")
			return s.Close()
		case <-usr1:
			for _, sw := range s.SwapMarked() {
				env.Log.Info().Str(logging.Bus, sw.Bus).Uint8(logging.Slave, sw.Slave).
					Msgf("meter swapped: the new one has serial %s", sw.Serial)
			}
		}
	}
}
