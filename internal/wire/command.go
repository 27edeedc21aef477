package wire

import (
	"fmt"
)

// ResendRequest is the command asking the agent to publish again the
// records with seqs From to To, which the centre found missing.
const ResendRequest = "resend"

// Command is a message of the cmd topic, from the centre to one agent.
// Schema v1 has one command, ResendRequest.
type Command struct {
	Cmd      string // ResendRequest
	ID       string // chosen by the centre; the answer repeats it
	From, To uint64 // inclusive range of seqs, From <= To
}

// commandJSON is Command on the wire:
//
//	{"v":1,"cmd":"resend","id":"rs-20260301-0007","from":1200,"to":1450}
type commandJSON struct {
	V    int    `json:"v"`
	Cmd  string `json:"cmd"`
	ID   string `json:"id"`
	From uint64 `json:"from"`
	To   uint64 `json:"to"`
}

// EncodeCommand returns the body of a cmd message.
func EncodeCommand(c Command) ([]byte, error) {
	data, err := marshal(commandJSON{V: Version, Cmd: c.Cmd, ID: c.ID, From: c.From, To: c.To})
	if err == nil {
		_, err = decodeCommand(data)
	}
	if err != nil {
		return nil, fmt.Errorf("cannot encode command %q: %w", c.ID, err)
	}
	return data, nil
}

// DecodeCommand reads a cmd message.
func DecodeCommand(body []byte) (Command, error) {
	c, err := decodeCommand(body)
	if err != nil {
		return Command{}, fmt.Errorf("cannot decode command %q: %w", c.ID, err)
	}
	return c, nil
}

func decodeCommand(body []byte) (Command, error) {
	var j commandJSON
	err := decodeDoc(body, &j)
	if err == nil {
		err = checkCommand(j)
	}
	return Command{Cmd: j.Cmd, ID: j.ID, From: j.From, To: j.To}, err
}

func checkCommand(j commandJSON) error {
	if j.Cmd != ResendRequest {
		return invalid("cmd", "%q is not a command of schema v1 (known: resend)", j.Cmd)
	}
	if err := checkID("id", j.ID); err != nil {
		return err
	}
	return checkRange("", Range{j.From, j.To})
}

// Range is an inclusive range of seqs.
type Range struct{ From, To uint64 }

// rangeJSON is Range on the wire: {"from":1200,"to":1210}.
type rangeJSON struct {
	From uint64 `json:"from"`
	To   uint64 `json:"to"`
}

// checkRange checks that r is a range of seqs; path prefixes the field.
func checkRange(path string, r Range) error {
	if r.From == 0 {
		return invalid(path+"from", "missing or 0; seqs start at 1")
	}
	if r.To < r.From {
		return invalid(path+"to", "%d is before from, %d", r.To, r.From)
	}
	return nil
}

// ResendAnswer is the agent's answer to a ResendRequest, on the resend
// topic, after it has published again what it still holds: how many
// records it resent, and which seqs of the range it no longer has (they
// left the spool's history, or were dropped under pressure, which a
// spool_pressure event reported).
type ResendAnswer struct {
	Agent    string
	ID       string // the request's ID
	From, To uint64 // the request's range
	Resent   uint64 // records published again
	Gone     []Range
	// Error says why the agent could not serve the request at all; it
	// is then the only answer, and the centre may ask again.
	Error string
}

// resendJSON is ResendAnswer on the wire:
//
//	{"v":1,"agent":"bldg-0042","id":"rs-20260301-0007","from":1200,"to":1450,
//	 "resent":240,"gone":[{"from":1200,"to":1210}]}
type resendJSON struct {
	V      int         `json:"v"`
	Agent  string      `json:"agent"`
	ID     string      `json:"id"`
	From   uint64      `json:"from"`
	To     uint64      `json:"to"`
	Resent *uint64     `json:"resent"`
	Gone   []rangeJSON `json:"gone,omitempty"`
	Error  *string     `json:"error,omitempty"`
}

// EncodeResend returns the body of a resend answer.
func EncodeResend(a ResendAnswer) ([]byte, error) {
	j := resendJSON{V: Version, Agent: a.Agent, ID: a.ID, From: a.From, To: a.To,
		Resent: &a.Resent}
	for _, g := range a.Gone {
		j.Gone = append(j.Gone, rangeJSON(g))
	}
	if a.Error != "" {
		e := clipText(a.Error)
		j.Error = &e
	}
	data, err := marshal(j)
	if err == nil {
		_, err = decodeResend(data)
	}
	if err != nil {
		return nil, fmt.Errorf("cannot encode resend answer %q: %w", a.ID, err)
	}
	return data, nil
}

// DecodeResend reads a resend answer.
func DecodeResend(body []byte) (ResendAnswer, error) {
	a, err := decodeResend(body)
	if err != nil {
		return ResendAnswer{}, fmt.Errorf("cannot decode resend answer %q: %w", a.ID, err)
	}
	return a, nil
}

func decodeResend(body []byte) (ResendAnswer, error) {
	var j resendJSON
	err := decodeDoc(body, &j)
	if err == nil {
		err = checkResend(j)
	}
	if err != nil {
		return ResendAnswer{ID: j.ID}, err
	}
	a := ResendAnswer{Agent: j.Agent, ID: j.ID, From: j.From, To: j.To, Resent: *j.Resent}
	for _, g := range j.Gone {
		a.Gone = append(a.Gone, Range(g))
	}
	if j.Error != nil {
		a.Error = *j.Error
	}
	return a, nil
}

func checkResend(j resendJSON) error {
	if err := checkID("agent", j.Agent); err != nil {
		return err
	}
	if err := checkID("id", j.ID); err != nil {
		return err
	}
	if err := checkRange("", Range{j.From, j.To}); err != nil {
		return err
	}
	if j.Resent == nil {
		return invalid("resent", "missing")
	}
	if j.Gone != nil && len(j.Gone) == 0 {
		return invalid("gone", "empty; leave it out instead")
	}
	if j.Error != nil {
		if err := checkError(*j.Error); err != nil {
			return err
		}
	}
	gone, err := checkGone(j)
	if err != nil {
		return err
	}
	if span := j.To - j.From; *j.Resent > span-gone+1 {
		return invalid("resent", "%d and %d gone are more than the %d seqs asked for",
			*j.Resent, gone, span+1)
	}
	return nil
}

// checkGone checks that the gone ranges lie within the request's range,
// ascending and apart, and returns how many seqs they cover.
func checkGone(j resendJSON) (uint64, error) {
	var n uint64
	for i, g := range j.Gone {
		path := fmt.Sprintf("gone[%d].", i)
		if err := checkRange(path, Range(g)); err != nil {
			return 0, err
		}
		if g.From < j.From || g.To > j.To {
			return 0, invalid(path+"from", "%d-%d is outside the request's %d-%d",
				g.From, g.To, j.From, j.To)
		}
		if i > 0 && g.From <= j.Gone[i-1].To {
			return 0, invalid(path+"from", "%d overlaps or precedes gone[%d]", g.From, i-1)
		}
		n += g.To - g.From + 1
	}
	return n, nil
}
