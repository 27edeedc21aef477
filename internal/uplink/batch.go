package uplink

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/esep-kz/esep/internal/logging"
	"github.com/esep-kz/esep/internal/wire"
)

// publishBatch encodes recs, all of one kind, and publishes them as one
// QoS 1 message; ack says whether their PUBACK is reported to the
// source. The caller makes room in the window first. It returns how many
// records went: a record of an unknown kind, or one the encoder refuses,
// is set aside (see Status.SetAside) and the batch goes without it.
func (s *session) publishBatch(recs []Record, ack bool) (int, error) {
	topic, enc, err := s.u.route(recs[0])
	if err != nil {
		for _, r := range recs {
			s.u.setAside(r, err)
		}
		return 0, nil
	}
	body, recs, err := s.encode(enc, recs)
	if err != nil || len(recs) == 0 {
		return 0, err
	}

	f := flight{topic: topic, sent: time.Now()}
	if ack {
		f.seqs = make([]uint64, len(recs))
		for i, r := range recs {
			f.seqs[i] = r.Seq
		}
	}
	f.tok = s.client.Publish(topic, 1, false, body)
	s.push(f)
	s.u.update(func(st *Status) {
		st.PublishedBatches++
		st.PublishedRecords += uint64(len(recs))
	})
	return len(recs), nil
}

// encode makes the body of a batch, leaving out each record that the
// encoder refuses by Seq, and returns the records it holds.
func (s *session) encode(enc Encoder, recs []Record) ([]byte, []Record, error) {
	for len(recs) > 0 {
		items := make([]Item, len(recs))
		for i, r := range recs {
			items[i] = Item{Seq: r.Seq, Data: r.Data}
		}
		body, err := enc(s.u.agent, s.u.opts.Now(), items)
		if err == nil {
			return body, recs, nil
		}

		var bad *wire.ItemError
		i := -1
		if errors.As(err, &bad) {
			i = slices.IndexFunc(recs, func(r Record) bool { return r.Seq == bad.Seq })
		}
		if i < 0 {
			return nil, nil, fmt.Errorf("cannot encode records %d to %d: %w",
				recs[0].Seq, recs[len(recs)-1].Seq, err)
		}
		s.u.setAside(recs[i], err)
		recs = slices.Delete(slices.Clone(recs), i, i+1)
	}
	return nil, nil, nil
}

// route says which topic and encoder a record's kind takes.
func (u *Uplink) route(r Record) (string, Encoder, error) {
	switch r.Kind {
	case KindReading:
		return u.topics.Readings, u.opts.EncodeReadings, nil
	case KindEvent:
		return u.topics.Events, u.opts.EncodeEvents, nil
	}
	return "", nil, fmt.Errorf("cannot publish record %d of unknown kind %d", r.Seq, r.Kind)
}

// sameKind returns the leading records of recs that share the first
// one's kind: a batch goes to one topic.
func sameKind(recs []Record) []Record {
	n := 1
	for n < len(recs) && recs[n].Kind == recs[0].Kind {
		n++
	}
	return recs[:n]
}

// setAside counts a record the encoder refused and logs it, throttled.
// The record is not acknowledged: it stays in the spool, on disk, for an
// engineer to look at, and goes again with the next session.
func (u *Uplink) setAside(r Record, err error) {
	u.mu.Lock()
	u.st.SetAside++
	n, ok := u.asideLog.allow(u.opts.Now(), u.opts.LogEvery, "")
	u.mu.Unlock()
	if ok {
		u.log.Error().Err(err).Uint64(logging.Seq, r.Seq).Str(logging.Meter, r.Meter).
			Int(logging.Suppressed, n).Msg("record cannot be encoded; set aside, not sent")
	}
}
