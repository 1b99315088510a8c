//! Standard addresses (标准地址): a text form and a point, placed in the grid that covers it.
//! One address, one row: spellings that differ only in spaces or full-width forms are the same.

use serde::{Deserialize, Serialize};
use sqlx::FromRow;
use utoipa::ToSchema;

use super::area::{place, Placed};
use super::model::{address_key, check_text, DatumCode};
use super::{like_pattern, paging, visible, ListPage, Table};
use crate::app::AppState;
use crate::audit::{self, Entry};
use crate::auth::{Caller, Permission};
use crate::jurisdiction::{scope_of, Level};
use crate::web::error::AppError;
use crate::web::middleware::RequestMeta;

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddressInput {
    /// The standard text, e.g. 新乡市红旗区人民路8号院3号楼.
    #[schema(min_length = 2, max_length = 200)]
    pub text: String,
    pub lon: f64,
    pub lat: f64,
    /// The datum of `lon`/`lat`; stored in WGS-84.
    #[serde(default)]
    pub datum: DatumCode,
}

#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct Address {
    pub id: i64,
    pub text: String,
    /// WGS-84.
    pub lon: f64,
    pub lat: f64,
    pub grid_id: Option<i64>,
    pub grid_code: Option<String>,
    pub grid_name: Option<String>,
    pub houses: i64,
    pub residents: i64,
    pub establishments: i64,
}

const SELECT: &str = "SELECT a.id, a.text, a.lon, a.lat, a.grid_id, g.code AS grid_code, g.name AS grid_name, \
    (SELECT COUNT(*) FROM houses h WHERE h.address_id = a.id) AS houses, \
    (SELECT COUNT(*) FROM residents r WHERE r.address_id = a.id) AS residents, \
    (SELECT COUNT(*) FROM establishments e WHERE e.address_id = a.id) AS establishments \
    FROM addresses a LEFT JOIN org_nodes g ON g.id = a.grid_id";

pub fn check(input: &AddressInput) -> Result<String, AppError> {
    check_text(&input.text, 2, 200).map_err(|r| AppError::invalid("text", r))
}

/// Creates an address; the same standard text twice is a conflict naming the existing one.
pub async fn create(
    state: &AppState,
    meta: &RequestMeta,
    caller: &Caller,
    input: &AddressInput,
) -> Result<i64, AppError> {
    caller.require(Permission::BaseDataWrite)?;
    let text = check(input)?;
    let placed = place(state, input.lon, input.lat, input.datum.into()).await?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let existing: Option<i64> = sqlx::query_scalar("SELECT id FROM addresses WHERE text_key = $1")
        .bind(address_key(&text))
        .fetch_optional(&mut *tx)
        .await?;
    if existing.is_some() {
        return Err(AppError::conflict("text", "this standard address is already recorded"));
    }
    let id = insert(&mut tx, &text, &placed, input.datum, caller.node_id, caller.account_id, now).await?;
    let entry = Entry::new(meta, Some(caller), "address.create").record(Table::Address.record(id));
    audit::append(&mut tx, &state.db, &state.key, now, &entry).await.map_err(|e| audit::audit_failed(state, e))?;
    tx.commit().await?;
    Ok(id)
}

pub async fn insert(
    tx: &mut crate::db::Tx,
    text: &str,
    placed: &Placed,
    datum: DatumCode,
    fallback_node: i64,
    by: Option<i64>,
    now: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO addresses (text, text_key, lon, lat, source_datum, grid_id, node_id, created_at, created_by, \
         updated_at, updated_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $8, $9) RETURNING id",
    )
    .bind(text)
    .bind(address_key(text))
    .bind(placed.lon)
    .bind(placed.lat)
    .bind(pingan_geo::Datum::from(datum).as_str())
    .bind(placed.grid_id)
    .bind(placed.grid_id.unwrap_or(fallback_node))
    .bind(now)
    .bind(by)
    .fetch_one(&mut **tx)
    .await
}

