//! Establishments (实有单位): businesses and institutions at an address, with their unified
//! social credit code and legal representative.

use serde::{Deserialize, Serialize};
use sqlx::FromRow;
use utoipa::ToSchema;

use super::model::{check_credit_code, check_person_name, check_text, EstablishmentKind};
use super::resident::shown_name;
use super::search::viewer_at;
use super::{like_pattern, paging, visible, ListPage, Table};
use crate::app::AppState;
use crate::audit::{self, Entry};
use crate::auth::{Caller, Permission};
use crate::jurisdiction::{scope_of, Level};
use crate::pii::mask::Phone;
use crate::pii::{self};
use crate::web::error::AppError;
use crate::web::middleware::RequestMeta;

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EstablishmentInput {
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    pub kind: EstablishmentKind,
    /// 统一社会信用代码, 18 characters; optional for unregistered stalls.
    #[schema(max_length = 30)]
    pub credit_code: Option<String>,
    #[schema(min_length = 1, max_length = 50)]
    pub legal_rep: String,
    #[schema(max_length = 30)]
    pub phone: Option<String>,
    pub address_id: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Establishment {
    pub id: i64,
    pub name: String,
    pub kind: EstablishmentKind,
    pub credit_code: Option<String>,
    pub legal_rep: String,
    pub phone: Option<String>,
    pub address_id: i64,
    pub address: String,
    pub grid: Option<String>,
}

#[derive(FromRow)]
struct Row {
    id: i64,
    name: String,
    kind: String,
    credit_code: Option<String>,
    legal_rep: String,
    phone_masked: Option<String>,
    address_id: i64,
    address: String,
    grid: Option<String>,
    node_id: i64,
}

struct Checked {
    name: String,
    credit_code: Option<String>,
    legal_rep: String,
    phone: Option<Phone>,
}

fn check(input: &EstablishmentInput) -> Result<Checked, AppError> {
    AppError::check_len("credit_code", input.credit_code.as_deref().unwrap_or(""), 30)?;
    AppError::check_len("phone", input.phone.as_deref().unwrap_or(""), 30)?;
    let name = check_text(&input.name, 1, 100).map_err(|r| AppError::invalid("name", r))?;
    let credit_code = match input.credit_code.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(c) => Some(check_credit_code(c).map_err(|r| AppError::invalid("credit_code", r))?),
        None => None,
    };
    let legal_rep = check_person_name(&input.legal_rep).map_err(|r| AppError::invalid("legal_rep", r))?;
    let phone = match input.phone.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(p) => Some(Phone::parse(p).map_err(|r| AppError::invalid("phone", r))?),
        None => None,
    };
    Ok(Checked { name, credit_code, legal_rep, phone })
}

fn conflict(e: sqlx::Error) -> AppError {
    if crate::db::is_unique_violation(&e) {
        AppError::conflict("credit_code", "an establishment with this credit code is already recorded")
    } else {
        e.into()
    }
}

