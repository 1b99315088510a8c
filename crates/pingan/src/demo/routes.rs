//! Where the demo's historical cases were worked, read once from the organisation: the same
//! routes `antifraud::matching` gives one warning at a time (grid, its responsible officer, the
//! post and station above it; the region's station or the city queue when nobody matches), and
//! who closed a case that had no officer of its own.

use std::collections::HashMap;

use crate::antifraud::matching::Route;
use crate::db::Tx;

pub struct Places {
    /// node → (nearest post, nearest station) at or above it.
    above: HashMap<i64, (Option<i64>, Option<i64>)>,
    responsible: HashMap<i64, i64>,
    /// node → the first community officer or station head there.
    staff: HashMap<i64, i64>,
    regions: HashMap<String, i64>,
    root: i64,
    /// The anti-fraud centre's first account: it works the city queue.
    centre: i64,
}

impl Places {
    pub async fn load(tx: &mut Tx) -> anyhow::Result<Places> {
        let rows: Vec<(i64, i64, String)> = sqlx::query_as(
            "SELECT c.descendant, c.ancestor, n.kind FROM org_closure c JOIN org_nodes n ON n.id = c.ancestor \
             WHERE n.kind IN ('post', 'station') ORDER BY c.descendant, c.depth",
        )
        .fetch_all(&mut **tx)
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
        .fetch_all(&mut **tx)
        .await?
        .into_iter()
        .collect();
        let mut staff = HashMap::new();
        let rows: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT a.node_id, a.id FROM accounts a JOIN account_roles ar ON ar.account_id = a.id \
             JOIN roles r ON r.id = ar.role_id WHERE r.code IN ('community_officer', 'station_head') ORDER BY a.id",
        )
        .fetch_all(&mut **tx)
        .await?;
        for (node, account) in rows {
            staff.entry(node).or_insert(account);
        }
        let regions = sqlx::query_as::<_, (String, i64)>("SELECT region, node_id FROM fraud_region_stations")
            .fetch_all(&mut **tx)
            .await?
            .into_iter()
            .collect();
        let root = sqlx::query_scalar("SELECT id FROM org_nodes WHERE parent_id IS NULL ORDER BY id LIMIT 1")
            .fetch_one(&mut **tx)
            .await?;
        let centre: Option<i64> = sqlx::query_scalar(
            "SELECT a.id FROM accounts a JOIN org_nodes n ON n.id = a.node_id WHERE n.code = '410700980000' \
             ORDER BY a.id LIMIT 1",
        )
        .fetch_optional(&mut **tx)
        .await?;
        let centre = match centre {
            Some(c) => c,
            None => sqlx::query_scalar("SELECT MIN(id) FROM accounts").fetch_one(&mut **tx).await?,
        };
        Ok(Places { above, responsible, staff, regions, root, centre })
    }

    /// As `matching::route_resident`: the grid (else the resident's unit) owns the case.
    pub fn resident(&self, grid_id: Option<i64>, node_id: i64) -> Route {
        let owner = grid_id.unwrap_or(node_id);
        let (post_id, station_id) = self.above.get(&owner).copied().unwrap_or_default();
        let officer_id = grid_id.and_then(|g| self.responsible.get(&g).copied());
        Route { grid_id, post_id, station_id, node_id: owner, officer_id }
    }

    /// As `matching::route_unmatched`: the station the region maps to, else the city queue.
    pub fn unmatched(&self, region: &str) -> Route {
        let station_id = self.regions.get(region).copied();
        Route { grid_id: None, post_id: None, station_id, node_id: station_id.unwrap_or(self.root), officer_id: None }
    }

    /// Who worked and closed a case: its officer, else the post's or station's first officer,
    /// else the anti-fraud centre.
    pub fn closer(&self, route: &Route) -> i64 {
        route
            .officer_id
            .or_else(|| route.post_id.and_then(|p| self.staff.get(&p).copied()))
            .or_else(|| route.station_id.and_then(|s| self.staff.get(&s).copied()))
            .unwrap_or(self.centre)
    }
}
