package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/esep-kz/esep/internal/health"
	"github.com/esep-kz/esep/internal/logging"
	"github.com/esep-kz/esep/internal/reading"
	"github.com/esep-kz/esep/internal/spool"
	"github.com/esep-kz/esep/internal/uplink"
)

// delivery is where readings go once polled: the spool and the uplink,
// or stdout without an uplink, and the health endpoint that shows how
// that goes.
type delivery struct {
	sink   Sink
	spool  *spool.Spool   // nil without an uplink
	spSink *SpoolSink     // nil without an uplink
	uplink *uplink.Uplink // nil without an uplink
	log    zerolog.Logger

	wg      sync.WaitGroup // the uplink's and the health endpoint's goroutines
	cancel  context.CancelFunc
	started time.Time
}

// startDelivery opens the spool and starts the uplink, or sets up the
// JSON lines of an agent without one.
func startDelivery(ctx context.Context, c *Config, state *State, stdout io.Writer,
	log zerolog.Logger) (*delivery, error) {
	ctx, cancel := context.WithCancel(ctx)
	d := &delivery{log: log, cancel: cancel, started: time.Now()}
	if c.Uplink == nil {
		log.Warn().Msg("no uplink configured: readings go to stdout as JSON lines, unspooled")
		d.sink = NewJSONLines(stdout, log)
		return d, nil
	}

	var sink *SpoolSink
	sp, err := spool.Open(ctx, c.spoolPath(), spool.Options{
		MaxBytes: int64(c.Spool.MaxSize), History: c.Spool.History, Location: c.Location(),
		Log:        log,
		OnPressure: func(p spool.Pressure) { sink.Pressure(p) },
	})
	if err != nil {
		cancel()
		return nil, err
	}
	sink = NewSpoolSink(sp, log)
	d.spool, d.spSink, d.sink = sp, sink, sink

	loaded := time.Now()
	inv, err := inventory(c, state, loaded)
	if err != nil {
		d.close()
		return nil, fmt.Errorf("cannot describe the agent's meters for the inventory: %w", err)
	}
	up, err := uplink.New(ctx, c.Agent.ID, *c.Uplink, sp, uplink.Options{Inventory: inv,
		Log: log})
	if err != nil {
		d.close()
		return nil, err
	}
	d.uplink = up
	d.wg.Go(func() {
		if err := up.Run(ctx); err != nil {
			log.Error().Err(err).Msg("uplink stopped")
		}
	})

	// The inventory names each meter's serial, which the first poll of
	// a new meter, or of a replaced one, tells.
	w := &serialWatch{Sink: sink, seen: map[string]string{}, changed: make(chan struct{}, 1)}
	d.sink = w
	d.wg.Go(func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-w.changed:
			}
			b, err := inventory(c, state, loaded)
			if err != nil {
				log.Error().Err(err).Msg("cannot describe the agent's meters for the inventory")
				continue
			}
			if !bytes.Equal(b, inv) {
				inv = b
				up.SetInventory(b)
			}
		}
	})
	return d, nil
}

// serialWatch passes readings and events on, and signals changed when a
// meter reports another serial than it last did, or its first.
type serialWatch struct {
	Sink
	mu      sync.Mutex
	seen    map[string]string // meter ID to serial
	changed chan struct{}
}

// Reading implements Sink.
func (w *serialWatch) Reading(r reading.Reading) {
	w.Sink.Reading(r)
	w.mu.Lock()
	defer w.mu.Unlock()
	if r.Serial == "" || w.seen[r.Meter] == r.Serial {
		return
	}
	w.seen[r.Meter] = r.Serial
	select {
	case w.changed <- struct{}{}:
	default: // a refresh is due already
	}
}

// serveHealth starts the health endpoint, failing at once when its port
// is taken.
func (d *delivery) serveHealth(ctx context.Context, c *Config, s *Scheduler) error {
	if c.Health.Listen == "off" {
		return nil
	}
	hs := health.New()
	hs.Registry.MustRegister(&metrics{sched: s, spool: d.spool, sink: d.spSink,
		uplink: d.uplink, now: time.Now})
	d.addChecks(hs)

	ln, err := health.Listen(ctx, c.Health.Listen)
	if err != nil {
		return err
	}
	d.wg.Go(func() {
		if err := health.Serve(ctx, ln, hs.Handler(), d.log); err != nil {
			d.log.Error().Err(err).Msg("health endpoint stopped")
		}
	})
	return nil
}

// uplinkDownFor is how long the uplink may be down before /healthz says
// so: a broker restart or a short GSM drop is no failure, and the spool
// holds the readings meanwhile.
const uplinkDownFor = 10 * time.Minute

// addChecks adds the checks of /healthz: records that could not be
// spooled, and an uplink down for long.
func (d *delivery) addChecks(hs *health.Server) {
	if d.uplink == nil {
		return
	}
	hs.AddCheck("spool", func() error {
		if n, err := d.spSink.Failures(); n > 0 {
			return fmt.Errorf("%d records could not be spooled and are lost; last: %w", n, err)
		}
		return nil
	})
	var mu sync.Mutex
	var downSince time.Time // when the check first saw the uplink down
	hs.AddCheck("uplink", func() error {
		st := d.uplink.Status()
		mu.Lock()
		defer mu.Unlock()
		if st.Connected {
			downSince = time.Time{}
			return nil
		}
		if downSince.IsZero() {
			// Never connected: down since start, so that a wrong broker,
			// password or CA from the first boot shows too. Otherwise
			// from now: checks come every few seconds from a supervisor.
			downSince = time.Now()
			if st.Connects == 0 {
				downSince = d.started
			}
		}
		down := time.Since(downSince)
		if down < uplinkDownFor {
			return nil
		}
		return fmt.Errorf("not connected to %s for %s: %w", st.Broker,
			down.Round(time.Second), cmpErr(st.LastError))
	})
}

func cmpErr(err error) error {
	if err == nil {
		return errors.New("no error recorded")
	}
	return err
}

// close stops the uplink, which says it goes offline, and the health
// endpoint, and closes the spool.
func (d *delivery) close() {
	d.cancel()
	d.wg.Wait()
	if d.spSink != nil {
		d.spSink.Close()
	}
	if d.spool != nil {
		if err := d.spool.Close(); err != nil {
			d.log.Error().Err(err).Str(logging.Path, d.spool.Path()).Msg("cannot close the spool")
		}
	}
}
