package store

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/shopspring/decimal"

	"github.com/esep-kz/esep/internal/reading"
	"github.com/esep-kz/esep/internal/wire"
)

// RecordReadings stores a batch of agent's readings in one transaction:
// each value becomes the latest of its meter and quantity unless a newer
// one is there, each reading not seen before (by meter and time) adds
// one to its meter's count for the local day, and the batch's seqs join
// the agent's received ranges, opening or closing gaps. Writing a batch
// again, or from two replicas at once, leaves the same state as writing
// it once. Every meter must be known (an inventory or BindCentral named
// it); the caller checks Authorized first.
func (s *Store) RecordReadings(ctx context.Context, agent string, items []wire.ReadingItem) error {
	seqs := make([]uint64, len(items))
	for i, it := range items {
		seqs[i] = it.Seq
	}
	if err := checkSeqs(seqs); err != nil {
		return fmt.Errorf("cannot store readings of agent %q: %w", agent, err)
	}

	// Rows are locked in one order (meter, then time) by every writer.
	sorted := slices.Clone(items)
	slices.SortFunc(sorted, func(a, b wire.ReadingItem) int {
		return cmp.Or(cmp.Compare(a.Meter, b.Meter), a.Time.Compare(b.Time))
	})
	now := s.now()
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := lockAgent(ctx, tx, agent, ms(now)); err != nil {
			return err
		}
		for _, it := range sorted {
			if err := s.recordReading(ctx, tx, agent, it); err != nil {
				return fmt.Errorf("cannot store reading %d of meter %q: %w", it.Seq, it.Meter, err)
			}
		}
		return recordSeqs(ctx, tx, agent, seqs, ms(now))
	})
	if err != nil {
		return fmt.Errorf("cannot store readings of agent %q: %w", agent, err)
	}
	return nil
}

// checkSeqs refuses seqs the schema's BIGINT cannot hold, and 0.
func checkSeqs(seqs []uint64) error {
	for _, q := range seqs {
		if q == 0 || q > math.MaxInt64 {
			return fmt.Errorf("cannot store seq %d: outside 1 to %d", q, int64(math.MaxInt64))
		}
	}
	return nil
}

// lockAgent creates the agent when new and marks it seen. Updating its
// row locks it to the end of the transaction, so one agent's batches
// are written one at a time even by many replicas: its seq ranges are
// merged by one writer, and no two of its batches deadlock.
func lockAgent(ctx context.Context, tx *sql.Tx, agent string, now int64) error {
	_, err := tx.ExecContext(ctx, `
		INSERT INTO agents (id, seen_ms) VALUES ($1, $2)
		ON CONFLICT (id) DO UPDATE SET seen_ms = excluded.seen_ms`, agent, now)
	return err
}

// recordReading counts one reading when it is new and offers each of its
// values as the latest.
func (s *Store) recordReading(ctx context.Context, tx *sql.Tx, agent string,
	it wire.ReadingItem) error {
	at := ms(it.Time)
	res, err := tx.ExecContext(ctx, `
		INSERT INTO readings_seen (agent_id, meter_id, time_ms) VALUES ($1, $2, $3)
		ON CONFLICT (agent_id, meter_id, time_ms) DO NOTHING`, agent, it.Meter, at)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 1 {
		if err == nil {
			err = s.countReading(ctx, tx, agent, it.Meter, it.Time)
		}
		if err != nil {
			return err
		}
	}

	for _, v := range it.Values {
		if err := upsertLatest(ctx, tx, agent, it, v); err != nil {
			return fmt.Errorf("cannot store value %q: %w", v.Quantity, err)
		}
	}
	return nil
}

// countReading adds one to the meter's count for the local day of t.
func (s *Store) countReading(ctx context.Context, tx *sql.Tx, agent, meter string,
	t time.Time) error {
	_, err := tx.ExecContext(ctx, `
		INSERT INTO daily_counts (agent_id, meter_id, day, readings) VALUES ($1, $2, $3, 1)
		ON CONFLICT (agent_id, meter_id, day)
		DO UPDATE SET readings = daily_counts.readings + 1`,
		agent, meter, t.In(s.loc).Format(time.DateOnly))
	return err
}

