-- Each page looks its records up in raw_records by (source, source_id): the primary key. While
-- a source's first records go in, PostgreSQL's statistics still say the source has none, and it
-- took raw_records_day (the smaller index, also led by source) and filtered every record of the
-- source on every page. Only statements that bound created_day (a day's or a window's records)
-- need this index, and those imply created_day IS NOT NULL.
DROP INDEX raw_records_day;
CREATE INDEX raw_records_day ON raw_records (source, created_day) WHERE created_day IS NOT NULL;
