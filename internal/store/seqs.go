package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/esep-kz/esep/internal/wire"
)

// GapOutcome says how a gap in an agent's seqs was closed.
type GapOutcome string

// Gap outcomes; an open gap has none ("").
const (
	// GapFilled is a gap whose every seq has since arrived.
	GapFilled GapOutcome = "filled"
	// GapGone is a gap the agent could not resend: it no longer holds
	// the records (see the resend answer in docs/mqtt.md).
	GapGone GapOutcome = "gone"
)

// Gap is a range of an agent's seqs missing between ranges received.
type Gap struct {
	Agent   string
	Range   wire.Range
	Seen    time.Time  // when the store first saw the gap
	Resend  time.Time  // when a resend was last requested; zero if never
	Outcome GapOutcome // "" while open
	Closed  time.Time  // when the outcome was recorded
}

// RecordSeqs adds seqs the agent sent outside readings (its events share
// the sequence) to its received ranges, opening or closing gaps.
func (s *Store) RecordSeqs(ctx context.Context, agent string, seqs []uint64) error {
	if err := checkSeqs(seqs); err != nil {
		return fmt.Errorf("cannot store seqs of agent %q: %w", agent, err)
	}
	now := ms(s.now())
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := lockAgent(ctx, tx, agent, now); err != nil {
			return err
		}
		return recordSeqs(ctx, tx, agent, seqs, now)
	})
	if err != nil {
		return fmt.Errorf("cannot store seqs of agent %q: %w", agent, err)
	}
	return nil
}

// recordSeqs merges seqs into the agent's ranges and brings its gaps up
// to date. The caller holds the agent's row lock (lockAgent).
func recordSeqs(ctx context.Context, tx *sql.Tx, agent string, seqs []uint64, now int64) error {
	for _, r := range toRanges(seqs) {
		if err := mergeRange(ctx, tx, agent, r); err != nil {
			return fmt.Errorf("cannot merge seqs %d-%d: %w", r.From, r.To, err)
		}
	}
	return updateGaps(ctx, tx, agent, now)
}

// toRanges turns seqs into ascending, apart ranges.
func toRanges(seqs []uint64) []wire.Range {
	sorted := slices.Clone(seqs)
	slices.Sort(sorted)
	var out []wire.Range
	for _, q := range sorted {
		if n := len(out); n > 0 && q <= out[n-1].To+1 {
			out[n-1].To = max(out[n-1].To, q)
			continue
		}
		out = append(out, wire.Range{From: q, To: q})
	}
	return out
}

// mergeRange replaces the ranges that overlap or touch r with their union.
func mergeRange(ctx context.Context, tx *sql.Tx, agent string, r wire.Range) error {
	lo, hi := int64(r.From), int64(r.To)
	var first, last sql.NullInt64
	err := tx.QueryRowContext(ctx, `
		SELECT MIN(first_seq), MAX(last_seq) FROM seq_ranges
		WHERE agent_id = $1 AND first_seq <= $2 AND last_seq >= $3`,
		agent, hi+1, lo-1).Scan(&first, &last)
	if err != nil {
		return err
	}
	if first.Valid {
		lo, hi = min(lo, first.Int64), max(hi, last.Int64)
	}

	if _, err := tx.ExecContext(ctx, `
		DELETE FROM seq_ranges WHERE agent_id = $1 AND first_seq <= $2 AND last_seq >= $3`,
		agent, hi+1, lo-1); err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx,
		`INSERT INTO seq_ranges (agent_id, first_seq, last_seq) VALUES ($1, $2, $3)`,
		agent, lo, hi)
	return err
}

