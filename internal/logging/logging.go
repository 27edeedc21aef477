// Package logging sets up the zerolog logger that every esep binary uses,
// and names the log fields they share.
//
// A person at a terminal gets zerolog's console output; anything else (a
// pipe, journald, a file) gets one JSON object per line, which log
// shippers index without parsing rules.
package logging

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"
)

// Format chooses how log lines are written.
type Format string

// Formats accepted by the -log-format flag.
const (
	FormatAuto    Format = "auto"    // console on a terminal, JSON otherwise
	FormatJSON    Format = "json"    // one JSON object per line
	FormatConsole Format = "console" // coloured, aligned text for people
)

// Options is the logging part of every binary's flags.
type Options struct {
	Level  string // trace, debug, info, warn, error
	Format Format
}

// New returns a logger writing to w at the given level and format.
func New(w io.Writer, o Options) (zerolog.Logger, error) {
	level := zerolog.InfoLevel
	if o.Level != "" {
		l, err := zerolog.ParseLevel(o.Level)
		if err != nil || l == zerolog.NoLevel {
			return zerolog.Nop(), fmt.Errorf(
				"log level %q is not one of trace, debug, info, warn, error", o.Level)
		}
		level = l
	}

	format := o.Format
	if format == "" || format == FormatAuto {
		format = FormatJSON
		if isTerminal(w) {
			format = FormatConsole
		}
	}

	switch format {
	case FormatJSON:
	case FormatConsole:
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.DateTime}
	default:
		return zerolog.Nop(), fmt.Errorf(
			"log format %q is not one of auto, json, console", o.Format)
	}

	return zerolog.New(w).Level(level).With().Timestamp().Logger(), nil
}

// init sets zerolog's process-wide time settings once, before any logger
// exists: setting them in New would race when two loggers are made at
// the same time. Timestamps are UTC with milliseconds, because the agent
// and the centre sit in different places and their logs are read side
// by side.
func init() {
	zerolog.TimeFieldFormat = "2006-01-02T15:04:05.000Z07:00"
	zerolog.TimestampFunc = func() time.Time { return time.Now().UTC() }
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && isatty.IsTerminal(f.Fd())
}
