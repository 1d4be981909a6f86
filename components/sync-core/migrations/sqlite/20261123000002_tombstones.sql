-- Records gone at their source (hard-deleted, purged), by the version that removed them, so an
-- older version fetched later cannot bring the dialog back.
CREATE TABLE tombstones (
    source         TEXT    NOT NULL,
    source_id      TEXT    NOT NULL,
    source_version INTEGER NOT NULL,
    at             TEXT    NOT NULL,
    PRIMARY KEY (source, source_id)
);
