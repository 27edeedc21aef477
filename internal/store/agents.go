package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/esep-kz/esep/internal/wire"
)

// UpsertInventory applies an agent's inventory: the agent and its meters
// are created or updated, a meter new to the agent becomes a pending
// binding for an operator to approve, and a meter the inventory no longer
// lists is kept, marked as not in the inventory. An inventory older than
// the one already applied (a retained message read late by a replica) is
// ignored, so the newest always wins.
func (s *Store) UpsertInventory(ctx context.Context, inv wire.Inventory) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		newer, err := claimInventory(ctx, tx, inv.Agent, ms(inv.Time))
		if err != nil || !newer {
			return err
		}
		if _, err := tx.ExecContext(ctx,
			`UPDATE meters SET in_inventory = FALSE WHERE agent_id = $1`, inv.Agent); err != nil {
			return err
		}

		kinds := make(map[string]wire.ModelInfo, len(inv.Models))
		for _, m := range inv.Models {
			kinds[m.Profile] = m
		}
		created := ms(s.now())
		for _, m := range inv.Meters {
			if err := upsertMeter(ctx, tx, inv.Agent, m, kinds[m.Profile], created); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("cannot store inventory of agent %q: %w", inv.Agent, err)
	}
	return nil
}

// claimInventory creates the agent or moves its inventory time to at, and
// reports whether at was newer than (or as new as) the one applied. The
// update also locks the agent's row until the transaction ends.
func claimInventory(ctx context.Context, tx *sql.Tx, agent string, at int64) (bool, error) {
	res, err := tx.ExecContext(ctx, `
		INSERT INTO agents (id, inventory_ms) VALUES ($1, $2)
		ON CONFLICT (id) DO UPDATE SET inventory_ms = excluded.inventory_ms
		WHERE agents.inventory_ms <= excluded.inventory_ms`, agent, at)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// upsertMeter writes one meter of an inventory and, when the pair is new,
// its pending binding. The operator's placement and apartment are kept.
func upsertMeter(ctx context.Context, tx *sql.Tx, agent string, m wire.MeterInfo,
	model wire.ModelInfo, created int64) error {
	_, err := tx.ExecContext(ctx, `
		INSERT INTO meters (agent_id, meter_id, profile, maker, model, kind, serial,
			firmware, bus, slave, interval_s, in_inventory)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, TRUE)
		ON CONFLICT (agent_id, meter_id) DO UPDATE SET
			profile = excluded.profile, maker = excluded.maker, model = excluded.model,
			kind = excluded.kind, serial = excluded.serial, firmware = excluded.firmware,
			bus = excluded.bus, slave = excluded.slave, interval_s = excluded.interval_s,
			in_inventory = TRUE`,
		agent, m.ID, m.Profile, model.Maker, modelName(m, model), nullable(model.Kind),
		m.Serial, m.Firmware, m.Bus, m.Slave, int64(m.Interval/time.Second))
	if err != nil {
		return fmt.Errorf("cannot store meter %q: %w", m.ID, err)
	}

	_, err = tx.ExecContext(ctx, `
		INSERT INTO bindings (agent_id, meter_id, state, source, created_ms)
		VALUES ($1, $2, 'pending', 'inventory', $3)
		ON CONFLICT (agent_id, meter_id) DO NOTHING`, agent, m.ID, created)
	if err != nil {
		return fmt.Errorf("cannot store binding of meter %q: %w", m.ID, err)
	}
	return nil
}

// modelName is the model the meter reported of itself, else its profile's.
func modelName(m wire.MeterInfo, model wire.ModelInfo) string {
	if m.Model != "" {
		return m.Model
	}
	return model.Model
}

// nullable maps "" to SQL NULL, for columns where NULL means unknown.
func nullable(v string) any {
	if v == "" {
		return nil
	}
	return v
}

// AgentStatus is what the store knows of an agent's connection.
type AgentStatus struct {
	State    string    // wire.StateOnline, wire.StateOffline, or "" before any status
	Received time.Time // when the centre received that state
	Version  string    // the agent's build, from its last online status
	Started  time.Time // when its process started
}

// SetAgentStatus records a status message received at the given time. A
// status received before the one recorded is ignored, so replicas that
// read the retained message at different times agree on the newest.
func (s *Store) SetAgentStatus(ctx context.Context, st wire.Status, received time.Time) error {
	_, err := s.db.ExecContext(ctx, `
		INSERT INTO agents (id, state, state_ms, version, started_ms)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (id) DO UPDATE SET state = excluded.state, state_ms = excluded.state_ms,
			version = CASE WHEN excluded.version = '' THEN agents.version
				ELSE excluded.version END,
			started_ms = CASE WHEN excluded.started_ms = 0 THEN agents.started_ms
				ELSE excluded.started_ms END
		WHERE agents.state_ms <= excluded.state_ms`,
		st.Agent, st.State, ms(received), st.Version, zeroMS(st.Started))
	if err != nil {
		return fmt.Errorf("cannot store status of agent %q: %w", st.Agent, err)
	}
	return nil
}

// AgentStatus returns the last status recorded for agent.
func (s *Store) AgentStatus(ctx context.Context, agent string) (AgentStatus, error) {
	var st AgentStatus
	var received, started int64
	err := s.db.QueryRowContext(ctx,
		`SELECT state, state_ms, version, started_ms FROM agents WHERE id = $1`, agent).
		Scan(&st.State, &received, &st.Version, &started)
	if err == sql.ErrNoRows {
		err = ErrNotFound
	}
	if err != nil {
		return AgentStatus{}, fmt.Errorf("cannot read status of agent %q: %w", agent, err)
	}
	st.Received, st.Started = fromMS(received), fromMS(started)
	return st, nil
}

// zeroMS is ms(t), with the zero time as 0.
func zeroMS(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return ms(t)
}
