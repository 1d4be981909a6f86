-- Several hosts, one store: who runs, and who holds which piece of work.

-- Each `dialogsync run` process: registered at start, seen at each lease it takes or renews,
-- stopped on a clean exit.
CREATE TABLE hosts (
    id         TEXT PRIMARY KEY,
    started_at TEXT NOT NULL,
    seen_at    TEXT NOT NULL,
    stopped_at TEXT
);

-- A host's claim on a source's live tick (`live`) or on one historic window (`window:DAY`),
-- until `expires_at` (microseconds, the database's clock) unless renewed. Every page a holder
-- commits renews its lease in the same transaction, and fails if the lease passed to another
-- host: so a window's pages are committed by one host at a time, exactly once.
CREATE TABLE leases (
    source     TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    holder     TEXT    NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (source, name)
);