/// Creates an establishment at an address; or, with `id`, replaces its fields.
pub async fn save(
    state: &AppState,
    meta: &RequestMeta,
    caller: &Caller,
    id: Option<i64>,
    input: &EstablishmentInput,
) -> Result<i64, AppError> {
    caller.require(Permission::BaseDataWrite)?;
    if let Some(id) = id {
        visible(state, meta, caller, Table::Establishment, id, "establishment.update").await?;
    }
    let c = check(input)?;
    let (node, _) = visible(state, meta, caller, Table::Address, input.address_id, "address.view")
        .await
        .map_err(|_| AppError::invalid("address_id", "no such address in your jurisdiction"))?;
    let grid: Option<i64> = sqlx::query_scalar("SELECT grid_id FROM addresses WHERE id = $1")
        .bind(input.address_id)
        .fetch_one(state.db.reader())
        .await?;
    let key = &state.key;
    let phone_enc = c.phone.as_ref().map(|p| key.encrypt_str(p.as_str()));
    let phone_hash = c.phone.as_ref().map(|p| key.lookup_hash(pii::PHONE, p.as_str()));
    let phone_masked = c.phone.as_ref().map(Phone::masked);
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let sql = match id {
        None => "INSERT INTO establishments (name, kind, credit_code, legal_rep, phone_enc, phone_hash, phone_masked, \
                 address_id, grid_id, node_id, created_at, created_by, updated_at, updated_by) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $11, $12) RETURNING id",
        Some(_) => "UPDATE establishments SET name = $1, kind = $2, credit_code = $3, legal_rep = $4, phone_enc = $5, \
                    phone_hash = $6, phone_masked = $7, address_id = $8, grid_id = $9, node_id = $10, updated_at = $11, \
                    updated_by = $12 WHERE id = $13 RETURNING id",
    };
    let mut query = sqlx::query_scalar::<_, i64>(sql)
        .bind(&c.name)
        .bind(input.kind.code())
        .bind(&c.credit_code)
        .bind(&c.legal_rep)
        .bind(phone_enc)
        .bind(phone_hash)
        .bind(phone_masked)
        .bind(input.address_id)
        .bind(grid)
        .bind(node)
        .bind(now)
        .bind(caller.account_id);
    if let Some(id) = id {
        query = query.bind(id);
    }
    let saved = query.fetch_one(&mut *tx).await.map_err(conflict)?;
    let action = if id.is_some() { "establishment.update" } else { "establishment.create" };
    let entry = Entry::new(meta, Some(caller), action).record(Table::Establishment.record(saved));
    audit::append(&mut tx, &state.db, &state.key, now, &entry).await.map_err(|e| audit::audit_failed(state, e))?;
    tx.commit().await?;
    Ok(saved)
}

const SELECT: &str = "SELECT e.id, e.name, e.kind, e.credit_code, e.legal_rep, e.phone_masked, e.address_id, \
    a.text AS address, g.name AS grid, e.node_id FROM establishments e JOIN addresses a ON a.id = e.address_id \
    LEFT JOIN org_nodes g ON g.id = e.grid_id";

async fn shown(state: &AppState, caller: &Caller, rows: Vec<Row>) -> Result<Vec<Establishment>, AppError> {
    let scope = scope_of(state, caller).await?;
    // Exports run to thousands of rows in a few grids: one level lookup per grid, not per row.
    let mut viewers: std::collections::HashMap<i64, crate::pii::mask::Viewer> = Default::default();
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let viewer = match viewers.get(&r.node_id) {
            Some(v) => *v,
            None => *viewers.entry(r.node_id).or_insert(viewer_at(state, caller, &scope, r.node_id).await?),
        };
        out.push(Establishment {
            id: r.id,
            name: r.name,
            kind: EstablishmentKind::parse(&r.kind).unwrap_or(EstablishmentKind::Other),
            credit_code: r.credit_code,
            legal_rep: shown_name(&r.legal_rep, viewer),
            phone: r.phone_masked,
            address_id: r.address_id,
            address: r.address,
            grid: r.grid,
        });
    }
    Ok(out)
}

