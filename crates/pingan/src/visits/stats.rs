//! Per-grid figures for the map and the coverage page: population, households, coverage (share
//! of households visited in the last 90 days), the last visit, and links with overdue duties.

use std::collections::HashMap;

use serde::Serialize;
use utoipa::ToSchema;

use super::links::links;
use super::COVERAGE_DAYS;
use crate::app::AppState;
use crate::auth::Caller;
use crate::jurisdiction::{scope_of, Level};
use crate::web::error::AppError;

#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct GridStats {
    pub grid_id: i64,
    pub residents: i64,
    /// Houses with at least one resident.
    pub households: i64,
    /// Of those, visited in the last 90 days.
    pub visited: i64,
    /// visited / households, 0–1; null for a grid with no households.
    pub coverage: Option<f64>,
    pub last_visit: Option<i64>,
    /// 挂钩 links to this grid with an overdue duty.
    pub overdue: i64,
}

/// Figures for every grid in the caller's scope (counts-only callers included: these are counts),
/// or for the one grid `only` when it is in scope.
pub async fn by_grid(state: &AppState, caller: &Caller, only: Option<i64>) -> Result<Vec<GridStats>, AppError> {
    let scope = scope_of(state, caller).await?;
    let mut nodes = scope.nodes_sql(Level::CountsOnly);
    if let Some(g) = only {
        // Our own integer, formatted: safe to inline like the scope's node ids.
        nodes = format!("SELECT descendant FROM org_closure WHERE descendant = {g} AND descendant IN ({nodes})");
    }
    let grids: Vec<i64> = sqlx::query_scalar(&format!(
        "SELECT g.node_id FROM grid_shapes g JOIN org_nodes n ON n.id = g.node_id WHERE n.valid_to IS NULL AND n.id IN ({nodes}) ORDER BY n.code"
    ))
    .fetch_all(state.db.reader())
    .await?;
    let count = |sql: String| async move {
        let rows: Vec<(i64, i64)> = sqlx::query_as(&sql).fetch_all(state.db.reader()).await?;
        Ok::<HashMap<i64, i64>, AppError>(rows.into_iter().collect())
    };
    let residents =
        count(format!("SELECT grid_id, COUNT(*) FROM residents WHERE grid_id IN ({nodes}) GROUP BY grid_id")).await?;
    let households = count(format!(
        "SELECT h.node_id, COUNT(*) FROM houses h WHERE h.node_id IN ({nodes}) \
         AND EXISTS (SELECT 1 FROM residents r WHERE r.house_id = h.id) GROUP BY h.node_id"
    ))
    .await?;
    let since = state.clock.now_ms() - COVERAGE_DAYS * 86_400_000;
    let visited = count(format!(
        "SELECT h.node_id, COUNT(DISTINCT v.house_id) FROM visits v JOIN houses h ON h.id = v.house_id \
         WHERE v.kind = 'household' AND v.visited_at >= {since} AND h.node_id IN ({nodes}) \
         AND EXISTS (SELECT 1 FROM residents r WHERE r.house_id = h.id) GROUP BY h.node_id"
    ))
    .await?;
    let last =
        count(format!("SELECT grid_id, MAX(visited_at) FROM visits WHERE grid_id IN ({nodes}) GROUP BY grid_id"))
            .await?;
    let mut overdue: HashMap<i64, i64> = HashMap::new();
    for l in links(state, caller, false).await?.iter().filter(|l| l.overdue() && grids.contains(&l.node_id)) {
        *overdue.entry(l.node_id).or_default() += 1;
    }
    Ok(grids
        .into_iter()
        .map(|g| {
            let (h, v) = (households.get(&g).copied().unwrap_or(0), visited.get(&g).copied().unwrap_or(0));
            GridStats {
                grid_id: g,
                residents: residents.get(&g).copied().unwrap_or(0),
                households: h,
                visited: v,
                coverage: (h > 0).then(|| v as f64 / h as f64),
                last_visit: last.get(&g).copied(),
                overdue: overdue.get(&g).copied().unwrap_or(0),
            }
        })
        .collect())
}

/// What the map shows when a grid is clicked.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GridCard {
    pub grid_id: i64,
    pub code: String,
    pub name: String,
    pub responsible: Option<String>,
    pub police_number: Option<String>,
    /// The responsible officer's phone, masked.
    pub phone: Option<String>,
    /// The grid's whole team, responsible officer first.
    pub team: Vec<crate::grids::team::Member>,
    pub stats: GridStats,
}

pub async fn card(state: &AppState, caller: &Caller, grid: i64) -> Result<GridCard, AppError> {
    let stats = by_grid(state, caller, Some(grid)).await?.into_iter().next().ok_or(AppError::NotFound)?;
    let (code, name): (String, String) = sqlx::query_as("SELECT code, name FROM org_nodes WHERE id = $1")
        .bind(grid)
        .fetch_one(state.db.reader())
        .await?;
    let officer: Option<(String, Option<String>, Option<Vec<u8>>)> = sqlx::query_as(
        "SELECT a.name, a.police_number, a.phone_enc FROM grid_team t JOIN accounts a ON a.id = t.account_id \
         WHERE t.node_id = $1 AND t.duty = 'responsible'",
    )
    .bind(grid)
    .fetch_optional(state.db.reader())
    .await?;
    let (responsible, police_number, phone) = match officer {
        Some((n, pn, enc)) => {
            let phone = enc
                .map(|e| state.key.decrypt_str(&e))
                .transpose()
                .map_err(|e| AppError::Internal(e.into()))?
                .map(|p| crate::pii::mask::mask_phone(&p));
            (Some(n), pn.filter(|p| !p.is_empty()), phone)
        }
        None => (None, None, None),
    };
    let team = crate::grids::team::members(state, caller, grid).await?;
    Ok(GridCard { grid_id: grid, code, name, responsible, police_number, phone, team, stats })
}
