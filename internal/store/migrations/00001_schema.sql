-- The ingestor's state, one schema for PostgreSQL and SQLite.
--
-- Portable on purpose (docs/store.md explains each choice):
--   * times are BIGINT milliseconds since the Unix epoch, UTC: the wire's
--     precision, compared and indexed alike in both dialects;
--   * measured numbers are TEXT holding the wire's plain decimal, since
--     SQLite's NUMERIC affinity would turn "230.10" into a binary float;
--   * local days are TEXT 'YYYY-MM-DD' in Asia/Almaty;
--   * BOOLEAN and BYTEA are native in PostgreSQL; SQLite stores them with
--     NUMERIC affinity, which keeps 0/1 and blobs as they are.

-- +goose Up

CREATE TABLE buildings (
    code    TEXT PRIMARY KEY,           -- the building's address-registry code
    address TEXT NOT NULL DEFAULT ''    -- for people; never sent to the field
);

CREATE TABLE agents (
    id            TEXT PRIMARY KEY,
    building_code TEXT REFERENCES buildings (code),
    approved      BOOLEAN NOT NULL DEFAULT FALSE,
    state         TEXT NOT NULL DEFAULT '' CHECK (state IN ('', 'online', 'offline')),
    state_ms      BIGINT NOT NULL DEFAULT 0,  -- when the centre received the state
    version       TEXT NOT NULL DEFAULT '',
    started_ms    BIGINT NOT NULL DEFAULT 0,
    inventory_ms  BIGINT NOT NULL DEFAULT 0,  -- time of the inventory last applied
    seen_ms       BIGINT NOT NULL DEFAULT 0   -- last batch of readings or seqs
);

CREATE TABLE meters (
    agent_id     TEXT NOT NULL REFERENCES agents (id),
    meter_id     TEXT NOT NULL,             -- the metering point's ID at the agent
    profile      TEXT NOT NULL DEFAULT '',
    maker        TEXT NOT NULL DEFAULT '',
    model        TEXT NOT NULL DEFAULT '',
    kind         TEXT CHECK (kind IN ('electricity', 'heat', 'water', 'gas')),
    placement    TEXT CHECK (placement IN ('building', 'apartment')),
    apartment    TEXT CHECK (apartment IS NULL OR placement = 'apartment'),
    serial       TEXT NOT NULL DEFAULT '',
    firmware     TEXT NOT NULL DEFAULT '',
    bus          TEXT NOT NULL DEFAULT '',
    slave        INTEGER NOT NULL DEFAULT 0,
    interval_s   INTEGER NOT NULL DEFAULT 0,
    in_inventory BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (agent_id, meter_id)
);

CREATE TABLE bindings (
    agent_id   TEXT NOT NULL,
    meter_id   TEXT NOT NULL,
    state      TEXT NOT NULL CHECK (state IN ('pending', 'approved')),
    source     TEXT NOT NULL CHECK (source IN ('inventory', 'central')),
    created_ms BIGINT NOT NULL,
    decided_ms BIGINT NOT NULL DEFAULT 0,
    decided_by TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (agent_id, meter_id),
    FOREIGN KEY (agent_id, meter_id) REFERENCES meters (agent_id, meter_id)
);

CREATE INDEX bindings_state ON bindings (state, agent_id);

-- Personal data: kept apart so that access is granted per table, and
-- nothing that reads meters or readings can join it by accident.
CREATE TABLE personal_accounts (
    account TEXT PRIMARY KEY,           -- the provider's personal account number
    holder  TEXT NOT NULL DEFAULT ''
);

CREATE TABLE account_meters (
    account  TEXT NOT NULL REFERENCES personal_accounts (account),
    agent_id TEXT NOT NULL,
    meter_id TEXT NOT NULL,
    since_ms BIGINT NOT NULL,
    PRIMARY KEY (account, agent_id, meter_id),
    FOREIGN KEY (agent_id, meter_id) REFERENCES meters (agent_id, meter_id)
);

CREATE TABLE latest_values (
    agent_id TEXT NOT NULL,
    meter_id TEXT NOT NULL,
    quantity TEXT NOT NULL,
    number   TEXT,                      -- NULL for error and out_of_range
    unit     TEXT NOT NULL,
    quality  TEXT NOT NULL,
    time_ms  BIGINT NOT NULL,
    seq      BIGINT NOT NULL,
    PRIMARY KEY (agent_id, meter_id, quantity),
    FOREIGN KEY (agent_id, meter_id) REFERENCES meters (agent_id, meter_id)
);

-- One row per reading ever counted: the identity that keeps a redelivered
-- reading from counting twice.
CREATE TABLE readings_seen (
    agent_id TEXT NOT NULL,
    meter_id TEXT NOT NULL,
    time_ms  BIGINT NOT NULL,
    PRIMARY KEY (agent_id, meter_id, time_ms)
);

CREATE TABLE daily_counts (
    agent_id TEXT NOT NULL,
    meter_id TEXT NOT NULL,
    day      TEXT NOT NULL,             -- local date in Asia/Almaty, YYYY-MM-DD
    readings BIGINT NOT NULL,
    PRIMARY KEY (agent_id, meter_id, day),
    FOREIGN KEY (agent_id, meter_id) REFERENCES meters (agent_id, meter_id)
);

CREATE TABLE quarantine (
    digest      TEXT PRIMARY KEY,       -- sha256 of topic and payload, hex
    agent_id    TEXT NOT NULL,          -- as the topic said; maybe unknown
    topic       TEXT NOT NULL,
    reason      TEXT NOT NULL,
    payload     BYTEA NOT NULL,
    received_ms BIGINT NOT NULL,        -- first receipt
    deliveries  BIGINT NOT NULL DEFAULT 1
);

CREATE INDEX quarantine_received ON quarantine (received_ms);

CREATE TABLE seq_ranges (
    agent_id  TEXT NOT NULL REFERENCES agents (id),
    first_seq BIGINT NOT NULL,
    last_seq  BIGINT NOT NULL CHECK (last_seq >= first_seq),
    PRIMARY KEY (agent_id, first_seq)
);

CREATE TABLE seq_gaps (
    agent_id     TEXT NOT NULL REFERENCES agents (id),
    first_seq    BIGINT NOT NULL,
    last_seq     BIGINT NOT NULL CHECK (last_seq >= first_seq),
    seen_ms      BIGINT NOT NULL,
    resend_ms    BIGINT NOT NULL DEFAULT 0,  -- last resend request; 0 none yet
    outcome      TEXT NOT NULL DEFAULT '' CHECK (outcome IN ('', 'filled', 'gone')),
    closed_ms    BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (agent_id, first_seq)
);

CREATE INDEX seq_gaps_open ON seq_gaps (outcome, seen_ms);

-- +goose Down

DROP TABLE seq_gaps;
DROP TABLE seq_ranges;
DROP TABLE quarantine;
DROP TABLE daily_counts;
DROP TABLE readings_seen;
DROP TABLE latest_values;
DROP TABLE account_meters;
DROP TABLE personal_accounts;
DROP TABLE bindings;
DROP TABLE meters;
DROP TABLE agents;
DROP TABLE buildings;