pub async fn get(state: &AppState, meta: &RequestMeta, caller: &Caller, id: i64) -> Result<Establishment, AppError> {
    visible(state, meta, caller, Table::Establishment, id, "establishment.view").await?;
    let row: Row = sqlx::query_as(&format!("{SELECT} WHERE e.id = $1")).bind(id).fetch_one(state.db.reader()).await?;
    let entry = Entry::new(meta, Some(caller), "establishment.view").record(Table::Establishment.record(id));
    audit::write(state, entry).await?;
    Ok(shown(state, caller, vec![row]).await?.remove(0))
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EstablishmentQuery {
    /// Part of the name.
    #[schema(max_length = 100)]
    pub name: Option<String>,
    #[schema(max_length = 30)]
    pub credit_code: Option<String>,
    pub kind: Option<EstablishmentKind>,
    pub grid_id: Option<i64>,
    pub address_id: Option<i64>,
    #[schema(minimum = 1, maximum = 100000)]
    pub page: Option<i64>,
    #[schema(minimum = 1, maximum = 200)]
    pub per_page: Option<i64>,
}

/// A page of establishments matching `q`, masked for the caller; audited naming every record
/// shown (a list carries legal representatives and their phones).
pub async fn search(
    state: &AppState,
    meta: &RequestMeta,
    caller: &Caller,
    q: &EstablishmentQuery,
) -> Result<ListPage<Establishment>, AppError> {
    let (page, per_page) = paging(q.page, q.per_page)?;
    let (items, total) = find(state, caller, q, page, per_page).await?;
    let entry = Entry::new(meta, Some(caller), "establishment.search")
        .records(items.iter().map(|i| Table::Establishment.record(i.id)));
    audit::write(state, entry).await?;
    Ok(ListPage { items, total, page, per_page })
}

/// The matching establishments, masked for the caller, and how many match in all. Not audited:
/// the caller ([`search`], an export) writes the entry naming what it shows.
pub async fn find(
    state: &AppState,
    caller: &Caller,
    q: &EstablishmentQuery,
    page: i64,
    per_page: i64,
) -> Result<(Vec<Establishment>, i64), AppError> {
    if !(caller.has(Permission::PeopleRead) || caller.has(Permission::PeopleReadMasked)) {
        return Err(AppError::Forbidden("this needs the permission people:read or people:read_masked".into()));
    }
    let scope = scope_of(state, caller).await?;
    AppError::check_len("name", q.name.as_deref().unwrap_or(""), 100)?;
    AppError::check_len("credit_code", q.credit_code.as_deref().unwrap_or(""), 30)?;
    let name = q.name.as_deref().map(str::trim).unwrap_or("");
    let credit = match q.credit_code.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(c) => check_credit_code(c).map_err(|r| AppError::invalid("credit_code", r))?,
        None => String::new(),
    };
    let filter = format!(
        "e.node_id IN ({}) AND e.name LIKE $1 ESCAPE '\\' AND ($2 = '' OR e.credit_code = $2) AND ($3 = '' OR e.kind = $3) \
         AND ($4 = 0 OR e.grid_id = $4) AND ($5 = 0 OR e.address_id = $5)",
        scope.nodes_sql(Level::Masked)
    );
    let pattern = like_pattern(name);
    let kind = q.kind.map(|k| k.code()).unwrap_or("");
    let (grid, address) = (q.grid_id.unwrap_or(0), q.address_id.unwrap_or(0));
    let (total,): (i64,) = sqlx::query_as(&format!("SELECT COUNT(*) FROM establishments e WHERE {filter}"))
        .bind(&pattern)
        .bind(&credit)
        .bind(kind)
        .bind(grid)
        .bind(address)
        .fetch_one(state.db.reader())
        .await?;
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "{SELECT} WHERE {filter} ORDER BY e.name, e.id LIMIT {per_page} OFFSET {}",
        (page - 1) * per_page
    ))
    .bind(&pattern)
    .bind(&credit)
    .bind(kind)
    .bind(grid)
    .bind(address)
    .fetch_all(state.db.reader())
    .await?;
    Ok((shown(state, caller, rows).await?, total))
}

/// The recorded phone in full, for the edit form: it shows the phone masked and posts back only
/// whether to keep it, so [`save`] takes the kept value from here. Never rendered or logged.
pub async fn recorded_phone(
    state: &AppState,
    meta: &RequestMeta,
    caller: &Caller,
    id: i64,
) -> Result<Option<String>, AppError> {
    caller.require(Permission::BaseDataWrite)?;
    visible(state, meta, caller, Table::Establishment, id, "establishment.update").await?;
    let enc: Option<Vec<u8>> = sqlx::query_scalar("SELECT phone_enc FROM establishments WHERE id = $1")
        .bind(id)
        .fetch_one(state.db.reader())
        .await?;
    enc.as_deref().map(|e| state.key.decrypt_str(e).map_err(|e| AppError::Internal(e.into()))).transpose()
}