// upsertLatest makes v the latest value of its meter and quantity unless
// the stored one is as new or newer: a late or redelivered reading never
// takes the place of a newer one.
func upsertLatest(ctx context.Context, tx *sql.Tx, agent string, it wire.ReadingItem,
	v reading.Value) error {
	var number any // NULL for values without a number
	if v.HasNumber() {
		number = v.Number.StringFixed(max(v.Places, 0))
	}
	_, err := tx.ExecContext(ctx, `
		INSERT INTO latest_values (agent_id, meter_id, quantity, number, unit, quality,
			time_ms, seq)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (agent_id, meter_id, quantity) DO UPDATE SET
			number = excluded.number, unit = excluded.unit, quality = excluded.quality,
			time_ms = excluded.time_ms, seq = excluded.seq
		WHERE latest_values.time_ms < excluded.time_ms`,
		agent, it.Meter, string(v.Quantity), number, v.Unit, string(v.Quality),
		ms(it.Time), int64(it.Seq))
	return err
}

// Latest is the newest value of one quantity of a meter.
type Latest struct {
	reading.Value           // Number at its resolution, as the meter gave it
	Time          time.Time // the reading's time
	Seq           uint64    // the agent's seq of the reading
}

// Latest returns the newest value of each quantity of the meter, ordered
// by quantity.
func (s *Store) Latest(ctx context.Context, agent, meter string) ([]Latest, error) {
	rows, err := s.db.QueryContext(ctx, `
		SELECT quantity, number, unit, quality, time_ms, seq FROM latest_values
		WHERE agent_id = $1 AND meter_id = $2 ORDER BY quantity`, agent, meter)
	if err != nil {
		return nil, fmt.Errorf("cannot read latest values of meter %q: %w", meter, err)
	}
	defer rows.Close()

	var out []Latest
	for rows.Next() {
		l, err := scanLatest(rows)
		if err != nil {
			return nil, fmt.Errorf("cannot read latest values of meter %q: %w", meter, err)
		}
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cannot read latest values of meter %q: %w", meter, err)
	}
	return out, nil
}

func scanLatest(rows *sql.Rows) (Latest, error) {
	var l Latest
	var number sql.NullString
	var at, seq int64
	err := rows.Scan(&l.Quantity, &number, &l.Unit, &l.Quality, &at, &seq)
	if err != nil {
		return Latest{}, err
	}
	l.Time, l.Seq = fromMS(at), uint64(seq)
	if number.Valid {
		n, err := decimal.NewFromString(number.String)
		if err != nil {
			return Latest{}, fmt.Errorf("cannot read number %q: %w", number.String, err)
		}
		l.Number, l.Places = n, max(0, -n.Exponent())
	}
	return l, nil
}

// DayCount is how many readings of a meter the store counted on a day.
type DayCount struct {
	Day      string // local date in Asia/Almaty, YYYY-MM-DD
	Readings int64
}

// DayCounts returns the meter's reading counts per local day, oldest day
// first, for comparison with the time-series database.
func (s *Store) DayCounts(ctx context.Context, agent, meter string) ([]DayCount, error) {
	rows, err := s.db.QueryContext(ctx, `
		SELECT day, readings FROM daily_counts
		WHERE agent_id = $1 AND meter_id = $2 ORDER BY day`, agent, meter)
	if err != nil {
		return nil, fmt.Errorf("cannot read day counts of meter %q: %w", meter, err)
	}
	defer rows.Close()

	var out []DayCount
	for rows.Next() {
		var d DayCount
		if err := rows.Scan(&d.Day, &d.Readings); err != nil {
			return nil, fmt.Errorf("cannot read day counts of meter %q: %w", meter, err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cannot read day counts of meter %q: %w", meter, err)
	}
	return out, nil
}
