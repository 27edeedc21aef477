package agent

import (
	"context"
	"errors"
	"io"
	"strings"

	"github.com/rs/zerolog"

	"github.com/esep-kz/esep/internal/logging"
)

// Run is the agent: it polls the meters of c, which LoadConfig returned,
// until ctx is cancelled. With an uplink section, every reading and event
// is spooled and published from the spool; without one, they are
// written to stdout as JSON lines. It returns once every bus goroutine
// has stopped, every bus is closed, the state is written and the uplink
// has said it goes offline.
func Run(ctx context.Context, c *Config, stdout io.Writer, log zerolog.Logger) error {
	log = log.With().Str(logging.Agent, c.Agent.ID).Logger()
	logLoaded(c, log)

	state, err := OpenState(c.Agent.StateDir, log)
	if err != nil {
		return err
	}
	d, err := startDelivery(ctx, c, state, stdout, log)
	if err != nil {
		return err
	}
	defer d.close()

	p, err := NewModbusPoller(ctx, c, PollerOptions{State: state, Sink: d.sink, Log: log})
	if err != nil {
		return err
	}
	s, err := NewScheduler(ctx, c, p, d.sink, Options{Location: c.Location(), Log: log})
	if err != nil {
		return errors.Join(err, p.Close())
	}
	if err := d.serveHealth(ctx, c, s); err != nil {
		return errors.Join(err, p.Close())
	}

	err = s.Run(ctx)
	// The scheduler no longer polls: the buses can be closed.
	err = errors.Join(err, p.Close())
	log.Info().Msg("agent stopped")
	return err
}

// logLoaded logs what the agent runs with: the whole, the profiles, and
// one line per bus.
func logLoaded(c *Config, log zerolog.Logger) {
	zone := c.Agent.Timezone
	if loc := c.Location(); loc != nil {
		zone = loc.String()
	}
	log.Info().Int(logging.Count, len(c.Meters)).Str(logging.Zone, zone).
		Str(logging.Path, c.Agent.StateDir).Msg("agent starting")
	used := profileNames(c)
	ev := log.Info().Int(logging.Count, len(used)).Str(logging.Profile, strings.Join(used, ","))
	if dir := c.Agent.ProfilesDir; dir != "" {
		ev = ev.Str(logging.Path, dir)
	}
	ev.Msg("profiles in use")

	for _, b := range c.Buses {
		n := 0
		for _, m := range c.Meters {
			if m.Bus == b.Name {
				n++
			}
		}
		where, at := logging.Addr, b.Address
		if b.Transport == TransportRTU {
			where, at = logging.Path, b.Device
		}
		log.Info().Str(logging.Bus, b.Name).Str(logging.Transport, b.Transport).Str(where, at).
			Int(logging.Count, n).Msg("bus configured")
	}
}
