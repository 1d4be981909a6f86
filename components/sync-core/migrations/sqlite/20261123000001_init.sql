-- dialogsync store, SQLite. Instants of dialogs are microseconds since the epoch (UTC), so they
-- sort; bookkeeping times are RFC 3339 text.

-- Every distinct version of every fetched record, as fetched. A record whose (source, id,
-- content hash) is here with a final outcome is unchanged: a no-op.
CREATE TABLE raw_records (
    source         TEXT    NOT NULL,
    source_id      TEXT    NOT NULL,
    content_hash   TEXT    NOT NULL,
    source_version INTEGER NOT NULL,
    content_type   TEXT    NOT NULL,
    payload        BLOB    NOT NULL,
    origin         TEXT    NOT NULL,
    outcome        TEXT    NOT NULL CHECK (outcome IN ('migrated', 'unchanged', 'skipped', 'waiting', 'dead')),
    reason         TEXT,
    waiting_party  TEXT,
    dialog_id      TEXT,
    first_seen     TEXT    NOT NULL,
    last_seen      TEXT    NOT NULL,
    PRIMARY KEY (source, source_id, content_hash)
);
CREATE INDEX raw_records_waiting ON raw_records (waiting_party) WHERE outcome = 'waiting';

-- One row per dialog: the whole document plus the columns searches use.
CREATE TABLE dialogs (
    id               TEXT    PRIMARY KEY,
    source           TEXT    NOT NULL,
    source_id        TEXT    NOT NULL,
    source_version   INTEGER NOT NULL,
    content_hash     TEXT    NOT NULL,
    party            TEXT    NOT NULL,
    service_resource TEXT    NOT NULL,
    status           TEXT    NOT NULL,
    system_label     TEXT    NOT NULL,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    transformer_hash TEXT    NOT NULL,
    projector_hash   TEXT    NOT NULL,
    document         TEXT    NOT NULL,
    UNIQUE (source, source_id)
);
CREATE INDEX dialogs_party ON dialogs (party, updated_at DESC, id);
CREATE INDEX dialogs_service_resource ON dialogs (service_resource, updated_at DESC);
CREATE INDEX dialogs_updated ON dialogs (updated_at DESC, id);

-- Every change to a dialog, in commit order.
CREATE TABLE change_events (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    dialog_id TEXT    NOT NULL,
    kind      TEXT    NOT NULL CHECK (kind IN ('created', 'updated', 'deleted')),
    source    TEXT    NOT NULL,
    at        TEXT    NOT NULL
);

-- Where each source's work stands, committed with the work it describes.
CREATE TABLE checkpoints (
    source     TEXT NOT NULL,
    name       TEXT NOT NULL,
    value      TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (source, name)
);

-- Records that failed, with the phase, the component and the error; kept until they succeed.
CREATE TABLE dead_letters (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    source     TEXT    NOT NULL,
    record_key TEXT    NOT NULL,
    source_id  TEXT,
    origin     TEXT    NOT NULL,
    phase      TEXT    NOT NULL,
    component  TEXT,
    error      TEXT    NOT NULL,
    payload    BLOB,
    attempts   INTEGER NOT NULL DEFAULT 1,
    first_seen TEXT    NOT NULL,
    last_seen  TEXT    NOT NULL,
    UNIQUE (source, record_key)
);

-- What happened, dated, for the status page.
CREATE TABLE changelog (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at      TEXT NOT NULL,
    source  TEXT,
    kind    TEXT NOT NULL,
    message TEXT NOT NULL
);

-- Party register: legacy party id → Dialogporten party URN.
CREATE TABLE parties (
    party_id    TEXT PRIMARY KEY,
    urn         TEXT NOT NULL,
    imported_at TEXT NOT NULL
);
