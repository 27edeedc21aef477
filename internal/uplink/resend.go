package uplink

import (
	"context"
	"fmt"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/esep-kz/esep/internal/logging"
	"github.com/esep-kz/esep/internal/wire"
)

// A resend request (wire.Command) asks for a range of records again,
// after the centre found a gap in an agent's sequence numbers or lost
// data of its own. The records the source still holds go out again on
// their usual topics, in batches as usual, and the answer
// (wire.ResendAnswer) follows once the broker has acknowledged them all.
// Ranges the source no longer holds (expired from its history or removed
// under pressure) are listed as gone, so the centre stops waiting for
// them. A request the agent cannot serve is answered with Error; one it
// cannot read is logged and dropped, as it has no id to answer to.

// Bounds of one resend request.
const (
	// maxResendSpan caps the range one request may ask for: a week of
	// 15-minute readings from 150 meters. A wider request is refused,
	// as an unbounded one would walk the whole sequence space.
	maxResendSpan = 100_000
	// lookupChunk is how many sequence numbers one Lookup covers, so
	// that a wide request holds a few hundred records in memory at once.
	lookupChunk = 500
)

// onCommand takes a message from the cmd topic on paho's goroutine. It
// must not block paho, so it only queues the request for Run.
func (u *Uplink) onCommand(_ mqtt.Client, msg mqtt.Message) {
	if msg.Topic() != u.topics.Cmd {
		return
	}
	select {
	case u.requests <- append([]byte(nil), msg.Payload()...):
		return
	default:
	}
	u.refused(nil, "resend request dropped: too many waiting; the centre will ask again")
}

// refused counts a request that gets no answer and logs it, throttled;
// err is nil for one dropped from a full queue.
func (u *Uplink) refused(err error, msg string) {
	u.mu.Lock()
	if err == nil {
		u.st.ResendDropped++
	} else {
		u.st.ResendInvalid++
	}
	n, ok := u.dropLog.allow(u.opts.Now(), u.opts.LogEvery, msg)
	u.mu.Unlock()
	if ok {
		u.log.Warn().Err(err).Int(logging.Suppressed, n).Msg(msg)
	}
}

// resend serves one request: the held records again, then the answer.
func (s *session) resend(ctx context.Context, body []byte) error {
	cmd, err := wire.DecodeCommand(body)
	if err != nil {
		s.u.refused(err, "resend request ignored: it cannot be read")
		return nil
	}
	ans := wire.ResendAnswer{Agent: s.u.agent, ID: cmd.ID, From: cmd.From, To: cmd.To}
	if cmd.To-cmd.From >= maxResendSpan {
		ans.Error = fmt.Sprintf("range %d to %d is wider than %d records; ask in parts",
			cmd.From, cmd.To, maxResendSpan)
	} else if err := s.resendRange(ctx, &ans); err != nil {
		return err
	}

	// The answer goes after the broker has taken every record resent.
	if err := s.drain(ctx); err != nil {
		return err
	}
	b, err := wire.EncodeResend(ans)
	if err != nil {
		s.u.refused(err, "resend answer cannot be encoded")
		return nil
	}
	topic := s.u.topics.Resend
	s.push(flight{tok: s.client.Publish(topic, 1, false, b), topic: topic, sent: time.Now()})
	s.u.update(func(st *Status) {
		st.ResendRequests++
		st.ResentRecords += ans.Resent
	})
	s.u.log.Info().Str(logging.Seq, fmt.Sprintf("%d-%d", ans.From, ans.To)).
		Uint64(logging.Count, ans.Resent).Str(logging.Reason, ans.Error).
		Msgf("resend request %q answered, %d ranges gone", ans.ID, len(ans.Gone))
	return nil
}

// resendRange looks the range up chunk by chunk, publishes what is held
// and fills the answer's count and gone ranges. A source that fails is
// reported in the answer, with what was resent until then.
func (s *session) resendRange(ctx context.Context, ans *wire.ResendAnswer) error {
	span := ans.To - ans.From // counted from From, so that nothing overflows
	for off := uint64(0); off <= span; off += lookupChunk {
		from, to := ans.From+off, ans.From+min(off+lookupChunk-1, span)
		held, gone, err := s.u.src.Lookup(from, to)
		if err != nil {
			ans.Error = fmt.Sprintf("cannot look up records %d to %d: %v", from, to, err)
			return nil
		}
		for _, g := range gone {
			ans.Gone = appendRange(ans.Gone, g)
		}
		n, err := s.republish(ctx, held)
		if err != nil {
			return err
		}
		ans.Resent += uint64(n)
	}
	return nil
}

// republish sends held records again in batches bounded as usual,
// without acknowledging them to the source a second time, and says how
// many went.
func (s *session) republish(ctx context.Context, recs []Record) (int, error) {
	cfg := s.u.cfg
	sent := 0
	for len(recs) > 0 {
		batch := sameKind(recs[:batchLen(recs, cfg.BatchItems, cfg.BatchBytes)])
		recs = recs[len(batch):]

		for len(s.window) >= cfg.Window {
			if err := s.settleOldest(ctx); err != nil {
				return sent, err
			}
		}
		n, err := s.publishBatch(batch, false)
		if err != nil {
			return sent, err
		}
		sent += n
	}
	return sent, nil
}

// batchLen is how many leading records of recs fit in one batch of at
// most items records and bytes of data; it is at least one.
func batchLen(recs []Record, items, bytes int) int {
	n, size := 1, len(recs[0].Data)
	for n < len(recs) && n < items && size+len(recs[n].Data) <= bytes {
		size += len(recs[n].Data)
		n++
	}
	return n
}

// appendRange adds r to rs, merging it with the last range when they
// touch, as gone ranges of neighbouring chunks do.
func appendRange(rs []wire.Range, r Range) []wire.Range {
	if n := len(rs); n > 0 && rs[n-1].To+1 >= r.From {
		rs[n-1].To = max(rs[n-1].To, r.To)
		return rs
	}
	return append(rs, wire.Range{From: r.From, To: r.To})
}
