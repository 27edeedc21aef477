package wire

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// Item is one spool record on its way into a batch: the agent's sequence
// number and the Data that EncodeReading or EncodeEvent made of it.
type Item struct {
	Seq  uint64
	Data []byte
}

// batchJSON is the envelope of a readings or events message:
//
//	{"v":1,"agent":"bldg-0042","sent":"2026-03-01T10:15:03.120Z","items":[...]}
//
// agent is the sending agent's ID (the same as in the topic), sent when
// the batch was made, items the readings or events, each with its seq.
type batchJSON struct {
	V     int               `json:"v"`
	Agent string            `json:"agent"`
	Sent  string            `json:"sent"`
	Items []json.RawMessage `json:"items"`
}

// ReadingsBatch returns the body of a message on the readings topic: the
// readings of items (Data from EncodeReading) under one envelope, as
// gzip-compressed JSON. Each Data is checked again, since it may have
// waited in the spool across an upgrade; a bad one fails the batch with
// an *ItemError naming its seq.
func ReadingsBatch(agent string, sent time.Time, items []Item) ([]byte, error) {
	doc, err := batch(agent, sent, items, func(data []byte) error {
		_, err := decodeReading(data, false)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("cannot encode readings batch of agent %q: %w", agent, err)
	}
	return compress(doc)
}

// EventsBatch returns the body of a message on the events topic: the
// events of items (Data from EncodeEvent) under one envelope, as plain
// JSON, since events are few and people read them in broker tools.
func EventsBatch(agent string, sent time.Time, items []Item) ([]byte, error) {
	doc, err := batch(agent, sent, items, func(data []byte) error {
		_, err := decodeEvent(data, false)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("cannot encode events batch of agent %q: %w", agent, err)
	}
	return doc, nil
}

// batch writes the envelope around items, giving each its seq first.
func batch(agent string, sent time.Time, items []Item, check func([]byte) error) ([]byte, error) {
	if err := checkID("agent", agent); err != nil {
		return nil, err
	}
	at, err := formatTime("sent", sent)
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return nil, invalid("items", "a batch has at least one item")
	}
	var buf bytes.Buffer
	// agent matched idRE and at is TimeLayout: neither needs JSON escapes.
	fmt.Fprintf(&buf, `{"v":%d,"agent":%q,"sent":%q,"items":[`, Version, agent, at)
	seen := make(map[uint64]bool, len(items))
	for i, it := range items {
		if err := addItem(&buf, it, seen, check); err != nil {
			return nil, &ItemError{Seq: it.Seq, Err: within(fmt.Sprintf("items[%d]", i), err)}
		}
	}
	buf.WriteString("]}")
	return buf.Bytes(), nil
}

// addItem checks one item and writes it with its seq spliced in front of
// its other fields: {"seq":17,"meter":...}.
func addItem(buf *bytes.Buffer, it Item, seen map[uint64]bool, check func([]byte) error) error {
	switch {
	case it.Seq == 0:
		return invalid("seq", "must be at least 1")
	case seen[it.Seq]:
		return invalid("seq", "%d appears twice in the batch", it.Seq)
	}
	seen[it.Seq] = true
	if err := check(it.Data); err != nil {
		return err
	}
	var item bytes.Buffer
	if err := json.Compact(&item, it.Data); err != nil {
		return invalid("", "%v", err)
	}
	// check has made sure Data is an object with fields, so it starts
	// with "{" and has a field to follow the comma.
	if buf.Bytes()[buf.Len()-1] == '}' {
		buf.WriteByte(',')
	}
	buf.WriteString(`{"seq":` + strconv.FormatUint(it.Seq, 10) + ",")
	buf.Write(item.Bytes()[1:])
	return nil
}

// Batch is a decoded message of the readings topic.
type Batch struct {
	Agent    string    // the sending agent; the ingestor checks it against the topic
	Sent     time.Time // when the agent made the batch, by its clock
	Readings []ReadingItem
}

// EventBatch is a decoded message of the events topic.
type EventBatch struct {
	Agent  string
	Sent   time.Time
	Events []EventItem
}

// DecodeReadings reads a message of the readings topic, gzip-compressed
// (as ReadingsBatch writes it) or plain JSON. It refuses the whole
// message for any fault: another version, a missing or unknown field, a
// number where the quality allows none, a number that is not a plain
// decimal, a quantity outside the vocabulary, a seq twice in the batch.
// The error names the item and field, as in items[3].values[2].number.
func DecodeReadings(body []byte) (Batch, error) {
	head, items, err := decodeBatch(body, func(doc []byte) (ReadingItem, uint64, error) {
		it, err := decodeReading(doc, true)
		return it, it.Seq, err
	})
	if err != nil {
		return Batch{}, batchError("readings", head.Agent, err)
	}
	return Batch{Agent: head.Agent, Sent: head.Sent, Readings: items}, nil
}

// DecodeEvents reads a message of the events topic, plain JSON (as
// EventsBatch writes it) or gzip-compressed, as strictly as
// DecodeReadings.
func DecodeEvents(body []byte) (EventBatch, error) {
	head, items, err := decodeBatch(body, func(doc []byte) (EventItem, uint64, error) {
		it, err := decodeEvent(doc, true)
		return it, it.Seq, err
	})
	if err != nil {
		return EventBatch{}, batchError("events", head.Agent, err)
	}
	return EventBatch{Agent: head.Agent, Sent: head.Sent, Events: items}, nil
}

func batchError(what, agent string, err error) error {
	if agent == "" {
		return fmt.Errorf("cannot decode %s batch: %w", what, err)
	}
	return fmt.Errorf("cannot decode %s batch of agent %q: %w", what, agent, err)
}

// batchHead is what an envelope says besides its items.
type batchHead struct {
	Agent string
	Sent  time.Time
}

// decodeBatch reads an envelope and each of its items with item, which
// returns the item and its seq; seqs must differ within the batch.
func decodeBatch[T any](body []byte, item func([]byte) (T, uint64, error)) (batchHead, []T, error) {
	doc, err := plain(body)
	if err != nil {
		return batchHead{}, nil, err
	}
	var j batchJSON
	if err := decodeDoc(doc, &j); err != nil {
		return batchHead{}, nil, err
	}
	var head batchHead
	if err := checkID("agent", j.Agent); err != nil {
		return head, nil, err
	}
	head.Agent = j.Agent
	if head.Sent, err = parseTime("sent", j.Sent); err != nil {
		return head, nil, err
	}
	if len(j.Items) == 0 {
		return head, nil, invalid("items", "missing or empty")
	}
	out := make([]T, 0, len(j.Items))
	first := make(map[uint64]int, len(j.Items)) // seq: index of its first item
	for i, raw := range j.Items {
		field := fmt.Sprintf("items[%d]", i)
		it, seq, err := item(raw)
		if err != nil {
			return head, nil, within(field, err)
		}
		if k, dup := first[seq]; dup {
			return head, nil, invalid(field+".seq", "%d appears twice (also items[%d])", seq, k)
		}
		first[seq] = i
		out = append(out, it)
	}
	return head, out, nil
}
