-- dialogsync store, PostgreSQL: the same tables and columns as SQLite's migrations 0001–0008
-- (see migrations/sqlite for what each is for), so both backends answer the same SQL. Integers
-- are BIGINT throughout (Rust's i64); instants of dialogs are microseconds since the epoch,
-- bookkeeping times RFC 3339 text; documents are kept as the exact text the projector wrote.

CREATE TABLE raw_records (
    source         TEXT    NOT NULL,
    source_id      TEXT    NOT NULL,
    content_hash   TEXT    NOT NULL,
    source_version BIGINT  NOT NULL,
    content_type   TEXT    NOT NULL,
    payload        BYTEA   NOT NULL,
    origin         TEXT    NOT NULL,
    outcome        TEXT    NOT NULL CHECK (outcome IN ('migrated', 'unchanged', 'skipped', 'waiting', 'dead')),
    reason         TEXT,
    waiting_party  TEXT,
    dialog_id      TEXT,
    first_seen     TEXT    NOT NULL,
    last_seen      TEXT    NOT NULL,
    created_day    TEXT,
    PRIMARY KEY (source, source_id, content_hash)
);
CREATE INDEX raw_records_waiting ON raw_records (waiting_party) WHERE outcome = 'waiting';
CREATE INDEX raw_records_day ON raw_records (source, created_day);

CREATE TABLE dialogs (
    id               TEXT    PRIMARY KEY,
    source           TEXT    NOT NULL,
    source_id        TEXT    NOT NULL,
    source_version   BIGINT  NOT NULL,
    content_hash     TEXT    NOT NULL,
    party            TEXT    NOT NULL,
    service_resource TEXT    NOT NULL,
    status           TEXT    NOT NULL,
    system_label     TEXT    NOT NULL,
    created_at       BIGINT  NOT NULL,
    updated_at       BIGINT  NOT NULL,
    transformer_hash TEXT    NOT NULL,
    projector_hash   TEXT    NOT NULL,
    document         TEXT    NOT NULL,
    revision         TEXT,
    deleted_at       TEXT,
    owner_org        TEXT,
    idempotent_key   TEXT,
    UNIQUE (source, source_id)
);
CREATE INDEX dialogs_party ON dialogs (party, updated_at DESC, id);
CREATE INDEX dialogs_service_resource ON dialogs (service_resource, updated_at DESC);
CREATE INDEX dialogs_updated ON dialogs (updated_at DESC, id);
CREATE UNIQUE INDEX dialogs_idempotent ON dialogs (owner_org, idempotent_key) WHERE idempotent_key IS NOT NULL;

CREATE TABLE change_events (
    seq              BIGINT  PRIMARY KEY,
    dialog_id        TEXT    NOT NULL,
    kind             TEXT    NOT NULL CHECK (kind IN ('created', 'updated', 'deleted', 'restored', 'activity')),
    source           TEXT    NOT NULL,
    at               TEXT    NOT NULL,
    party            TEXT,
    service_resource TEXT,
    detail           TEXT
);
CREATE INDEX change_events_party ON change_events (party, seq);
CREATE INDEX change_events_resource ON change_events (service_resource, seq);

CREATE TABLE counters (
    name  TEXT   PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO counters (name, value) VALUES ('events', 0);

CREATE TABLE checkpoints (
    source     TEXT NOT NULL,
    name       TEXT NOT NULL,
    value      TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (source, name)
);

CREATE TABLE dead_letters (
    id         BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source     TEXT    NOT NULL,
    record_key TEXT    NOT NULL,
    source_id  TEXT,
    origin     TEXT    NOT NULL,
    phase      TEXT    NOT NULL,
    component  TEXT,
    error      TEXT    NOT NULL,
    payload    BYTEA,
    attempts   BIGINT  NOT NULL DEFAULT 1,
    first_seen TEXT    NOT NULL,
    last_seen  TEXT    NOT NULL,
    UNIQUE (source, record_key)
);

CREATE TABLE changelog (
    id      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at      TEXT NOT NULL,
    source  TEXT,
    kind    TEXT NOT NULL,
    message TEXT NOT NULL,
    data    TEXT
);

CREATE TABLE parties (
    party_id    TEXT PRIMARY KEY,
    urn         TEXT NOT NULL,
    imported_at TEXT NOT NULL
);

CREATE TABLE tombstones (
    source         TEXT   NOT NULL,
    source_id      TEXT   NOT NULL,
    source_version BIGINT NOT NULL,
    at             TEXT   NOT NULL,
    PRIMARY KEY (source, source_id)
);

CREATE TABLE source_state (
    source           TEXT    PRIMARY KEY,
    state            TEXT    NOT NULL DEFAULT 'running' CHECK (state IN ('running', 'paused', 'auto-paused')),
    reason           TEXT,
    state_since      TEXT    NOT NULL,
    failures         BIGINT  NOT NULL DEFAULT 0,
    last_error       TEXT,
    live_since       BIGINT,
    last_tick_at     TEXT,
    last_tick_ok_at  TEXT,
    last_tick_ms     BIGINT
);

CREATE TABLE windows (
    source       TEXT    NOT NULL,
    first_day    TEXT    NOT NULL,
    last_day     TEXT    NOT NULL,
    state        TEXT    NOT NULL CHECK (state IN ('running', 'done')),
    next_url     TEXT,
    pages        BIGINT  NOT NULL DEFAULT 0,
    fetched      BIGINT  NOT NULL DEFAULT 0,
    migrated     BIGINT  NOT NULL DEFAULT 0,
    unchanged    BIGINT  NOT NULL DEFAULT 0,
    skipped      BIGINT  NOT NULL DEFAULT 0,
    waiting      BIGINT  NOT NULL DEFAULT 0,
    dead         BIGINT  NOT NULL DEFAULT 0,
    started_at   TEXT    NOT NULL,
    completed_at TEXT,
    PRIMARY KEY (source, first_day)
);

CREATE TABLE reconciliation (
    source       TEXT    NOT NULL,
    day          TEXT    NOT NULL,
    at_source    BIGINT  NOT NULL,
    staged       BIGINT  NOT NULL,
    dialogs      BIGINT  NOT NULL,
    missing_ids  TEXT    NOT NULL,
    checked_at   TEXT    NOT NULL,
    PRIMARY KEY (source, day)
);

CREATE TABLE grants (
    person     TEXT NOT NULL,
    party      TEXT NOT NULL,
    granted_at TEXT NOT NULL,
    PRIMARY KEY (person, party)
);
CREATE INDEX grants_party ON grants (party);

CREATE TABLE search_snapshots (
    token      TEXT    NOT NULL,
    position   BIGINT  NOT NULL,
    dialog_id  TEXT    NOT NULL,
    created_at TEXT    NOT NULL,
    PRIMARY KEY (token, position)
);
