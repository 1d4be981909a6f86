-- Each search first deletes the snapshots older than an hour: by this index, not by a scan of
-- every snapshot row (a service owner's search snapshots up to 100,000 of them).
CREATE INDEX search_snapshots_created ON search_snapshots (created_at);
