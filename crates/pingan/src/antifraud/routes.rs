//! The routes of [`super::matching`], read once from the organisation for many warnings at a
//! time (a history file, the demo): grid, its responsible officer, the post and station above
//! it; the region's station or the city queue when nobody matches. One warning at a time,
//! `matching` asks the database; the answers are the same.

use std::collections::HashMap;

use sqlx::AnyConnection;

use super::matching::Route;

pub struct Routes {
    /// node → (nearest post, nearest station) at or above it.
    above: HashMap<i64, (Option<i64>, Option<i64>)>,
    responsible: HashMap<i64, i64>,
    regions: HashMap<String, i64>,
    root: i64,
}

impl Routes {
    pub async fn load(conn: &mut AnyConnection) -> Result<Routes, sqlx::Error> {
        let rows: Vec<(i64, i64, String)> = sqlx::query_as(
            "SELECT c.descendant, c.ancestor, n.kind FROM org_closure c JOIN org_nodes n ON n.id = c.ancestor \
             WHERE n.kind IN ('post', 'station') ORDER BY c.descendant, c.depth",
        )
        .fetch_all(&mut *conn)
        .await?;
        let mut above: HashMap<i64, (Option<i64>, Option<i64>)> = HashMap::new();
        for (node, ancestor, kind) in rows {
            let e = above.entry(node).or_default();
            match kind.as_str() {
                "post" => e.0 = e.0.or(Some(ancestor)),
                _ => e.1 = e.1.or(Some(ancestor)),
            }
        }
        let responsible = sqlx::query_as::<_, (i64, i64)>(
            "SELECT node_id, MIN(account_id) FROM grid_team WHERE duty = 'responsible' GROUP BY node_id",
        )
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .collect();
        let regions = sqlx::query_as::<_, (String, i64)>("SELECT region, node_id FROM fraud_region_stations")
            .fetch_all(&mut *conn)
            .await?
            .into_iter()
            .collect();
        let root = sqlx::query_scalar("SELECT id FROM org_nodes WHERE parent_id IS NULL ORDER BY id LIMIT 1")
            .fetch_one(&mut *conn)
            .await?;
        Ok(Routes { above, responsible, regions, root })
    }

    /// As `matching::route_resident`: the grid (else the resident's unit) owns the case.
    pub fn resident(&self, grid_id: Option<i64>, node_id: i64) -> Route {
        let owner = grid_id.unwrap_or(node_id);
        let (post_id, station_id) = self.above.get(&owner).copied().unwrap_or_default();
        let officer_id = grid_id.and_then(|g| self.responsible.get(&g).copied());
        Route { grid_id, post_id, station_id, node_id: owner, officer_id }
    }

    /// As `matching::route_unmatched`: the station the region maps to, else the city queue.
    pub fn unmatched(&self, region: Option<&str>) -> Route {
        let station_id = region.and_then(|r| self.regions.get(r).copied());
        Route { grid_id: None, post_id: None, station_id, node_id: station_id.unwrap_or(self.root), officer_id: None }
    }
}
