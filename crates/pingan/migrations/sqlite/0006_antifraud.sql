-- Anti-fraud early warning (反诈预警): warnings from upstream systems, the cases they open about
-- one person, the work done on each case, the notifications escalations send, and the table
-- that routes an unmatched warning by the region code of its ID number.
-- Identifiers are AES-GCM ciphertext plus an HMAC for lookup, as in base data. Cases keep the
-- grid, post and station they were routed to when they opened: facts do not move when grids
-- are redrawn.

CREATE TABLE fraud_cases (
    id                   INTEGER PRIMARY KEY,
    resident_id          INTEGER REFERENCES residents(id),
    -- Who an unmatched case is about: the keyed hash of the ID number, else of the phone.
    subject_hash         BLOB,
    opened_at            INTEGER NOT NULL,
    last_warning_at      INTEGER NOT NULL,
    warnings             INTEGER NOT NULL,
    grade                TEXT NOT NULL,
    grade_rank           INTEGER NOT NULL,
    reasons              TEXT NOT NULL,
    kind                 TEXT NOT NULL,
    state                TEXT NOT NULL,
    match_state          TEXT NOT NULL,
    grid_id              INTEGER REFERENCES org_nodes(id),
    post_id              INTEGER REFERENCES org_nodes(id),
    station_id           INTEGER REFERENCES org_nodes(id),
    node_id              INTEGER NOT NULL REFERENCES org_nodes(id),
    officer_id           INTEGER REFERENCES accounts(id),
    contact_due_at       INTEGER,
    visit_due_at         INTEGER,
    first_contact_at     INTEGER,
    visited_at           INTEGER,
    escalation           INTEGER NOT NULL DEFAULT 0,
    outcome              TEXT,
    amount_protected_fen INTEGER,
    amount_lost_fen      INTEGER,
    closed_at            INTEGER,
    closed_by            INTEGER REFERENCES accounts(id),
    history              INTEGER NOT NULL
);
CREATE INDEX fraud_cases_queue ON fraud_cases(state, node_id);
CREATE INDEX fraud_cases_resident ON fraud_cases(resident_id, state);
CREATE INDEX fraud_cases_subject ON fraud_cases(subject_hash, state);
CREATE INDEX fraud_cases_opened ON fraud_cases(opened_at);

CREATE TABLE fraud_warnings (
    id              INTEGER PRIMARY KEY,
    source          TEXT NOT NULL,
    upstream_id     TEXT NOT NULL,
    event_at        INTEGER NOT NULL,
    received_at     INTEGER NOT NULL,
    name            TEXT,
    id_enc          BLOB,
    id_hash         BLOB,
    id_head         TEXT,
    id_tail         TEXT,
    phone_enc       BLOB,
    phone_hash      BLOB,
    phone_masked    TEXT,
    kind            TEXT NOT NULL,
    contacts_count  INTEGER,
    longest_call_s  INTEGER,
    app_installed   INTEGER,
    app_name        TEXT,
    amount_fen      INTEGER,
    flagged_account TEXT,
    grade           TEXT NOT NULL,
    reasons         TEXT NOT NULL,
    rules_version   INTEGER NOT NULL,
    match_kind      TEXT NOT NULL,
    case_id         INTEGER NOT NULL REFERENCES fraud_cases(id),
    history         INTEGER NOT NULL,
    UNIQUE (source, upstream_id)
);
CREATE INDEX fraud_warnings_case ON fraud_warnings(case_id);
CREATE INDEX fraud_warnings_received ON fraud_warnings(received_at);

-- Residents who hold a warning's phone when more than one does: a person picks the right one.
CREATE TABLE fraud_candidates (
    case_id     INTEGER NOT NULL REFERENCES fraud_cases(id),
    resident_id INTEGER NOT NULL REFERENCES residents(id),
    PRIMARY KEY (case_id, resident_id)
);

-- A case's timeline: contacts, visits, follow-ups, the outcome, escalations, matches.
CREATE TABLE fraud_case_events (
    id         INTEGER PRIMARY KEY,
    case_id    INTEGER NOT NULL REFERENCES fraud_cases(id),
    at         INTEGER NOT NULL,
    account_id INTEGER REFERENCES accounts(id),
    kind       TEXT NOT NULL,
    result     TEXT,
    note       TEXT NOT NULL,
    amount_fen INTEGER
);
CREATE INDEX fraud_case_events_case ON fraud_case_events(case_id, at);

-- The first six digits of an ID number (GB/T 2260 region) mapped to the station that takes the
-- warnings nobody in our base data matches.
CREATE TABLE fraud_region_stations (
    region     TEXT PRIMARY KEY,
    node_id    INTEGER NOT NULL REFERENCES org_nodes(id),
    updated_at INTEGER NOT NULL,
    updated_by INTEGER
);

-- In-app notifications: addressed to a role at a unit (whoever holds it there reads it) or to
-- one account.
CREATE TABLE notifications (
    id         INTEGER PRIMARY KEY,
    created_at INTEGER NOT NULL,
    node_id    INTEGER REFERENCES org_nodes(id),
    role       TEXT,
    account_id INTEGER REFERENCES accounts(id),
    kind       TEXT NOT NULL,
    case_id    INTEGER,
    payload    TEXT NOT NULL
);
CREATE INDEX notifications_node ON notifications(node_id, role);
CREATE INDEX notifications_account ON notifications(account_id);

CREATE TABLE notification_reads (
    notification_id INTEGER NOT NULL REFERENCES notifications(id),
    account_id      INTEGER NOT NULL REFERENCES accounts(id),
    read_at         INTEGER NOT NULL,
    PRIMARY KEY (notification_id, account_id)
);
