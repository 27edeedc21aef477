package uplink

import (
	"context"
	"fmt"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/esep-kz/esep/internal/logging"
)

// session is one connection to the broker, from CONNACK to its end. It
// runs on Run's goroutine; only the sessionLocks part is shared with
// paho's.
type session struct {
	sessionLocks
	u      *Uplink
	client mqtt.Client

	// after is the cursor: the highest Seq handed to paho in this
	// session. Each session starts at 0, so Pending begins with the
	// oldest record not yet acknowledged.
	after   uint64
	queued  []Record // fetched from the source, not yet published
	drained bool     // the source had nothing after the cursor
	window  []flight // messages awaiting their PUBACK, oldest first
	timer   *time.Timer
}

// flight is one message awaiting its PUBACK.
type flight struct {
	tok   mqtt.Token
	topic string
	seqs  []uint64 // records to acknowledge to the source; nil for resends
	sent  time.Time
}

func newSession(u *Uplink) *session {
	s := &session{u: u, timer: time.NewTimer(time.Hour)}
	s.lost = make(chan struct{})
	s.timer.Stop()
	return s
}

// pump publishes what the source holds, keeping the window full, and
// handles acknowledgements, commands and new records until the session
// fails or ctx is cancelled.
func (s *session) pump(ctx context.Context) error {
	for {
		if err := s.fill(); err != nil {
			return err
		}
		if err := s.next(ctx); err != nil {
			return err
		}
	}
}

// fill publishes batches from the source until the window is full or
// the source has nothing more.
func (s *session) fill() error {
	cfg := s.u.cfg
	for len(s.window) < cfg.Window {
		if len(s.queued) == 0 {
			if s.drained {
				return nil
			}
			recs, err := s.u.src.Pending(s.after, cfg.BatchItems, cfg.BatchBytes)
			if err != nil {
				return fmt.Errorf("cannot read pending records after %d: %w", s.after, err)
			}
			if len(recs) == 0 {
				s.drained = true
				return nil
			}
			s.queued, s.after = recs, recs[len(recs)-1].Seq
		}

		run := sameKind(s.queued)
		s.queued = s.queued[len(run):]
		if _, err := s.publishBatch(run, true); err != nil {
			return err
		}
	}
	return nil
}

// next waits for one thing to happen and handles it.
func (s *session) next(ctx context.Context) error {
	var acked <-chan struct{}
	var timeout <-chan time.Time
	if len(s.window) > 0 {
		acked, timeout = s.window[0].tok.Done(), s.arm()
	}
	var appended <-chan struct{}
	if s.drained {
		appended = s.u.src.Notify()
	}

	select {
	case <-acked:
		return s.settle()
	case <-appended:
		s.drained = false
	case req := <-s.u.requests:
		return s.resend(ctx, req)
	case <-s.u.inventory:
		s.publishInventory()
	case <-s.lost:
		return s.lostError()
	case <-ctx.Done():
		return ctx.Err()
	case <-timeout:
		return s.ackTimeout()
	}
	return nil
}

// arm sets the timer to the ack deadline of the oldest message.
func (s *session) arm() <-chan time.Time {
	s.timer.Reset(time.Until(s.window[0].sent.Add(s.u.cfg.AckTimeout)))
	return s.timer.C
}

func (s *session) ackTimeout() error {
	return fmt.Errorf("cannot publish to %q on broker %q: %w (%s)", s.window[0].topic,
		s.u.cfg.Broker, ErrAckTimeout, s.u.cfg.AckTimeout)
}

// settleOldest waits for the PUBACK of the oldest message in the window
// and settles it.
func (s *session) settleOldest(ctx context.Context) error {
	select {
	case <-s.window[0].tok.Done():
		return s.settle()
	case <-s.lost:
		return s.lostError()
	case <-ctx.Done():
		return ctx.Err()
	case <-s.arm():
		return s.ackTimeout()
	}
}

// settle takes the oldest message, whose token is done, off the window
// and acknowledges its records to the source. Only a PUBACK completes a
// QoS 1 token without error (MQTT 3.1.1 section 4.3.2).
func (s *session) settle() error {
	f := s.window[0]
	s.window = s.window[1:]
	s.u.update(func(st *Status) { st.InFlight = len(s.window) })
	if err := f.tok.Error(); err != nil {
		return fmt.Errorf("cannot publish to %q on broker %q: %w", f.topic, s.u.cfg.Broker, err)
	}
	if f.seqs == nil {
		return nil
	}
	// TODO: an MQTT 3.1.1 PUBACK carries no reason code, and Mosquitto
	// PUBACKs a publish it then discards (an ACL denial, a message over
	// message_size_limit): such records are acked here and delivered to
	// no one. Until the uplink speaks MQTT 5, or the centre's gap
	// detection confirms receipt end to end, the broker's ACL and size
	// limit must admit what the agent sends (docs/mqtt.md).
	if err := s.u.src.Ack(f.seqs...); err != nil {
		// The records stay pending and go again next session.
		return fmt.Errorf("cannot acknowledge records %d to %d: %w",
			f.seqs[0], f.seqs[len(f.seqs)-1], err)
	}
	s.u.acked(len(f.seqs), time.Since(f.sent))
	return nil
}

// push adds a message to the window and keeps the in-flight counters.
func (s *session) push(f flight) {
	s.window = append(s.window, f)
	s.u.update(func(st *Status) {
		st.InFlight = len(s.window)
		st.MaxInFlight = max(st.MaxInFlight, len(s.window))
	})
}

// publishInventory publishes the current inventory, retained, if there
// is one. It rides in the window like a batch, without counting as one.
func (s *session) publishInventory() {
	s.u.mu.Lock()
	body := s.u.invBody
	s.u.mu.Unlock()
	if body == nil {
		return
	}
	topic := s.u.topics.Inventory
	s.push(flight{tok: s.client.Publish(topic, 1, true, body), topic: topic, sent: time.Now()})
}

// end closes the session. A stopping agent first waits, within the
// grace, for the PUBACKs of what is in flight, so that it sends fewer
// duplicates after a restart. Then, while the link is up, it sets its
// status offline itself, since a broker publishes the will only when a
// client goes without a DISCONNECT (MQTT 3.1.1 section 3.1.2.5).
func (s *session) end(shutdown bool) {
	grace := s.u.opts.ShutdownGrace
	if shutdown {
		ctx, cancel := context.WithTimeout(context.Background(), grace)
		s.drain(ctx)
		cancel()
	}
	select {
	case <-s.lost:
		return
	default:
	}

	tok := s.client.Publish(s.u.topics.Status, 1, true, s.u.status.bye)
	if !tok.WaitTimeout(grace) || tok.Error() != nil {
		s.u.log.Debug().Str(logging.Topic, s.u.topics.Status).Msg("offline status not acknowledged")
	}
	s.client.Disconnect(quiesce)
}

// drain settles the window until it is empty or something fails.
func (s *session) drain(ctx context.Context) error {
	for len(s.window) > 0 {
		if err := s.settleOldest(ctx); err != nil {
			return err
		}
	}
	return nil
}