// updateGaps records each hole between received ranges that no open or
// gone gap covers as a new gap, and closes as filled each open gap that
// a received range now covers. A hole only ever shrinks, so a hole is
// either inside a known gap or wholly new.
func updateGaps(ctx context.Context, tx *sql.Tx, agent string, now int64) error {
	ranges, err := queryRanges(ctx, tx, agent)
	if err != nil {
		return err
	}
	gaps, err := queryGaps(ctx, tx, `WHERE agent_id = $1 AND outcome IN ('', 'gone')`, agent)
	if err != nil {
		return err
	}

	for _, h := range holes(ranges) {
		if slices.ContainsFunc(gaps, func(g Gap) bool { return covers(g.Range, h) }) {
			continue
		}
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO seq_gaps (agent_id, first_seq, last_seq, seen_ms) VALUES ($1, $2, $3, $4)
			ON CONFLICT (agent_id, first_seq) DO NOTHING`,
			agent, int64(h.From), int64(h.To), now); err != nil {
			return err
		}
	}
	for _, g := range gaps {
		if g.Outcome != "" || !slices.ContainsFunc(ranges, func(r wire.Range) bool {
			return covers(r, g.Range)
		}) {
			continue
		}
		if _, err := tx.ExecContext(ctx, `
			UPDATE seq_gaps SET outcome = 'filled', closed_ms = $3
			WHERE agent_id = $1 AND first_seq = $2`, agent, int64(g.Range.From), now); err != nil {
			return err
		}
	}
	return nil
}

// covers reports whether a holds every seq of b.
func covers(a, b wire.Range) bool {
	return a.From <= b.From && b.To <= a.To
}

// holes returns the seqs missing between ascending, apart ranges.
func holes(ranges []wire.Range) []wire.Range {
	var out []wire.Range
	for i := 1; i < len(ranges); i++ {
		out = append(out, wire.Range{From: ranges[i-1].To + 1, To: ranges[i].From - 1})
	}
	return out
}

// querier is what both *sql.DB and *sql.Tx offer for reading.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// queryRanges returns the agent's received ranges in ascending order.
func queryRanges(ctx context.Context, q querier, agent string) ([]wire.Range, error) {
	rows, err := q.QueryContext(ctx, `SELECT first_seq, last_seq FROM seq_ranges
		WHERE agent_id = $1 ORDER BY first_seq`, agent)
	if err != nil {
		return nil, err
	}
	defer rows.Close()

	var out []wire.Range
	for rows.Next() {
		var first, last int64
		if err := rows.Scan(&first, &last); err != nil {
			return nil, err
		}
		out = append(out, wire.Range{From: uint64(first), To: uint64(last)})
	}
	return out, rows.Err()
}

// queryGaps returns the gaps that where (with its arguments) selects,
// ordered by agent and first seq.
func queryGaps(ctx context.Context, q querier, where string, args ...any) ([]Gap, error) {
	rows, err := q.QueryContext(ctx, `SELECT agent_id, first_seq, last_seq, seen_ms,
		resend_ms, outcome, closed_ms FROM seq_gaps `+where+` ORDER BY agent_id, first_seq`,
		args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()

	var out []Gap
	for rows.Next() {
		var g Gap
		var first, last, seen, resend, closed int64
		if err := rows.Scan(&g.Agent, &first, &last, &seen, &resend, &g.Outcome,
			&closed); err != nil {
			return nil, err
		}
		g.Range = wire.Range{From: uint64(first), To: uint64(last)}
		g.Seen, g.Resend, g.Closed = fromMS(seen), fromMS(resend), fromMS(closed)
		out = append(out, g)
	}
	return out, rows.Err()
}

// Ranges returns the ranges of seqs received from agent, ascending.
func (s *Store) Ranges(ctx context.Context, agent string) ([]wire.Range, error) {
	out, err := queryRanges(ctx, s.db, agent)
	if err != nil {
		return nil, fmt.Errorf("cannot read seq ranges of agent %q: %w", agent, err)
	}
	return out, nil
}

// Gaps returns the open gaps of agent ("" for every agent) first seen at
// or before seenBefore: those that waited long enough for a resend request.
func (s *Store) Gaps(ctx context.Context, agent string, seenBefore time.Time) ([]Gap, error) {
	out, err := queryGaps(ctx, s.db, `WHERE ($1 = '' OR agent_id = $1) AND outcome = ''
		AND seen_ms <= $2`, agent, ms(seenBefore))
	if err != nil {
		return nil, fmt.Errorf("cannot read gaps of agent %q: %w", agent, err)
	}
	return out, nil
}

// AllGaps returns every gap of agent, open or closed, for review and tests.
func (s *Store) AllGaps(ctx context.Context, agent string) ([]Gap, error) {
	out, err := queryGaps(ctx, s.db, `WHERE agent_id = $1`, agent)
	if err != nil {
		return nil, fmt.Errorf("cannot read gaps of agent %q: %w", agent, err)
	}
	return out, nil
}

// MarkResendRequested records that a resend of the open gap starting at
// first was requested now.
func (s *Store) MarkResendRequested(ctx context.Context, agent string, first uint64) error {
	err := s.updateGap(ctx, `UPDATE seq_gaps SET resend_ms = $3
		WHERE agent_id = $1 AND first_seq = $2 AND outcome = ''`, agent, first)
	if err != nil {
		return fmt.Errorf("cannot mark resend of gap %d of agent %q: %w", first, agent, err)
	}
	return nil
}

// MarkGapOutcome closes the open gap starting at first with outcome, as
// of now. Closing a closed gap changes nothing.
func (s *Store) MarkGapOutcome(ctx context.Context, agent string, first uint64,
	outcome GapOutcome) error {
	if outcome != GapFilled && outcome != GapGone {
		return fmt.Errorf("cannot close gap %d of agent %q: outcome %q is not filled or gone",
			first, agent, outcome)
	}
	err := s.updateGap(ctx, `UPDATE seq_gaps SET closed_ms = $3, outcome = $4
		WHERE agent_id = $1 AND first_seq = $2 AND outcome = ''`, agent, first, string(outcome))
	if err != nil {
		return fmt.Errorf("cannot close gap %d of agent %q: %w", first, agent, err)
	}
	return nil
}

// updateGap runs update with agent, first, now and extra as $1, $2, $3
// and on, and returns ErrNotFound when no gap starts at first.
func (s *Store) updateGap(ctx context.Context, update, agent string, first uint64,
	extra ...any) error {
	if first == 0 || first > 1<<63-1 {
		return ErrNotFound
	}
	args := append([]any{agent, int64(first), ms(s.now())}, extra...)
	res, err := s.db.ExecContext(ctx, update, args...)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n > 0 {
		return err
	}

	var one int
	err = s.db.QueryRowContext(ctx, `SELECT 1 FROM seq_gaps
		WHERE agent_id = $1 AND first_seq = $2`, agent, int64(first)).Scan(&one)
	if err == sql.ErrNoRows {
		return ErrNotFound
	}
	return err
}
