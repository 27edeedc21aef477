package uplink

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/esep-kz/esep/internal/config"
	"github.com/esep-kz/esep/internal/logging"
	"github.com/esep-kz/esep/internal/wire"
)

// requestQueue is how many resend requests may wait while the uplink is
// busy; the centre asks again for what goes unanswered.
const requestQueue = 16

// stableSession is how long a session must hold before the reconnection
// backoff starts again from its minimum: a broker that accepts and then
// drops the agent at once must not be hammered at the minimum wait.
const stableSession = time.Minute

// Uplink publishes what a Source holds to an MQTT broker and reports
// the broker's acknowledgements back to it. See the package comment.
type Uplink struct {
	agent  string
	cfg    Config
	opts   Options
	src    Source
	topics wire.TopicSet
	status statusBodies
	log    zerolog.Logger

	running   atomic.Bool
	requests  chan []byte   // resend requests from the cmd topic
	inventory chan struct{} // a new inventory waits to be published

	mu         sync.Mutex // guards what follows
	st         Status
	latencySum time.Duration
	latencyN   uint64
	invBody    []byte
	connLog    throttle // of failed connections and lost sessions
	upLog      throttle // of connections made
	dropLog    throttle // of dropped resend requests
	asideLog   throttle // of records set aside
}

// New returns an uplink for agent, whose ID is its MQTT client ID and
// the agent level of its topics. c is checked as Config.Check does. No
// connection is made until Run.
func New(ctx context.Context, agent string, c Config, src Source, o Options) (*Uplink, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("cannot create the uplink: %w", err)
	}
	if src == nil {
		return nil, errors.New("cannot create the uplink without a source")
	}
	ch := config.NewChecker("uplink", nil)
	c.Check(ch, "")
	if err := ch.Err(); err != nil {
		return nil, fmt.Errorf("cannot create the uplink: %w", err)
	}
	if err := wire.CheckTopics(c.Prefix, agent); err != nil {
		return nil, fmt.Errorf("cannot create the uplink of agent %q: %w", agent, err)
	}
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	status, err := newStatusBodies(agent, o)
	if err != nil {
		return nil, fmt.Errorf("cannot create the uplink of agent %q: %w", agent, err)
	}

	u := &Uplink{
		agent: agent, cfg: c, opts: o, src: src,
		topics:    wire.Topics(c.Prefix, agent),
		status:    status,
		requests:  make(chan []byte, requestQueue),
		inventory: make(chan struct{}, 1),
		invBody:   slices.Clone(o.Inventory),
		st:        Status{Broker: c.Broker},
	}
	u.log = o.Log.With().Str(logging.Component, "uplink").Str(logging.Agent, agent).
		Str(logging.Addr, c.Broker).Logger()
	return u, nil
}

// Topics returns the topics the uplink publishes and subscribes to.
func (u *Uplink) Topics() wire.TopicSet { return u.topics }

// SetInventory replaces the retained inventory and publishes it as soon
// as a session is up; the poller calls it when meters change.
func (u *Uplink) SetInventory(b []byte) {
	u.mu.Lock()
	u.invBody = slices.Clone(b)
	u.mu.Unlock()
	select {
	case u.inventory <- struct{}{}:
	default: // one publication is pending already and will take b
	}
}

// Run connects, publishes and reconnects until ctx is cancelled, then
// sets the status offline, disconnects and returns nil. Failures are
// recorded in Status and logged, throttled, and never end Run: a wrong
// password or certificate is retried as an outage is, since the
// engineer who fixes it should not have to restart the agent as well.
// Run must not be called again while it runs.
func (u *Uplink) Run(ctx context.Context) error {
	if !u.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer u.running.Store(false)

	bo := newBackoff(u.cfg.BackoffMin, u.cfg.BackoffMax)
	wait := time.NewTimer(0)
	defer wait.Stop()
	for {
		held, err := u.serve(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if held >= stableSession {
			bo.reset()
		}
		u.failed(err)

		d := bo.wait()
		u.log.Debug().Dur(logging.Took, d).Msg("waiting before the next connection attempt")
		wait.Reset(d)
		select {
		case <-ctx.Done():
			return nil
		case <-wait.C:
		}
	}
}

// serve runs one session from connect to its end and says how long it
// was up.
func (u *Uplink) serve(ctx context.Context) (time.Duration, error) {
	s, err := u.connect(ctx)
	if err != nil {
		return 0, err
	}
	start := time.Now()
	err = s.pump(ctx)
	s.end(ctx.Err() != nil)
	u.update(func(st *Status) { st.Connected, st.InFlight = false, 0 })
	return time.Since(start), err
}

// failed records why an attempt or a session failed and logs it,
// throttled per cause.
func (u *Uplink) failed(err error) {
	now := u.opts.Now()
	u.update(func(st *Status) {
		st.LastError, st.LastErrorAt = err, now
		st.Failures++
	})

	u.mu.Lock()
	n, ok := u.connLog.allow(now, u.opts.LogEvery, causeKey(err))
	u.mu.Unlock()
	if ok {
		u.log.Warn().Err(err).Int(logging.Suppressed, n).Msg("uplink is down; retrying")
	}
}

// connected records a new session and logs it, throttled.
func (u *Uplink) connected() {
	now := u.opts.Now()
	u.mu.Lock()
	u.st.Connected, u.st.Since = true, now
	if u.st.Connects > 0 {
		u.st.Reconnects++
	}
	u.st.Connects++
	reconnects := u.st.Reconnects
	n, ok := u.upLog.allow(now, u.opts.LogEvery, "")
	u.mu.Unlock()

	if ok {
		u.log.Info().Uint64(logging.Count, reconnects).Int(logging.Suppressed, n).
			Msg("connected to the broker")
	}
}
