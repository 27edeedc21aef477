package wire

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// DefaultPrefix is the topic prefix when the configuration names none.
const DefaultPrefix = "esep"

// QoS is the MQTT quality of service of every esep message: at least
// once, so a reading survives a dropped link, and duplicates are removed
// by seq and by (meter, quantity, time) at the centre.
const QoS byte = 1

// TopicSet is the topics of one agent under a prefix P, agent A:
//
//	P/v1/A/readings   readings batches, gzip JSON, not retained
//	P/v1/A/events     events batches, JSON, not retained
//	P/v1/A/status     birth and last will, retained
//	P/v1/A/inventory  what the agent polls, retained
//	P/v1/A/cmd        the centre's commands to the agent, not retained
//	P/v1/A/resend     the agent's answers to resend requests, not retained
//
// All are QoS 1. The schema version is a topic level, so a v2 agent and
// a v1 centre never read each other's messages.
type TopicSet struct {
	Readings  string
	Events    string
	Status    string // retained
	Inventory string // retained
	Cmd       string
	Resend    string
}

// Topic names under P/v1/A.
const (
	leafReadings  = "readings"
	leafEvents    = "events"
	leafStatus    = "status"
	leafInventory = "inventory"
	leafCmd       = "cmd"
	leafResend    = "resend"
)

// leaves lists the topic names in TopicSet's order.
var leaves = []string{leafReadings, leafEvents, leafStatus, leafInventory, leafCmd, leafResend}

// Topics returns the topics of agent under prefix. The contract has it
// return no error, so prefix and agent must have passed CheckTopics, as
// the agent's configuration check does; for parts that fail it, Topics
// returns the zero TopicSet, whose empty topics every broker refuses
// (MQTT 3.1.1 §4.7.3: a topic name is at least one character).
func Topics(prefix, agent string) TopicSet {
	if CheckTopics(prefix, agent) != nil {
		return TopicSet{}
	}
	return topics(prefix, agent)
}

// Filters returns the subscription filters of the centre under prefix:
// the TopicSet with the single-level wildcard in place of the agent.
// A replica group subscribes to them as $share/<group>/<filter>.
func Filters(prefix string) (TopicSet, error) {
	if err := checkPrefix(prefix); err != nil {
		return TopicSet{}, err
	}
	return topics(prefix, "+"), nil
}

func topics(prefix, agent string) TopicSet {
	base := prefix + "/v1/" + agent + "/"
	return TopicSet{
		Readings:  base + leafReadings,
		Events:    base + leafEvents,
		Status:    base + leafStatus,
		Inventory: base + leafInventory,
		Cmd:       base + leafCmd,
		Resend:    base + leafResend,
	}
}

// CheckTopics checks a topic prefix and an agent ID. The prefix is one
// or more topic levels; none may be empty (no leading, trailing or
// double '/'), hold a wildcard ('+', '#') or NUL (MQTT 3.1.1 §4.7.1,
// §4.7.3), and it must not start with '$', which brokers keep for their
// own topics (§4.7.2). The agent ID follows the configuration's rule
// for IDs, which also keeps it one level without wildcards.
func CheckTopics(prefix, agent string) error {
	if err := checkPrefix(prefix); err != nil {
		return err
	}
	if err := checkID("agent", agent); err != nil {
		return fmt.Errorf("cannot use agent ID %q in topics: %w", agent, err)
	}
	return nil
}

// maxPrefix leaves room in the 65535 bytes of a topic name (MQTT 3.1.1
// §1.5.3) for the levels esep adds.
const maxPrefix = 1024

func checkPrefix(prefix string) error {
	var why string
	switch {
	case prefix == "":
		why = "it is empty"
	case len(prefix) > maxPrefix:
		why = fmt.Sprintf("it is longer than %d bytes", maxPrefix)
	case !utf8.ValidString(prefix):
		why = "it is not UTF-8"
	case strings.HasPrefix(prefix, "$"):
		why = "a topic starting with '$' is the broker's"
	case strings.ContainsAny(prefix, "+#\x00"):
		why = "it holds a wildcard or NUL"
	case strings.Contains("/"+prefix+"/", "//"):
		why = "it has an empty level"
	default:
		return nil
	}
	return fmt.Errorf("cannot use topic prefix %q: %s: %w", prefix, why, ErrInvalid)
}

// ParseTopic splits a topic under prefix into the agent ID and the
// topic name ("readings", "events", "status", "inventory", "cmd",
// "resend"), for the centre to route a message it received by filter.
func ParseTopic(prefix, topic string) (agent, name string, err error) {
	rest, ok := strings.CutPrefix(topic, prefix+"/v1/")
	if !ok {
		return "", "", fmt.Errorf("cannot parse topic %q: not under %q: %w",
			topic, prefix+"/v1/", ErrInvalid)
	}
	agent, name, _ = strings.Cut(rest, "/")
	if checkID("agent", agent) != nil || !slices.Contains(leaves, name) {
		return "", "", fmt.Errorf("cannot parse topic %q: not %s/v1/<agent>/<%s>: %w",
			topic, prefix, strings.Join(leaves, "|"), ErrInvalid)
	}
	return agent, name, nil
}
