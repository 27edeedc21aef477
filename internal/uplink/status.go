package uplink

import (
	"time"

	"github.com/esep-kz/esep/internal/wire"
)

// Status is the uplink's state and its counters since New. Counters are
// cumulative; the latencies are of acknowledged batches.
type Status struct {
	Broker    string // the configured broker URL
	Connected bool   // whether a session is up now
	Since     time.Time
	// LastError is why the last connection attempt or session failed,
	// naming the broker and the cause; nil until something failed. It
	// stays after a later success: LastErrorAt tells when it happened.
	LastError   error
	LastErrorAt time.Time

	Connects   uint64 // connections made
	Reconnects uint64 // connections made after the first
	Failures   uint64 // connection attempts and sessions that failed

	PublishedBatches uint64 // batches handed to the broker, resends included
	PublishedRecords uint64 // records in them
	AckedBatches     uint64 // batches acknowledged to the source after their PUBACK
	AckedRecords     uint64 // records in them
	InFlight         int    // messages awaiting their PUBACK now
	MaxInFlight      int    // the most that ever did at once

	ResendRequests uint64 // resend requests answered
	ResendDropped  uint64 // resend requests dropped because the queue was full
	ResendInvalid  uint64 // resend requests that could not be read
	ResentRecords  uint64 // records published again for them

	// SetAside counts records the encoder refused (*wire.ItemError):
	// they stay pending in the source, are left out of their batch, and
	// are tried again in the next session. The spool's oldest pending
	// record then stays old, which its gauge shows.
	SetAside uint64

	LastLatency time.Duration // publish to PUBACK of the last acknowledged batch
	MeanLatency time.Duration // mean of the same over every acknowledged batch
	MaxLatency  time.Duration
}

// Status returns a copy of the current state and counters.
func (u *Uplink) Status() Status {
	u.mu.Lock()
	defer u.mu.Unlock()
	st := u.st
	if u.latencyN > 0 {
		st.MeanLatency = u.latencySum / time.Duration(u.latencyN)
	}
	return st
}

// update changes the status under its lock.
func (u *Uplink) update(f func(st *Status)) {
	u.mu.Lock()
	defer u.mu.Unlock()
	f(&u.st)
}

// acked counts an acknowledged batch of n records that took lat.
func (u *Uplink) acked(n int, lat time.Duration) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.st.AckedBatches++
	u.st.AckedRecords += uint64(n)
	u.st.LastLatency = lat
	u.st.MaxLatency = max(u.st.MaxLatency, lat)
	u.latencySum += lat
	u.latencyN++
}

// statusBodies are the three retained messages of the status topic.
type statusBodies struct {
	birth []byte // online, published after each connect
	will  []byte // offline, left with the broker for a connection that dies
	bye   []byte // offline, published before a clean disconnect
}

// newStatusBodies encodes the status messages once: they do not change
// while the agent runs. The will names the agent alone, so that a reader
// can tell a dead link from a clean stop.
func newStatusBodies(agent string, o Options) (statusBodies, error) {
	var b statusBodies
	var err error
	st := wire.Status{Agent: agent, State: wire.StateOnline, Version: o.Version,
		Started: o.Started}
	if b.birth, err = wire.EncodeStatus(st); err != nil {
		return b, err
	}
	st.State = wire.StateOffline
	if b.bye, err = wire.EncodeStatus(st); err != nil {
		return b, err
	}
	b.will, err = wire.EncodeStatus(wire.Status{Agent: agent, State: wire.StateOffline})
	return b, err
}
