// Package cli is the command-line frame shared by esep's binaries: global
// logging flags, subcommands with their own flags, signal handling and
// exit codes. Only cmd/ calls Main, and Main is the only place that turns
// an error into an exit status.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"sort"
	"syscall"

	"github.com/rs/zerolog"

	"github.com/esep-kz/esep/internal/logging"
)

// Exit codes. Usage errors are told apart from failures so that scripts
// and systemd can tell a wrong invocation from a broken device.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

// Env is what a command gets from the frame.
type Env struct {
	Stdout io.Writer
	Stderr io.Writer
	Log    zerolog.Logger
}

// Command is one subcommand of a binary.
type Command struct {
	Name    string
	Summary string // one line for the command list
	// Flags declares the command's flags on fs and returns the function
	// that runs the command once they are parsed.
	Flags func(fs *flag.FlagSet) func(ctx context.Context, env *Env, args []string) error
}

// ErrUsage marks an error in how a command was called; Main prints the
// command's usage and exits with status 2.
var ErrUsage = errors.New("usage error")

// Main runs the binary named name with args (without the program name)
// and returns the exit status. SIGINT and SIGTERM cancel the context
// given to the command, so a command stops cleanly on Ctrl-C.
func Main(name, about string, args []string, cmds ...Command) int {
	return Run(os.Stdout, os.Stderr, name, about, args, cmds...)
}

// Run is Main with its output streams given, for tests.
func Run(stdout, stderr io.Writer, name, about string, args []string, cmds ...Command) int {
	cmds = append(cmds, versionCommand(name))

	global := flag.NewFlagSet(name, flag.ContinueOnError)
	global.SetOutput(stderr)
	var lo logging.Options
	global.StringVar(&lo.Level, "log-level", "info", "log level: trace, debug, info, warn, error")
	format := global.String("log-format", "auto", "log format: auto, json, console")
	global.Usage = func() { usage(stderr, name, about, global, cmds) }
	if err := global.Parse(args); err != nil {
		return parseStatus(err)
	}
	lo.Format = logging.Format(*format)

	log, err := logging.New(stderr, lo)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return exitUsage
	}
	rest := global.Args()
	if len(rest) == 0 {
		global.Usage()
		return exitUsage
	}
	cmd, ok := find(cmds, rest[0])
	if !ok {
		fmt.Fprintf(stderr, "%s: unknown command %q\n", name, rest[0])
		global.Usage()
		return exitUsage
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	env := &Env{Stdout: stdout, Stderr: stderr, Log: log}
	return run(ctx, env, name, cmd, rest[1:])
}

func run(ctx context.Context, env *Env, name string, cmd Command, args []string) int {
	fs := flag.NewFlagSet(name+" "+cmd.Name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(env.Stderr, "Usage: %s %s [flags]\n\n%s.\n", name, cmd.Name, cmd.Summary)
		fs.PrintDefaults()
	}
	runFn := cmd.Flags(fs)
	if err := fs.Parse(args); err != nil {
		return parseStatus(err)
	}

	err := runFn(ctx, env, fs.Args())
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, ErrUsage):
		fmt.Fprintf(env.Stderr, "%s %s: %v\n", name, cmd.Name, err)
		fs.Usage()
		return exitUsage
	default:
		fmt.Fprintf(env.Stderr, "%s %s: %v\n", name, cmd.Name, err)
		return exitFail
	}
}

// parseStatus is the exit status after a flag parse error: -h asked for
// help and got it, anything else was a mistake.
func parseStatus(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	return exitUsage
}

func find(cmds []Command, name string) (Command, bool) {
	for _, c := range cmds {
		if c.Name == name {
			return c, true
		}
	}
	return Command{}, false
}

func usage(w io.Writer, name, about string, global *flag.FlagSet, cmds []Command) {
	fmt.Fprintf(w, "%s: %s\n\nUsage: %s [flags] <command> [command flags]\n\nCommands:\n",
		name, about, name)
	sorted := append([]Command(nil), cmds...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	for _, c := range sorted {
		fmt.Fprintf(w, "  %-14s %s\n", c.Name, c.Summary)
	}
	fmt.Fprintf(w, "\nFlags:\n")
	global.PrintDefaults()
	fmt.Fprintf(w, "\nRun '%s <command> -h' for a command's flags.\n", name)
}

// Version returns the module version and VCS revision the binary was
// built from, as far as the Go toolchain recorded them.
func Version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v += " " + s.Value
		case "vcs.modified":
			if s.Value == "true" {
				v += " (modified)"
			}
		}
	}
	return v + " " + bi.GoVersion
}

func versionCommand(name string) Command {
	return Command{
		Name:    "version",
		Summary: "print the version and exit",
		Flags: func(*flag.FlagSet) func(context.Context, *Env, []string) error {
			return func(_ context.Context, env *Env, _ []string) error {
				_, err := fmt.Fprintf(env.Stdout, "%s %s\n", name, Version())
				return err
			}
		},
	}
}
