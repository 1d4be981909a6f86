-- The API: who may represent which party, and search snapshots for stable paging.

-- A person (national identity number) may represent a party (URN). A person always represents
-- themself; that needs no row.
CREATE TABLE grants (
    person     TEXT NOT NULL,
    party      TEXT NOT NULL,
    granted_at TEXT NOT NULL,
    PRIMARY KEY (person, party)
);
CREATE INDEX grants_party ON grants (party);

-- The ordered dialog ids of a search when it began; its pages are read from here, so paging
-- while dialogs are written returns each dialog that existed then exactly once.
CREATE TABLE search_snapshots (
    token      TEXT    NOT NULL,
    position   INTEGER NOT NULL,
    dialog_id  TEXT    NOT NULL,
    created_at TEXT    NOT NULL,
    PRIMARY KEY (token, position)
);
