package agent

import (
	"fmt"
	"time"

	"github.com/esep-kz/esep/internal/reading"
)

// EventKind tells what changed in a meter's state, or in the agent's.
type EventKind int

// Kinds of event.
const (
	// MeterOffline is emitted once when a meter has failed OfflineAfter
	// slots in a row; it is then probed less often.
	MeterOffline EventKind = iota + 1
	// MeterOnline is emitted once when an offline meter answers again.
	MeterOnline
	// MeterReplaced is emitted by the poller when a metering point
	// answers with another serial number than it last had: a new meter
	// whose index starts anew, never a jump in consumption (FC-28).
	MeterReplaced
	// ClockStepped is emitted once when the agent's wall clock is
	// stepped by more than a second, back or forward, while the
	// scheduler runs, which then plans every meter's slots afresh on the
	// new time. Readings before a step back were stamped by a clock that
	// ran ahead, so times may repeat across it. It names no meter.
	ClockStepped
	// ClockUnsynced is emitted once when a reading is stamped by a clock
	// that reads before ClockFloor: a box that booted without the time.
	// Its readings' numbers carry quality clock_unsynced until
	// ClockSynced. It names no meter.
	ClockUnsynced
	// ClockSynced is emitted once when the clock reads after the floor
	// again; readings are good from then on. It names no meter.
	ClockSynced
	// BusDown is emitted once when every meter of a bus failed in a row
	// to connect: the adapter, the cable or the gateway, not the meters.
	// It names the bus, and no meter.
	BusDown
	// BusUp is emitted once when a poll gets through a bus that was down.
	BusUp
)

// String returns the kind as it is written in logs and on the wire.
func (k EventKind) String() string {
	switch k {
	case MeterOffline:
		return "meter_offline"
	case MeterOnline:
		return "meter_online"
	case MeterReplaced:
		return "meter_replaced"
	case ClockStepped:
		return "clock_stepped"
	case ClockUnsynced:
		return "clock_unsynced"
	case ClockSynced:
		return "clock_synced"
	case BusDown:
		return "bus_down"
	case BusUp:
		return "bus_up"
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Event is a change in a meter's state, or a step of the agent's clock,
// emitted once per change.
type Event struct {
	Kind  EventKind
	Meter string    // meter ID as configured; empty for the clock's and buses' events
	Bus   string    // bus name as configured, for BusDown and BusUp
	Time  time.Time // when the change was seen, UTC, on the new clock
	Err   error     // the last failure, for MeterOffline and BusDown

	// Step is how far the wall clock moved, for ClockStepped: negative
	// when it went back.
	Step time.Duration

	// For MeterReplaced: the serial numbers of the meter that was at
	// the metering point and of the one there now; the cumulative
	// values last read from the old meter, and when; and the first ones
	// read from the new meter, in the poll that found it.
	OldSerial, NewSerial string
	OldValues            []reading.Value
	OldTime              time.Time
	NewValues            []reading.Value
}
