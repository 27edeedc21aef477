package wire

import (
	"fmt"
	"time"
)

// Agent states in a status message.
const (
	// StateOnline is the agent's birth message, retained, published
	// after each connect.
	StateOnline = "online"
	// StateOffline is the agent's last will, retained, which the broker
	// publishes when the connection drops, and which the agent publishes
	// itself before a clean disconnect (that sends no will).
	StateOffline = "offline"
)

// Status is the retained message of the status topic: whether the agent
// is connected, and which build started when.
type Status struct {
	Agent   string    // the agent's ID
	State   string    // StateOnline or StateOffline
	Version string    // esep build, as `esep-agent version` prints it
	Started time.Time // when the agent process started
}

// statusJSON is Status on the wire:
//
//	{"v":1,"agent":"bldg-0042","state":"online","version":"v0.4.0",
//	 "started":"2026-03-01T06:00:00.000Z"}
//
// version and started are required when online; the last will may leave
// them out.
type statusJSON struct {
	V       int     `json:"v"`
	Agent   string  `json:"agent"`
	State   string  `json:"state"`
	Version *string `json:"version,omitempty"`
	Started *string `json:"started,omitempty"`
}

// EncodeStatus returns the body of a status message.
func EncodeStatus(s Status) ([]byte, error) {
	j := statusJSON{V: Version, Agent: s.Agent, State: s.State}
	if s.Version != "" {
		j.Version = &s.Version
	}
	if !s.Started.IsZero() {
		t, err := formatTime("started", s.Started)
		if err != nil {
			return nil, fmt.Errorf("cannot encode status of agent %q: %w", s.Agent, err)
		}
		j.Started = &t
	}
	data, err := marshal(j)
	if err == nil {
		_, err = decodeStatus(data)
	}
	if err != nil {
		return nil, fmt.Errorf("cannot encode status of agent %q: %w", s.Agent, err)
	}
	return data, nil
}

// DecodeStatus reads a status message.
func DecodeStatus(body []byte) (Status, error) {
	s, err := decodeStatus(body)
	if err != nil {
		return Status{}, fmt.Errorf("cannot decode status of agent %q: %w", s.Agent, err)
	}
	return s, nil
}

func decodeStatus(body []byte) (Status, error) {
	var j statusJSON
	if err := decodeDoc(body, &j); err != nil {
		return Status{}, err
	}
	s := Status{Agent: j.Agent, State: j.State}
	if err := checkID("agent", j.Agent); err != nil {
		return s, err
	}
	if j.State != StateOnline && j.State != StateOffline {
		return s, invalid("state", "%q is not online or offline", j.State)
	}
	if j.State == StateOnline && (j.Version == nil || j.Started == nil) {
		return s, invalid("", "an online status has version and started")
	}
	var err error
	if j.Version != nil {
		if err = checkPrintable("version", *j.Version); err != nil {
			return s, err
		}
		s.Version = *j.Version
	}
	if j.Started != nil {
		if s.Started, err = parseTime("started", *j.Started); err != nil {
			return s, err
		}
	}
	return s, nil
}
