-- What the Dialogporten sink did (/metrics), added up over every sender on this store: per
-- `outcome:created|updated|deleted|purged|retried|dead|scheduled` the dialogs, per
-- `status:201|204|…|transport` the HTTP requests and the seconds they took.
CREATE TABLE sink_counts (
  name TEXT PRIMARY KEY,
  count BIGINT NOT NULL DEFAULT 0,
  seconds DOUBLE PRECISION NOT NULL DEFAULT 0
);
