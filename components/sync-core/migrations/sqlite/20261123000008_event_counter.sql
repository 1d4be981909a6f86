-- Change events take their sequence numbers from this counter, at the end of the transaction
-- that writes them (PostgreSQL's schema has the same table): events become visible in
-- sequence order, whichever backend.
CREATE TABLE counters (
    name  TEXT    PRIMARY KEY,
    value INTEGER NOT NULL
);
INSERT INTO counters (name, value) SELECT 'events', COALESCE(MAX(seq), 0) FROM change_events;
