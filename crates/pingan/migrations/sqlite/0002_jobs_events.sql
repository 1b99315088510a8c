-- Durable jobs (deadlines, housekeeping) and the events every server reads.

CREATE TABLE jobs (
    id          INTEGER PRIMARY KEY,
    kind        TEXT NOT NULL,
    due_at      INTEGER NOT NULL,
    payload     TEXT NOT NULL,
    claimed_by  TEXT,
    lease_until INTEGER,
    attempts    INTEGER NOT NULL DEFAULT 0,
    done_at     INTEGER,
    last_error  TEXT,
    -- Set while pending for jobs that must exist once (housekeeping); NULL once done.
    singleton   TEXT UNIQUE,
    created_at  INTEGER NOT NULL
);
CREATE INDEX jobs_due ON jobs(done_at, due_at);

CREATE TABLE events (
    id      INTEGER PRIMARY KEY,
    at      INTEGER NOT NULL,
    kind    TEXT NOT NULL,
    node_id INTEGER,
    payload TEXT NOT NULL
);
CREATE INDEX events_at ON events(at);
