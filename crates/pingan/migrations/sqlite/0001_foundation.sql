-- Foundation: deployment facts, organisation, accounts, roles, sessions, grants, settings, audit.
-- Times are INTEGER UTC milliseconds; dates are TEXT 'YYYY-MM-DD' (Beijing calendar).

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE org_nodes (
    id         INTEGER PRIMARY KEY,
    code       TEXT NOT NULL UNIQUE,
    kind       TEXT NOT NULL,
    name       TEXT NOT NULL,
    parent_id  INTEGER REFERENCES org_nodes(id),
    valid_from TEXT NOT NULL,
    valid_to   TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX org_nodes_parent ON org_nodes(parent_id);

CREATE TABLE org_closure (
    ancestor   INTEGER NOT NULL REFERENCES org_nodes(id),
    descendant INTEGER NOT NULL REFERENCES org_nodes(id),
    depth      INTEGER NOT NULL,
    PRIMARY KEY (ancestor, descendant)
);
CREATE INDEX org_closure_descendant ON org_closure(descendant);

CREATE TABLE org_history (
    id         INTEGER PRIMARY KEY,
    node_id    INTEGER NOT NULL REFERENCES org_nodes(id),
    at         INTEGER NOT NULL,
    actor_id   INTEGER,
    change     TEXT NOT NULL,
    old_value  TEXT,
    new_value  TEXT
);
CREATE INDEX org_history_node ON org_history(node_id, at);

CREATE TABLE roles (
    id          INTEGER PRIMARY KEY,
    code        TEXT NOT NULL UNIQUE,
    name_zh     TEXT NOT NULL,
    name_en     TEXT NOT NULL,
    permissions TEXT NOT NULL,
    builtin     INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE accounts (
    id                   INTEGER PRIMARY KEY,
    username             TEXT NOT NULL UNIQUE,
    name                 TEXT NOT NULL,
    police_number        TEXT UNIQUE,
    phone_enc            BLOB,
    phone_hash           BLOB,
    node_id              INTEGER NOT NULL REFERENCES org_nodes(id),
    password_hash        TEXT,
    must_change_password INTEGER NOT NULL DEFAULT 0,
    disabled             INTEGER NOT NULL DEFAULT 0,
    locked_until         INTEGER,
    auth_epoch           INTEGER NOT NULL DEFAULT 0,
    totp_secret_enc      BLOB,
    totp_enabled         INTEGER NOT NULL DEFAULT 0,
    totp_last_step       INTEGER,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL
);
CREATE INDEX accounts_node ON accounts(node_id);
CREATE INDEX accounts_phone_hash ON accounts(phone_hash);

CREATE TABLE account_roles (
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    role_id    INTEGER NOT NULL REFERENCES roles(id),
    PRIMARY KEY (account_id, role_id)
);

CREATE TABLE recovery_codes (
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    code_hash  BLOB NOT NULL,
    used_at    INTEGER,
    PRIMARY KEY (account_id, code_hash)
);

CREATE TABLE sessions (
    id           INTEGER PRIMARY KEY,
    token_hash   BLOB NOT NULL UNIQUE,
    account_id   INTEGER NOT NULL REFERENCES accounts(id),
    kind         TEXT NOT NULL,
    csrf         TEXT NOT NULL,
    auth_epoch   INTEGER NOT NULL,
    restriction  TEXT,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    revoked_at   INTEGER,
    ip           TEXT NOT NULL
);
CREATE INDEX sessions_account ON sessions(account_id);

CREATE TABLE auth_failures (
    id         INTEGER PRIMARY KEY,
    account_id INTEGER,
    ip         TEXT NOT NULL,
    at         INTEGER NOT NULL
);
CREATE INDEX auth_failures_account ON auth_failures(account_id, at);
CREATE INDEX auth_failures_ip ON auth_failures(ip, at);

CREATE TABLE integration_tokens (
    id           INTEGER PRIMARY KEY,
    name         TEXT NOT NULL,
    token_hash   BLOB NOT NULL UNIQUE,
    permissions  TEXT NOT NULL,
    node_id      INTEGER NOT NULL REFERENCES org_nodes(id),
    allow_ips    TEXT NOT NULL DEFAULT '',
    expires_at   INTEGER NOT NULL,
    created_by   INTEGER NOT NULL REFERENCES accounts(id),
    created_at   INTEGER NOT NULL,
    revoked_at   INTEGER,
    last_used_at INTEGER
);

CREATE TABLE grants (
    id         INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    node_id    INTEGER NOT NULL REFERENCES org_nodes(id),
    level      TEXT NOT NULL,
    reason     TEXT NOT NULL,
    granted_by INTEGER NOT NULL REFERENCES accounts(id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    revoked_at INTEGER,
    revoked_by INTEGER
);
CREATE INDEX grants_account ON grants(account_id);

CREATE TABLE settings (
    key        TEXT NOT NULL,
    version    INTEGER NOT NULL,
    value      TEXT NOT NULL,
    changed_by INTEGER,
    changed_at INTEGER NOT NULL,
    PRIMARY KEY (key, version)
);

CREATE TABLE audit_log (
    seq        INTEGER PRIMARY KEY CHECK (seq > 0),
    at         INTEGER NOT NULL,
    actor_id   INTEGER,
    actor      TEXT NOT NULL,
    ip         TEXT NOT NULL,
    action     TEXT NOT NULL,
    records    TEXT NOT NULL,
    outcome    TEXT NOT NULL,
    request_id TEXT NOT NULL,
    detail     TEXT NOT NULL,
    mac        BLOB NOT NULL
);
CREATE INDEX audit_log_at ON audit_log(at);
CREATE INDEX audit_log_actor ON audit_log(actor, at);

-- The newest link, rewritten with every append and keyed, so that removing the newest entries
-- (which leaves an intact but shorter chain) is detected too.
CREATE TABLE audit_head (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    seq      INTEGER NOT NULL,
    head_mac BLOB NOT NULL
);

-- The log is append-only; the HMAC chain detects what a privileged hand does anyway.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
