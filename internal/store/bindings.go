package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// BindingState says whether an agent may report a meter yet.
type BindingState string

// Binding states.
const (
	// Pending is a meter the agent's inventory listed and no operator
	// has approved: its readings are refused.
	Pending BindingState = "pending"
	// Approved is a meter the agent may report.
	Approved BindingState = "approved"
)

// BindingSource says where a binding came from.
type BindingSource string

// Binding sources.
const (
	// FromInventory is a binding made pending by the agent's inventory.
	FromInventory BindingSource = "inventory"
	// FromCentral is a binding taken from the central list, approved at once.
	FromCentral BindingSource = "central"
)

// Binding is an agent's claim to report a meter, and the decision on it.
type Binding struct {
	Agent, Meter string
	State        BindingState
	Source       BindingSource
	Created      time.Time // when the claim was first seen
	Decided      time.Time // when it was approved; zero while pending
	DecidedBy    string    // the operator, or "central list"
}

// ApproveBinding lets agent report meter from now on, recording who
// decided. Approving an approved binding changes nothing; a binding the
// store does not hold is ErrNotFound.
func (s *Store) ApproveBinding(ctx context.Context, agent, meter, operator string) error {
	res, err := s.db.ExecContext(ctx, `
		UPDATE bindings SET state = 'approved', decided_ms = $3, decided_by = $4
		WHERE agent_id = $1 AND meter_id = $2 AND state = 'pending'`,
		agent, meter, ms(s.now()), operator)
	if err == nil {
		err = mustExist(ctx, s.db, agent, meter, res)
	}
	if err != nil {
		return fmt.Errorf("cannot approve binding of meter %q to agent %q: %w", meter, agent, err)
	}
	return nil
}

// mustExist returns ErrNotFound when an update touched no binding and no
// binding of agent and meter exists.
func mustExist(ctx context.Context, db *sql.DB, agent, meter string, res sql.Result) error {
	if n, err := res.RowsAffected(); err != nil || n > 0 {
		return err
	}
	var one int
	err := db.QueryRowContext(ctx,
		`SELECT 1 FROM bindings WHERE agent_id = $1 AND meter_id = $2`, agent, meter).Scan(&one)
	if err == sql.ErrNoRows {
		return ErrNotFound
	}
	return err
}

// BindCentral binds meter to agent from the central list: approved at
// once, creating the agent and meter when no inventory has named them.
func (s *Store) BindCentral(ctx context.Context, agent, meter string) error {
	now := ms(s.now())
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO agents (id) VALUES ($1) ON CONFLICT (id) DO NOTHING`, agent); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO meters (agent_id, meter_id) VALUES ($1, $2)
			ON CONFLICT (agent_id, meter_id) DO NOTHING`, agent, meter); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `
			INSERT INTO bindings (agent_id, meter_id, state, source, created_ms,
				decided_ms, decided_by)
			VALUES ($1, $2, 'approved', 'central', $3, $3, 'central list')
			ON CONFLICT (agent_id, meter_id) DO UPDATE SET state = 'approved',
				source = 'central', decided_ms = $3, decided_by = 'central list'
			WHERE bindings.state = 'pending'`, agent, meter, now)
		return err
	})
	if err != nil {
		return fmt.Errorf("cannot bind meter %q to agent %q: %w", meter, agent, err)
	}
	return nil
}

// Bindings lists the bindings of agent ("" for every agent) in the given
// state ("" for any), ordered by agent and meter.
func (s *Store) Bindings(ctx context.Context, agent string, state BindingState) ([]Binding, error) {
	rows, err := s.db.QueryContext(ctx, `
		SELECT agent_id, meter_id, state, source, created_ms, decided_ms, decided_by
		FROM bindings WHERE ($1 = '' OR agent_id = $1) AND ($2 = '' OR state = $2)
		ORDER BY agent_id, meter_id`, agent, string(state))
	if err != nil {
		return nil, fmt.Errorf("cannot list bindings of agent %q: %w", agent, err)
	}
	defer rows.Close()

	var out []Binding
	for rows.Next() {
		var b Binding
		var created, decided int64
		if err := rows.Scan(&b.Agent, &b.Meter, &b.State, &b.Source, &created, &decided,
			&b.DecidedBy); err != nil {
			return nil, fmt.Errorf("cannot list bindings of agent %q: %w", agent, err)
		}
		b.Created, b.Decided = fromMS(created), fromMS(decided)
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cannot list bindings of agent %q: %w", agent, err)
	}
	return out, nil
}

// Authorized reports whether agent may report meter: an approved binding.
func (s *Store) Authorized(ctx context.Context, agent, meter string) (bool, error) {
	var ok bool
	err := s.db.QueryRowContext(ctx, `
		SELECT EXISTS (SELECT 1 FROM bindings
			WHERE agent_id = $1 AND meter_id = $2 AND state = 'approved')`,
		agent, meter).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("cannot check meter %q of agent %q: %w", meter, agent, err)
	}
	return ok, nil
}
