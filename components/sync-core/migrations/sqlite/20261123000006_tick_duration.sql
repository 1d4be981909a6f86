-- How long the last live tick took, for /metrics.
ALTER TABLE source_state ADD COLUMN last_tick_ms INTEGER;
