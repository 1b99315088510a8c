//! The caller's grids as a list: each with its unit, responsible officer and team size, the
//! 一格一警 gaps (grids without a responsible officer) on their own, pages of it, and the same
//! list as an XLSX or CSV file.

use axum::response::Response;
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::AppState;
use crate::audit::{self, Entry};
use crate::auth::{Caller, Permission};
use crate::basedata::export::{download, watermark};
use crate::jurisdiction::{org_scope_of, Level};
use crate::tabular::{csv_bytes, xlsx_bytes, ExportTable, Format};
use crate::web::error::AppError;
use crate::web::middleware::RequestMeta;

/// One grid of the list.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct GridSummary {
    pub node_id: i64,
    pub code: String,
    pub name: String,
    pub parent_id: Option<i64>,
    /// The post or station the grid belongs to.
    pub parent: Option<String>,
    pub responsible: Option<String>,
    /// Members of the grid's team, the responsible officer included.
    pub team_size: i64,
    /// The shape's version; null for a grid with no shape yet.
    pub version: Option<i64>,
}

/// A page of the list and how many grids match in all.
pub struct Found {
    pub items: Vec<GridSummary>,
    pub total: i64,
    /// Of every grid in scope (whatever the filter), those without a responsible officer.
    pub without_responsible: i64,
}

/// Rows per page on the grids page.
pub const PER_PAGE: i64 = 50;

/// The live grids in the caller's scope (any level: a grid, its unit and its officers are no
/// one's personal data), by code; only those without a responsible officer when `unassigned`;
/// `page` (from 1) of `PER_PAGE`, or every one.
pub async fn find(state: &AppState, caller: &Caller, unassigned: bool, page: Option<i64>) -> Result<Found, AppError> {
    caller.require(Permission::OrgRead)?;
    let nodes = org_scope_of(state, caller).await?.nodes_sql(Level::CountsOnly);
    let gap = "NOT EXISTS (SELECT 1 FROM grid_team t WHERE t.node_id = n.id AND t.duty = 'responsible')";
    let base = format!("FROM org_nodes n WHERE n.kind = 'grid' AND n.valid_to IS NULL AND n.id IN ({nodes})");
    let filter = if unassigned { format!(" AND {gap}") } else { String::new() };
    let (total,): (i64,) =
        sqlx::query_as(&format!("SELECT COUNT(*) {base}{filter}")).fetch_one(state.db.reader()).await?;
    let (without_responsible,): (i64,) =
        sqlx::query_as(&format!("SELECT COUNT(*) {base} AND {gap}")).fetch_one(state.db.reader()).await?;
    let limit = match page {
        Some(p) => format!(" LIMIT {PER_PAGE} OFFSET {}", (p.max(1) - 1).saturating_mul(PER_PAGE)),
        None => String::new(),
    };
    let items = sqlx::query_as(&format!(
        "SELECT n.id AS node_id, n.code, n.name, n.parent_id, p.name AS parent, g.version, \
         (SELECT a.name FROM grid_team t JOIN accounts a ON a.id = t.account_id \
          WHERE t.node_id = n.id AND t.duty = 'responsible') AS responsible, \
         (SELECT COUNT(*) FROM grid_team t WHERE t.node_id = n.id) AS team_size \
         FROM org_nodes n LEFT JOIN org_nodes p ON p.id = n.parent_id LEFT JOIN grid_shapes g ON g.node_id = n.id \
         WHERE n.kind = 'grid' AND n.valid_to IS NULL AND n.id IN ({nodes}){filter} ORDER BY n.code{limit}"
    ))
    .fetch_all(state.db.reader())
    .await?;
    Ok(Found { items, total, without_responsible })
}

/// The list (all of it, or the gaps) as a file with the viewer's watermark. It names officers,
/// not residents, so it needs no reason; the entry records what was taken out.
pub async fn export(
    state: &AppState,
    meta: &RequestMeta,
    caller: &Caller,
    format: Format,
    unassigned: bool,
) -> Result<Response, AppError> {
    let found = find(state, caller, unassigned, None).await?;
    let at = state.clock.now_ms();
    let l = meta.lang;
    let none = l.t("grids.no_responsible");
    let table = ExportTable {
        title: l.t("grids.title").to_string(),
        watermark: watermark(caller, at, None, l),
        headers: ["org.code", "org.name", "org.parent", "team.duty.responsible", "grids.team_size"]
            .iter()
            .map(|k| l.t(k).to_string())
            .collect(),
        rows: found
            .items
            .iter()
            .map(|g| {
                vec![
                    g.code.clone(),
                    g.name.clone(),
                    g.parent.clone().unwrap_or_default(),
                    g.responsible.clone().unwrap_or_else(|| none.to_string()),
                    g.team_size.to_string(),
                ]
            })
            .collect(),
    };
    let entry = Entry::new(meta, Some(caller), "grid.export").detail(serde_json::json!({
        "format": format.extension(), "unassigned": unassigned, "rows": found.items.len(),
    }));
    audit::write(state, entry).await?;
    let bytes = match format {
        Format::Csv => csv_bytes(&table),
        Format::Xlsx => xlsx_bytes(&table),
    };
    Ok(download(bytes, format, "grids", at))
}
