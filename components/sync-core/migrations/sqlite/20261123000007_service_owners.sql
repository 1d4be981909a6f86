-- The service-owner API ("dialog services"): revisions for If-Match, soft deletion, the owning
-- organisation and its idempotent keys; restored and activity events.

-- The revision a service owner must name in If-Match (NULL for migrated dialogs, whose
-- revision is derived from their document).
ALTER TABLE dialogs ADD COLUMN revision TEXT;
-- Soft-deleted (RFC 3339): kept for its service owner, hidden from end users' searches.
ALTER TABLE dialogs ADD COLUMN deleted_at TEXT;
-- The organisation number that created the dialog through the API, and its idempotent key.
ALTER TABLE dialogs ADD COLUMN owner_org TEXT;
ALTER TABLE dialogs ADD COLUMN idempotent_key TEXT;
CREATE UNIQUE INDEX dialogs_idempotent ON dialogs (owner_org, idempotent_key) WHERE idempotent_key IS NOT NULL;

-- SQLite cannot widen a CHECK in place: the change events move to a table that allows the new
-- kinds and carries each event's details (an activity's id and type).
CREATE TABLE change_events_v2 (
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,
    dialog_id        TEXT    NOT NULL,
    kind             TEXT    NOT NULL CHECK (kind IN ('created', 'updated', 'deleted', 'restored', 'activity')),
    source           TEXT    NOT NULL,
    at               TEXT    NOT NULL,
    party            TEXT,
    service_resource TEXT,
    detail           TEXT
);
INSERT INTO change_events_v2 (seq, dialog_id, kind, source, at, party, service_resource)
    SELECT seq, dialog_id, kind, source, at, party, service_resource FROM change_events;
DROP TABLE change_events;
ALTER TABLE change_events_v2 RENAME TO change_events;
CREATE INDEX change_events_party ON change_events (party, seq);
CREATE INDEX change_events_resource ON change_events (service_resource, seq);
