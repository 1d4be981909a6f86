-- The sync engine: each record's day, source states, historic windows, reconciliation.

-- The UTC day the record was created at its source (its historic window; reconciliation).
ALTER TABLE raw_records ADD COLUMN created_day TEXT;
CREATE INDEX raw_records_day ON raw_records (source, created_day);

-- One row per source `dialogsync run` has seen: its live state and its last tick.
CREATE TABLE source_state (
    source           TEXT    PRIMARY KEY,
    state            TEXT    NOT NULL DEFAULT 'running' CHECK (state IN ('running', 'paused', 'auto-paused')),
    reason           TEXT,
    state_since      TEXT    NOT NULL,
    failures         INTEGER NOT NULL DEFAULT 0,
    last_error       TEXT,
    -- When live sync began: historic windows go back from this day.
    live_since       INTEGER,
    last_tick_at     TEXT,
    last_tick_ok_at  TEXT
);

-- Historic windows, newest first. A window is done when its last page is committed; each page
-- commits its counts and the continuation URL of the next page with its dialogs.
CREATE TABLE windows (
    source       TEXT    NOT NULL,
    first_day    TEXT    NOT NULL,
    last_day     TEXT    NOT NULL,
    state        TEXT    NOT NULL CHECK (state IN ('running', 'done')),
    next_url     TEXT,
    pages        INTEGER NOT NULL DEFAULT 0,
    fetched      INTEGER NOT NULL DEFAULT 0,
    migrated     INTEGER NOT NULL DEFAULT 0,
    unchanged    INTEGER NOT NULL DEFAULT 0,
    skipped      INTEGER NOT NULL DEFAULT 0,
    waiting      INTEGER NOT NULL DEFAULT 0,
    dead         INTEGER NOT NULL DEFAULT 0,
    started_at   TEXT    NOT NULL,
    completed_at TEXT,
    PRIMARY KEY (source, first_day)
);

-- The last reconciliation of each source day: the source's own count against what was staged
-- and what became dialogs, and the ids still missing.
CREATE TABLE reconciliation (
    source       TEXT    NOT NULL,
    day          TEXT    NOT NULL,
    at_source    INTEGER NOT NULL,
    staged       INTEGER NOT NULL,
    dialogs      INTEGER NOT NULL,
    missing_ids  TEXT    NOT NULL,
    checked_at   TEXT    NOT NULL,
    PRIMARY KEY (source, day)
);

-- Structured details of a changelog entry (e.g. a watermark move: from, to).
ALTER TABLE changelog ADD COLUMN data TEXT;
