//! Where the demo's historical cases were worked: the routes of `antifraud::routes`, and who
//! closed a case that had no officer of its own.

use std::collections::HashMap;

use crate::antifraud::matching::Route;
use crate::antifraud::routes::Routes;
use crate::db::Tx;

pub struct Places {
    routes: Routes,
    /// node → the first community officer or station head there.
    staff: HashMap<i64, i64>,
    /// The anti-fraud centre's first account: it works the city queue.
    centre: i64,
}

impl Places {
    pub async fn load(tx: &mut Tx) -> anyhow::Result<Places> {
        let routes = Routes::load(tx).await?;
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
        Ok(Places { routes, staff, centre })
    }

    pub fn resident(&self, grid_id: Option<i64>, node_id: i64) -> Route {
        self.routes.resident(grid_id, node_id)
    }

    pub fn unmatched(&self, region: &str) -> Route {
        self.routes.unmatched(Some(region))
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
