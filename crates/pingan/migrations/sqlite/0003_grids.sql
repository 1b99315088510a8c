-- Grid polygons (WKB MultiPolygon in WGS-84) and each grid's team (一格一警).

CREATE TABLE grid_shapes (
    node_id      INTEGER PRIMARY KEY REFERENCES org_nodes(id),
    shape        BLOB NOT NULL,
    min_lon      REAL NOT NULL,
    min_lat      REAL NOT NULL,
    max_lon      REAL NOT NULL,
    max_lat      REAL NOT NULL,
    area_m2      REAL NOT NULL,
    source_datum TEXT NOT NULL,
    version      INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    updated_by   INTEGER
);

-- Every shape a grid has had, so history stays where it was when grids are redrawn.
CREATE TABLE grid_shape_history (
    id           INTEGER PRIMARY KEY,
    node_id      INTEGER NOT NULL REFERENCES org_nodes(id),
    version      INTEGER NOT NULL,
    shape        BLOB NOT NULL,
    source_datum TEXT NOT NULL,
    valid_from   INTEGER NOT NULL,
    valid_to     INTEGER,
    changed_by   INTEGER
);
CREATE INDEX grid_shape_history_node ON grid_shape_history(node_id, version);

CREATE TABLE grid_team (
    node_id    INTEGER NOT NULL REFERENCES org_nodes(id),
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    duty       TEXT NOT NULL,
    since      INTEGER NOT NULL,
    PRIMARY KEY (node_id, account_id)
);
-- One responsible officer per grid.
CREATE UNIQUE INDEX grid_team_responsible ON grid_team(node_id) WHERE duty = 'responsible';
