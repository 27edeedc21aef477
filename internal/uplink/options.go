package uplink

import (
	"fmt"
	"runtime/debug"
	"time"

	"github.com/rs/zerolog"

	"github.com/esep-kz/esep/internal/wire"
)

// Options are the uplink's collaborators and tuning beyond the
// configuration file.
type Options struct {
	// EncodeReadings and EncodeEvents make the message bodies of batches
	// of readings and of events; nil selects wire.ReadingsBatch and
	// wire.EventsBatch, payload schema v1.
	EncodeReadings Encoder
	EncodeEvents   Encoder
	// Version is the agent's build, as its status message reports it;
	// "" selects the main module's version from the build information.
	Version string
	// Started is when the agent process started, for the status
	// message; the zero time selects the time of New.
	Started time.Time
	// Inventory is published, retained, on every connect; nil publishes
	// none. SetInventory replaces it later.
	Inventory []byte
	// LogEvery is the shortest gap between two log lines about the same
	// connection trouble; the lines left out are counted in the next one.
	// 0 selects 5m.
	LogEvery time.Duration
	// ShutdownGrace bounds how long a stopping uplink waits for the
	// PUBACKs of what is in flight, and then for that of its offline
	// status. 0 selects 2s.
	ShutdownGrace time.Duration
	// Log receives the uplink's lines; the zero Logger discards them.
	Log zerolog.Logger
	// Now tells the time for status messages and certificate checks;
	// nil selects time.Now.
	Now func() time.Time
}

// Defaults of Options.
const (
	// A link down all night gives about a hundred lines, not thousands.
	defaultLogEvery = 5 * time.Minute
	// Enough for a PUBACK on a live link; short enough that a stopping
	// agent, which systemd gives 90 s, never hangs on a dead one.
	defaultShutdownGrace = 2 * time.Second
)

func (o Options) withDefaults() (Options, error) {
	if o.EncodeReadings == nil {
		o.EncodeReadings = wire.ReadingsBatch
	}
	if o.EncodeEvents == nil {
		o.EncodeEvents = wire.EventsBatch
	}
	setDefault(&o.LogEvery, defaultLogEvery)
	setDefault(&o.ShutdownGrace, defaultShutdownGrace)
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Started.IsZero() {
		o.Started = o.Now()
	}
	if o.Version == "" {
		o.Version = buildVersion()
	}
	if o.LogEvery < 0 || o.ShutdownGrace < 0 {
		return o, fmt.Errorf("cannot create the uplink: LogEvery %s or ShutdownGrace %s is negative",
			o.LogEvery, o.ShutdownGrace)
	}
	return o, nil
}

// buildVersion is the main module's version, or "(devel)" for a build
// from a work tree, as `go version -m` shows it.
func buildVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" {
		return info.Main.Version
	}
	return "(devel)"
}
