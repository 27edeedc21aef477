package uplink

import (
	"time"

	"github.com/esep-kz/esep/internal/spool"
	"github.com/esep-kz/esep/internal/wire"
)

// The spool's types, under the names the uplink's API uses.
type (
	// Kind says what a record holds and so which topic carries it.
	Kind = spool.Kind
	// Record is one item the agent must deliver, as the spool holds it.
	Record = spool.Record
	// Range is an inclusive range of sequence numbers.
	Range = spool.Range
	// Item is one record in a batch as the encoder sees it.
	Item = wire.Item
)

// Kinds of records.
const (
	KindReading = spool.KindReading // sent on the readings topic
	KindEvent   = spool.KindEvent   // sent on the events topic
)

// Source is where the uplink takes records from and reports delivery
// to; in the agent it is the spool. The uplink is its only consumer.
type Source interface {
	// Pending returns unacknowledged records with Seq > after in
	// ascending order, at most max of them and about maxBytes of Data,
	// but at least one if there is any.
	Pending(after uint64, max, maxBytes int) ([]Record, error)
	// Ack reports that the broker acknowledged these records.
	Ack(seqs ...uint64) error
	// Lookup returns the records still held in [from, to], delivered or
	// not, and the sub-ranges that are no longer held.
	Lookup(from, to uint64) (held []Record, gone []Range, err error)
	// Notify receives after each append; the uplink waits on it once it
	// has sent everything pending.
	Notify() <-chan struct{}
}

// The spool is what the agent gives the uplink.
var _ Source = (*spool.Spool)(nil)

// Encoder makes the body of one message from the records of one batch,
// all of the same kind; sent is when the batch goes out. A record it
// cannot encode is reported as a *wire.ItemError naming its Seq.
type Encoder func(agent string, sent time.Time, items []Item) ([]byte, error)
