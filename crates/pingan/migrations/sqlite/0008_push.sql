-- Prevention pushes (云宣防): messages a station sends to the chat groups of chosen grids,
-- through webhooks on the system administrator's allowlist. An outbox: each (message,
-- destination) is a delivery with its own idempotency key, retried with backoff for up to
-- 24 hours and then kept as a dead letter; every attempt is logged. Messages hold no personal
-- data (the service refuses ID numbers and phone numbers in them).

CREATE TABLE push_destinations (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    -- wecom (企业微信群机器人), dingtalk (钉钉自定义机器人), json (generic).
    kind        TEXT NOT NULL,
    url         TEXT NOT NULL,
    -- DingTalk's signing secret, AES-GCM with the data key; never shown again.
    secret_enc  BLOB,
    -- The grid (or unit) whose chat group this is.
    node_id     INTEGER NOT NULL REFERENCES org_nodes(id),
    created_at  INTEGER NOT NULL,
    created_by  INTEGER REFERENCES accounts(id),
    disabled_at INTEGER
);
CREATE INDEX push_destinations_node ON push_destinations(node_id);

CREATE TABLE push_messages (
    id         INTEGER PRIMARY KEY,
    -- The sender's unit: the message is seen by whoever sees that unit.
    node_id    INTEGER NOT NULL REFERENCES org_nodes(id),
    author_id  INTEGER REFERENCES accounts(id),
    created_at INTEGER NOT NULL,
    title      TEXT NOT NULL,
    body       TEXT NOT NULL,
    -- Comma-separated fraud kinds the message is about.
    kinds      TEXT NOT NULL
);
CREATE INDEX push_messages_node ON push_messages(node_id, created_at);

CREATE TABLE push_deliveries (
    id              INTEGER PRIMARY KEY,
    message_id      INTEGER NOT NULL REFERENCES push_messages(id),
    destination_id  INTEGER NOT NULL REFERENCES push_destinations(id),
    idempotency_key TEXT NOT NULL UNIQUE,
    -- pending, delivered, dead.
    state           TEXT NOT NULL,
    attempts        INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    next_attempt_at INTEGER,
    delivered_at    INTEGER,
    last_error      TEXT
);
CREATE INDEX push_deliveries_message ON push_deliveries(message_id);
CREATE INDEX push_deliveries_state ON push_deliveries(state);

CREATE TABLE push_attempts (
    id          INTEGER PRIMARY KEY,
    delivery_id INTEGER NOT NULL REFERENCES push_deliveries(id),
    at          INTEGER NOT NULL,
    -- The HTTP status, or NULL when no answer came (refused, timed out).
    status      INTEGER,
    ok          INTEGER NOT NULL,
    error       TEXT,
    duration_ms INTEGER NOT NULL
);
CREATE INDEX push_attempts_delivery ON push_attempts(delivery_id);
