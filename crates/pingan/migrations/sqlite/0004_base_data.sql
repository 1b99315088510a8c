-- Base data (一标三实): standard addresses, houses, residents, establishments.
-- Every row carries its owning node (`node_id`: the grid its address lies in, or the unit that
-- recorded it when no grid covers the point) so jurisdiction filters are one closure join.
-- Identifiers are AES-GCM ciphertext (`*_enc`) plus an HMAC (`*_hash`) for exact lookup and
-- de-duplication; only the characters the masked display shows are kept in the clear.

CREATE TABLE addresses (
    id           INTEGER PRIMARY KEY,
    text         TEXT NOT NULL,
    -- The standard text with spaces removed and full-width forms folded: one address, one key.
    text_key     TEXT NOT NULL UNIQUE,
    lon          REAL NOT NULL,
    lat          REAL NOT NULL,
    source_datum TEXT NOT NULL,
    grid_id      INTEGER REFERENCES org_nodes(id),
    node_id      INTEGER NOT NULL REFERENCES org_nodes(id),
    created_at   INTEGER NOT NULL,
    created_by   INTEGER,
    updated_at   INTEGER NOT NULL,
    updated_by   INTEGER
);
CREATE INDEX addresses_node ON addresses(node_id);
CREATE INDEX addresses_grid ON addresses(grid_id);

CREATE TABLE houses (
    id         INTEGER PRIMARY KEY,
    address_id INTEGER NOT NULL REFERENCES addresses(id),
    -- Unit within the address ("3单元502"); empty for a whole house or building.
    unit       TEXT NOT NULL,
    use_kind   TEXT NOT NULL,
    area_m2    REAL,
    node_id    INTEGER NOT NULL REFERENCES org_nodes(id),
    created_at INTEGER NOT NULL,
    created_by INTEGER,
    updated_at INTEGER NOT NULL,
    updated_by INTEGER,
    UNIQUE (address_id, unit)
);
CREATE INDEX houses_node ON houses(node_id);

CREATE TABLE residents (
    id                 INTEGER PRIMARY KEY,
    name               TEXT NOT NULL,
    sex                TEXT NOT NULL,
    birth_date         TEXT,
    id_kind            TEXT,
    id_enc             BLOB,
    id_hash            BLOB,
    id_head            TEXT,
    id_tail            TEXT,
    residence          TEXT NOT NULL,
    registered_address TEXT NOT NULL,
    address_id         INTEGER REFERENCES addresses(id),
    house_id           INTEGER REFERENCES houses(id),
    house_relation     TEXT,
    grid_id            INTEGER REFERENCES org_nodes(id),
    node_id            INTEGER NOT NULL REFERENCES org_nodes(id),
    note               TEXT NOT NULL,
    created_at         INTEGER NOT NULL,
    created_by         INTEGER,
    updated_at         INTEGER NOT NULL,
    updated_by         INTEGER
);
CREATE UNIQUE INDEX residents_id_hash ON residents(id_hash) WHERE id_hash IS NOT NULL;
CREATE INDEX residents_node_name ON residents(node_id, name);
CREATE INDEX residents_id_tail ON residents(id_tail);
CREATE INDEX residents_address ON residents(address_id);
CREATE INDEX residents_house ON residents(house_id);

CREATE TABLE resident_phones (
    resident_id INTEGER NOT NULL REFERENCES residents(id),
    phone_hash  BLOB NOT NULL,
    phone_enc   BLOB NOT NULL,
    phone_masked TEXT NOT NULL,
    -- Order as recorded: the first phone is the one lists show.
    ord         INTEGER NOT NULL,
    added_at    INTEGER NOT NULL,
    PRIMARY KEY (resident_id, phone_hash)
);
CREATE INDEX resident_phones_hash ON resident_phones(phone_hash);

CREATE TABLE resident_tags (
    resident_id INTEGER NOT NULL REFERENCES residents(id),
    tag         TEXT NOT NULL,
    PRIMARY KEY (resident_id, tag)
);
CREATE INDEX resident_tags_tag ON resident_tags(tag);

CREATE TABLE establishments (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL,
    -- 统一社会信用代码 (GB 32100), check character verified; unique when present.
    credit_code TEXT UNIQUE,
    legal_rep   TEXT NOT NULL,
    phone_enc   BLOB,
    phone_hash  BLOB,
    phone_masked TEXT,
    address_id  INTEGER NOT NULL REFERENCES addresses(id),
    grid_id     INTEGER REFERENCES org_nodes(id),
    node_id     INTEGER NOT NULL REFERENCES org_nodes(id),
    created_at  INTEGER NOT NULL,
    created_by  INTEGER,
    updated_at  INTEGER NOT NULL,
    updated_by  INTEGER
);
CREATE INDEX establishments_node_name ON establishments(node_id, name);
CREATE INDEX establishments_address ON establishments(address_id);
