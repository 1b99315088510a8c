//! Base data (一标三实): standard addresses placed in grids, houses, residents and
//! establishments; created, edited, searched and viewed within the caller's jurisdiction.
//!
//! Tables: `addresses`, `houses`, `residents` (+ `resident_phones`, `resident_tags`),
//! `establishments`. Setting: `bureau.area`.
//! Invariant: a row's `node_id` is the grid its address lies in (or, outside every grid, the unit
//! that recorded it); houses, residents and establishments follow their address when it moves
//! or grids are redrawn.
//! Invariant: ID numbers and phones are stored only as ciphertext + keyed hash; lists show the
//! masked form built from the kept head/tail characters; the full value leaves through
//! `resident::unmask`, which demands a reason and audits it.
//! Invariant: reading a person (view, search results) writes an audit entry naming the records.

pub mod address;
pub mod api;
pub mod area;
pub mod establishment;
pub mod export;
pub mod export_api;
pub mod export_lists;
pub mod house;
pub mod import;
pub mod import_api;
pub mod import_cli;
pub mod import_page;
mod import_plan;
pub mod import_progress;
pub mod import_template;
pub mod model;
pub mod pages;
pub mod reassign;
pub mod resident;
pub mod search;

use crate::app::AppState;
use crate::audit::{self, Entry, Outcome};
use crate::auth::Caller;
use crate::jurisdiction::{scope_of, Level};
use crate::web::error::AppError;
use crate::web::middleware::RequestMeta;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    Address,
    House,
    Resident,
    Establishment,
}

impl Table {
    fn name(self) -> &'static str {
        match self {
            Table::Address => "addresses",
            Table::House => "houses",
            Table::Resident => "residents",
            Table::Establishment => "establishments",
        }
    }

    /// How audit entries name a row of this table.
    pub fn record(self, id: i64) -> String {
        let kind = match self {
            Table::Address => "address",
            Table::House => "house",
            Table::Resident => "resident",
            Table::Establishment => "establishment",
        };
        format!("{kind}:{id}")
    }
}

/// The owning node of a row and the level the caller sees it at. A row that does not exist and
/// a row outside the caller's scope both answer 404, and the refusal is audited.
pub async fn visible(
    state: &AppState,
    meta: &RequestMeta,
    caller: &Caller,
    table: Table,
    id: i64,
    action: &str,
) -> Result<(i64, Level), AppError> {
    let node: Option<i64> = sqlx::query_scalar(&format!("SELECT node_id FROM {} WHERE id = $1", table.name()))
        .bind(id)
        .fetch_optional(state.db.reader())
        .await?;
    let scope = scope_of(state, caller).await?;
    if let Some(node) = node {
        if let Some(level) = scope.level_at(state, node).await?.filter(|l| *l >= Level::Masked) {
            return Ok((node, level));
        }
    }
    let entry = Entry::new(meta, Some(caller), action)
        .record(table.record(id))
        .outcome(Outcome::Denied)
        .detail(serde_json::json!({"reason": "outside_scope_or_missing"}));
    audit::write(state, entry).await?;
    Err(AppError::NotFound)
}

/// One page of a list, as every list endpoint answers it.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ListPage<T: utoipa::ToSchema> {
    pub items: Vec<T>,
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
}

/// Checks page numbers once for every list.
pub fn paging(page: Option<i64>, per_page: Option<i64>) -> Result<(i64, i64), AppError> {
    let page = page.unwrap_or(1);
    let per_page = per_page.unwrap_or(50);
    if !(1..=100_000).contains(&page) {
        return Err(AppError::invalid("page", "between 1 and 100000"));
    }
    if !(1..=200).contains(&per_page) {
        return Err(AppError::invalid("per_page", "between 1 and 200"));
    }
    Ok((page, per_page))
}

/// `%` and `_` typed by a user are literal in a name search.
pub fn like_pattern(part: &str) -> String {
    format!("%{}%", crate::db::like_escape(part))
}