/// Corrects an address's text or point; what stands at it follows it to its grid.
pub async fn update(
    state: &AppState,
    meta: &RequestMeta,
    caller: &Caller,
    id: i64,
    input: &AddressInput,
) -> Result<(), AppError> {
    caller.require(Permission::BaseDataWrite)?;
    let (node, _) = visible(state, meta, caller, Table::Address, id, "address.update").await?;
    let text = check(input)?;
    let placed = place(state, input.lon, input.lat, input.datum.into()).await?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let clash: Option<i64> = sqlx::query_scalar("SELECT id FROM addresses WHERE text_key = $1 AND id <> $2")
        .bind(address_key(&text))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
    if clash.is_some() {
        return Err(AppError::conflict("text", "another address has this standard text"));
    }
    let new_node = placed.grid_id.unwrap_or(node);
    sqlx::query(
        "UPDATE addresses SET text = $1, text_key = $2, lon = $3, lat = $4, source_datum = $5, grid_id = $6, \
         node_id = $7, updated_at = $8, updated_by = $9 WHERE id = $10",
    )
    .bind(&text)
    .bind(address_key(&text))
    .bind(placed.lon)
    .bind(placed.lat)
    .bind(pingan_geo::Datum::from(input.datum).as_str())
    .bind(placed.grid_id)
    .bind(new_node)
    .bind(now)
    .bind(caller.account_id)
    .bind(id)
    .execute(&mut *tx)
    .await?;
    super::reassign::follow_address(&mut tx, id, placed.grid_id, new_node).await?;
    let entry = Entry::new(meta, Some(caller), "address.update")
        .record(Table::Address.record(id))
        .detail(serde_json::json!({"grid_id": placed.grid_id}));
    audit::append(&mut tx, &state.db, &state.key, now, &entry).await.map_err(|e| audit::audit_failed(state, e))?;
    tx.commit().await?;
    Ok(())
}

pub async fn get(state: &AppState, meta: &RequestMeta, caller: &Caller, id: i64) -> Result<Address, AppError> {
    visible(state, meta, caller, Table::Address, id, "address.view").await?;
    Ok(sqlx::query_as(&format!("{SELECT} WHERE a.id = $1")).bind(id).fetch_one(state.db.reader()).await?)
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AddressQuery {
    /// Part of the standard text.
    #[param(max_length = 100)]
    pub q: Option<String>,
    pub grid_id: Option<i64>,
    #[param(minimum = 1, maximum = 100000)]
    pub page: Option<i64>,
    #[param(minimum = 1, maximum = 200)]
    pub per_page: Option<i64>,
}

/// Addresses in the caller's jurisdiction (counts-only callers included: an address is a place,
/// not a person), matching part of the text.
pub async fn search(state: &AppState, caller: &Caller, q: &AddressQuery) -> Result<ListPage<Address>, AppError> {
    let (page, per_page) = paging(q.page, q.per_page)?;
    let (items, total) = find(state, caller, q, page, per_page).await?;
    Ok(ListPage { items, total, page, per_page })
}

/// The matching addresses and how many match in all; `per_page` may exceed a screen's (exports).
pub async fn find(
    state: &AppState,
    caller: &Caller,
    q: &AddressQuery,
    page: i64,
    per_page: i64,
) -> Result<(Vec<Address>, i64), AppError> {
    let scope = scope_of(state, caller).await?;
    AppError::check_len("q", q.q.as_deref().unwrap_or(""), 100)?;
    let text = q.q.as_deref().map(str::trim).unwrap_or("");
    let filter = format!(
        "a.node_id IN ({}) AND a.text LIKE $1 ESCAPE '\\' AND ($2 = 0 OR a.grid_id = $2)",
        scope.nodes_sql(Level::CountsOnly)
    );
    let pattern = like_pattern(text);
    let grid = q.grid_id.unwrap_or(0);
    let (total,): (i64,) = sqlx::query_as(&format!("SELECT COUNT(*) FROM addresses a WHERE {filter}"))
        .bind(&pattern)
        .bind(grid)
        .fetch_one(state.db.reader())
        .await?;
    let items: Vec<Address> = sqlx::query_as(&format!(
        "{SELECT} WHERE {filter} ORDER BY a.text, a.id LIMIT {per_page} OFFSET {}",
        (page - 1) * per_page
    ))
    .bind(&pattern)
    .bind(grid)
    .fetch_all(state.db.reader())
    .await?;
    Ok((items, total))
}
