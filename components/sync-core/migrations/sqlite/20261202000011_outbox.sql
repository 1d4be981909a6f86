-- The Dialogporten sink (docs/dialogporten.md). A dialog change the pipeline commits queues its
-- dialog here in the same transaction; the sender sends the dialog's state at send time, so
-- versions not yet sent coalesce into the newest, and removes the row only if no change came
-- in meanwhile (`seq` unchanged).
CREATE TABLE outbox (
  dialog_id TEXT PRIMARY KEY,
  source TEXT NOT NULL,
  -- Bumped by every change queued for the dialog.
  seq BIGINT NOT NULL,
  -- 1: sent with isSilentUpdate=true (a historic migration); a pending live change makes it loud.
  silent BIGINT NOT NULL,
  queued_at TEXT NOT NULL,
  attempts BIGINT NOT NULL DEFAULT 0,
  -- Not before this instant (microseconds since the epoch): backoff, Retry-After.
  not_before BIGINT NOT NULL DEFAULT 0,
  last_error TEXT
);
CREATE INDEX outbox_due ON outbox (not_before, queued_at);

-- What Dialogporten holds of each dialog sent there.
CREATE TABLE sink_dialogs (
  dialog_id TEXT PRIMARY KEY,
  source TEXT NOT NULL,
  -- The revision Dialogporten last answered (ETag): the next write's If-Match.
  revision TEXT,
  -- 1: soft-deleted there.
  deleted BIGINT NOT NULL DEFAULT 0,
  -- Ids of the activities and transmissions it has (JSON arrays): immutable there, so an update
  -- sends only the others.
  activities TEXT NOT NULL DEFAULT '[]',
  transmissions TEXT NOT NULL DEFAULT '[]',
  -- The dialog's content hash as last sent.
  content_hash TEXT,
  sent_at TEXT NOT NULL
);
CREATE INDEX sink_dialogs_source ON sink_dialogs (source);
