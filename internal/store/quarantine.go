package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"
)

// Quarantined is a message the ingestor refused, kept byte for byte so
// that a person can see what was sent and why it was refused.
type Quarantined struct {
	Agent    string // as the topic named it; it may be no known agent
	Topic    string
	Reason   string
	Payload  []byte    // the message body as received, gzip and all
	Received time.Time // first receipt
	Count    int64     // deliveries of the same topic and payload
}

// Quarantine keeps a refused message. The same payload on the same topic
// is kept once, with its deliveries counted, so a message the broker
// redelivers does not fill the table.
func (s *Store) Quarantine(ctx context.Context, agent, topic, reason string,
	payload []byte, received time.Time) error {
	if payload == nil {
		payload = []byte{} // the column is NOT NULL; an empty body is still a body
	}
	_, err := s.db.ExecContext(ctx, `
		INSERT INTO quarantine (digest, agent_id, topic, reason, payload, received_ms)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (digest) DO UPDATE SET deliveries = quarantine.deliveries + 1`,
		digest(topic, payload), agent, topic, reason, payload, ms(received))
	if err != nil {
		return fmt.Errorf("cannot quarantine message on %q: %w", topic, err)
	}
	return nil
}

// digest identifies a message by its topic and body.
func digest(topic string, payload []byte) string {
	h := sha256.New()
	h.Write([]byte(topic))
	h.Write([]byte{0}) // a topic never holds NUL (MQTT 3.1.1 §4.7.3)
	h.Write(payload)
	return hex.EncodeToString(h.Sum(nil))
}

// QuarantineList returns up to limit quarantined messages, newest first.
func (s *Store) QuarantineList(ctx context.Context, limit int) ([]Quarantined, error) {
	rows, err := s.db.QueryContext(ctx, `
		SELECT agent_id, topic, reason, payload, received_ms, deliveries FROM quarantine
		ORDER BY received_ms DESC, digest LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("cannot list quarantine %q: %w", "newest", err)
	}
	defer rows.Close()

	var out []Quarantined
	for rows.Next() {
		var q Quarantined
		var received int64
		if err := rows.Scan(&q.Agent, &q.Topic, &q.Reason, &q.Payload, &received,
			&q.Count); err != nil {
			return nil, fmt.Errorf("cannot list quarantine %q: %w", "newest", err)
		}
		q.Received = fromMS(received)
		out = append(out, q)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cannot list quarantine %q: %w", "newest", err)
	}
	return out, nil
}
