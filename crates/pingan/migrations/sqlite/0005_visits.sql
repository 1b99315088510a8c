-- Household visits (入户走访), establishment inspections (单位检查) and the 挂钩 duties of every
-- officer to a village or community. Visits and duties are facts: they keep the grid and the
-- station they happened in and never move when grids are redrawn.

CREATE TABLE visits (
    id               INTEGER PRIMARY KEY,
    kind             TEXT NOT NULL,
    address_id       INTEGER NOT NULL REFERENCES addresses(id),
    house_id         INTEGER REFERENCES houses(id),
    establishment_id INTEGER REFERENCES establishments(id),
    resident_id      INTEGER REFERENCES residents(id),
    officer_id       INTEGER NOT NULL REFERENCES accounts(id),
    visited_at       INTEGER NOT NULL,
    finding          TEXT NOT NULL,
    note             TEXT NOT NULL,
    grid_id          INTEGER REFERENCES org_nodes(id),
    node_id          INTEGER NOT NULL REFERENCES org_nodes(id),
    created_at       INTEGER NOT NULL
);
CREATE INDEX visits_house ON visits(house_id, visited_at);
CREATE INDEX visits_grid ON visits(grid_id, visited_at);
CREATE INDEX visits_officer ON visits(officer_id, visited_at);
CREATE INDEX visits_establishment ON visits(establishment_id, visited_at);

-- 全警挂钩村居: an officer linked to a village or community (a grid or post node).
CREATE TABLE duty_links (
    id         INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    node_id    INTEGER NOT NULL REFERENCES org_nodes(id),
    since      INTEGER NOT NULL,
    until      INTEGER,
    created_by INTEGER
);
CREATE INDEX duty_links_account ON duty_links(account_id);
CREATE INDEX duty_links_node ON duty_links(node_id);

-- One duty done: contact with the village's cadres, work on site, or a concrete deed.
CREATE TABLE duties (
    id         INTEGER PRIMARY KEY,
    link_id    INTEGER NOT NULL REFERENCES duty_links(id),
    kind       TEXT NOT NULL,
    done_at    INTEGER NOT NULL,
    note       TEXT NOT NULL,
    node_id    INTEGER NOT NULL REFERENCES org_nodes(id),
    created_at INTEGER NOT NULL
);
CREATE INDEX duties_link ON duties(link_id, kind, done_at);
