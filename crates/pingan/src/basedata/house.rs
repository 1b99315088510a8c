//! Houses (实有房屋): a unit at an address, owner-occupied, rented (with its tenants) or vacant.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use sqlx::FromRow;
use utoipa::ToSchema;

use super::model::{check_text, HouseRelation, HouseUse};
use super::resident::shown_name;
use super::search::viewer_at;
use super::{like_pattern, paging, visible, ListPage, Table};
use crate::app::AppState;
use crate::audit::{self, Entry};
use crate::auth::{Caller, Permission};
use crate::jurisdiction::{scope_of, Level, Scope};
use crate::pii::mask::Viewer;
use crate::web::error::AppError;
use crate::web::middleware::RequestMeta;

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HouseInput {
    pub address_id: i64,
    /// The unit within the address, e.g. 3单元502; empty for the whole house.
    #[serde(default)]
    #[schema(max_length = 50)]
    pub unit: String,
    pub use_kind: HouseUse,
    #[schema(minimum = 1, maximum = 100000)]
    pub area_m2: Option<f64>,
}

/// A house as lists and the record show it. Non-police viewers see the unit with its digits and
/// letters starred: addresses to building level only (ARCHITECTURE.md, personal data).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct House {
    pub id: i64,
    pub address_id: i64,
    pub address: String,
    pub unit: String,
    pub use_kind: String,
    pub area_m2: Option<f64>,
    pub grid_id: Option<i64>,
    pub grid: Option<String>,
    pub residents: i64,
    pub tenants: i64,
}

#[derive(FromRow)]
struct Row {
    id: i64,
    address_id: i64,
    address: String,
    unit: String,
    use_kind: String,
    area_m2: Option<f64>,
    grid_id: Option<i64>,
    grid: Option<String>,
    residents: i64,
    tenants: i64,
    node_id: i64,
}

/// "3单元502" → "*单元***" for viewers who see addresses to building level only.
pub fn shown_unit(unit: &str, viewer: Viewer) -> String {
    match viewer {
        Viewer::Police => unit.to_string(),
        Viewer::Civilian => unit.chars().map(|c| if c.is_alphanumeric() && c.is_ascii() { '*' } else { c }).collect(),
    }
}

fn check(input: &HouseInput) -> Result<String, AppError> {
    if input.area_m2.is_some_and(|a| !(1.0..=100_000.0).contains(&a)) {
        return Err(AppError::invalid("area_m2", "between 1 and 100000 m²"));
    }
    check_text(&input.unit, 0, 50).map_err(|r| AppError::invalid("unit", r))
}

pub async fn create(
    state: &AppState,
    meta: &RequestMeta,
    caller: &Caller,
    input: &HouseInput,
) -> Result<i64, AppError> {
    caller.require(Permission::BaseDataWrite)?;
    let unit = check(input)?;
    let (node, _) = visible(state, meta, caller, Table::Address, input.address_id, "address.view")
        .await
        .map_err(|_| AppError::invalid("address_id", "no such address in your jurisdiction"))?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO houses (address_id, unit, use_kind, area_m2, node_id, created_at, created_by, updated_at, updated_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $6, $7) RETURNING id",
    )
    .bind(input.address_id)
    .bind(&unit)
    .bind(input.use_kind.code())
    .bind(input.area_m2)
    .bind(node)
    .bind(now)
    .bind(caller.account_id)
    .fetch_one(&mut *tx)
    .await
    .map_err(|e| {
        if crate::db::is_unique_violation(&e) {
            AppError::conflict("unit", "this unit is already recorded at the address")
        } else {
            e.into()
        }
    })?;
    let entry = Entry::new(meta, Some(caller), "house.create").record(Table::House.record(id));
    audit::append(&mut tx, &state.db, &state.key, now, &entry).await.map_err(|e| audit::audit_failed(state, e))?;
    tx.commit().await?;
    Ok(id)
}

pub async fn update(
    state: &AppState,
    meta: &RequestMeta,
    caller: &Caller,
    id: i64,
    input: &HouseInput,
) -> Result<(), AppError> {
    caller.require(Permission::BaseDataWrite)?;
    visible(state, meta, caller, Table::House, id, "house.update").await?;
    let unit = check(input)?;
    let at: i64 =
        sqlx::query_scalar("SELECT address_id FROM houses WHERE id = $1").bind(id).fetch_one(state.db.reader()).await?;
    if at != input.address_id {
        return Err(AppError::invalid("address_id", "a house cannot move to another address; record a new one"));
    }
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    sqlx::query(
        "UPDATE houses SET unit = $1, use_kind = $2, area_m2 = $3, updated_at = $4, updated_by = $5 WHERE id = $6",
    )
    .bind(&unit)
    .bind(input.use_kind.code())
    .bind(input.area_m2)
    .bind(now)
    .bind(caller.account_id)
    .bind(id)
    .execute(&mut *tx)
    .await
    .map_err(|e| {
        if crate::db::is_unique_violation(&e) {
            AppError::conflict("unit", "this unit is already recorded at the address")
        } else {
            e.into()
        }
    })?;
    let entry = Entry::new(meta, Some(caller), "house.update").record(Table::House.record(id));
    audit::append(&mut tx, &state.db, &state.key, now, &entry).await.map_err(|e| audit::audit_failed(state, e))?;
    tx.commit().await?;
    Ok(())
}

const SELECT: &str = "SELECT h.id, h.address_id, a.text AS address, h.unit, h.use_kind, h.area_m2, a.grid_id, \
    g.name AS grid, \
    (SELECT COUNT(*) FROM residents r WHERE r.house_id = h.id) AS residents, \
    (SELECT COUNT(*) FROM residents r WHERE r.house_id = h.id AND r.house_relation = 'tenant') AS tenants, \
    h.node_id FROM houses h JOIN addresses a ON a.id = h.address_id LEFT JOIN org_nodes g ON g.id = a.grid_id";

/// Rows as the caller may see them: the unit to building level unless the caller sees the
/// house's unit in full.
async fn shown(state: &AppState, caller: &Caller, scope: &Scope, rows: Vec<Row>) -> Result<Vec<House>, AppError> {
    let mut viewers: HashMap<i64, Viewer> = HashMap::new();
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let viewer = match viewers.get(&r.node_id) {
            Some(v) => *v,
            None => {
                let v = viewer_at(state, caller, scope, r.node_id).await?;
                viewers.insert(r.node_id, v);
                v
            }
        };
        out.push(House {
            id: r.id,
            address_id: r.address_id,
            address: r.address,
            unit: shown_unit(&r.unit, viewer),
            use_kind: r.use_kind,
            area_m2: r.area_m2,
            grid_id: r.grid_id,
            grid: r.grid,
            residents: r.residents,
            tenants: r.tenants,
        });
    }
    Ok(out)
}

pub async fn get(state: &AppState, meta: &RequestMeta, caller: &Caller, id: i64) -> Result<House, AppError> {
    visible(state, meta, caller, Table::House, id, "house.view").await?;
    let row: Row = sqlx::query_as(&format!("{SELECT} WHERE h.id = $1")).bind(id).fetch_one(state.db.reader()).await?;
    let scope = scope_of(state, caller).await?;
    Ok(shown(state, caller, &scope, vec![row]).await?.remove(0))
}

/// The houses at an address the caller can see.
pub async fn at_address(
    state: &AppState,
    meta: &RequestMeta,
    caller: &Caller,
    address_id: i64,
) -> Result<Vec<House>, AppError> {
    visible(state, meta, caller, Table::Address, address_id, "address.view").await?;
    let rows: Vec<Row> = sqlx::query_as(&format!("{SELECT} WHERE h.address_id = $1 ORDER BY h.unit, h.id"))
        .bind(address_id)
        .fetch_all(state.db.reader())
        .await?;
    let scope = scope_of(state, caller).await?;
    shown(state, caller, &scope, rows).await
}

/// A house list: by part of the address, a grid, an address, how the house is used.
#[derive(Debug, Clone, Default, Deserialize, ToSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HouseQuery {
    /// Part of the standard address text.
    #[param(max_length = 100)]
    pub q: Option<String>,
    #[param(minimum = 1)]
    pub grid_id: Option<i64>,
    #[param(minimum = 1)]
    pub address_id: Option<i64>,
    pub use_kind: Option<HouseUse>,
    #[param(minimum = 1, maximum = 100000)]
    pub page: Option<i64>,
    #[param(minimum = 1, maximum = 200)]
    pub per_page: Option<i64>,
}

/// A page of houses in the caller's jurisdiction. A house is a place: counts-only callers list
/// them too (with units to building level), and the list names no one, so it is not audited.
pub async fn search(state: &AppState, caller: &Caller, q: &HouseQuery) -> Result<ListPage<House>, AppError> {
    let (page, per_page) = paging(q.page, q.per_page)?;
    let (items, total) = find(state, caller, q, Level::CountsOnly, page, per_page).await?;
    Ok(ListPage { items, total, page, per_page })
}

/// The houses matching `q` visible at `min` or better, and how many match in all.
pub async fn find(
    state: &AppState,
    caller: &Caller,
    q: &HouseQuery,
    min: Level,
    page: i64,
    per_page: i64,
) -> Result<(Vec<House>, i64), AppError> {
    AppError::check_len("q", q.q.as_deref().unwrap_or(""), 100)?;
    for (field, v) in [("grid_id", q.grid_id), ("address_id", q.address_id)] {
        if v.is_some_and(|v| v < 1) {
            return Err(AppError::invalid(field, "a record number, at least 1"));
        }
    }
    let scope = scope_of(state, caller).await?;
    let filter = format!(
        "h.node_id IN ({}) AND a.text LIKE $1 ESCAPE '\\' AND ($2 = 0 OR a.grid_id = $2) AND ($3 = 0 OR h.address_id = $3) \
         AND ($4 = '' OR h.use_kind = $4)",
        scope.nodes_sql(min)
    );
    let pattern = like_pattern(q.q.as_deref().map(str::trim).unwrap_or(""));
    let (grid, address) = (q.grid_id.unwrap_or(0), q.address_id.unwrap_or(0));
    let use_kind = q.use_kind.map(|u| u.code()).unwrap_or("");
    let (total,): (i64,) = sqlx::query_as(&format!(
        "SELECT COUNT(*) FROM houses h JOIN addresses a ON a.id = h.address_id WHERE {filter}"
    ))
    .bind(&pattern)
    .bind(grid)
    .bind(address)
    .bind(use_kind)
    .fetch_one(state.db.reader())
    .await?;
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "{SELECT} WHERE {filter} ORDER BY a.text, h.unit, h.id LIMIT {per_page} OFFSET {}",
        (page - 1) * per_page
    ))
    .bind(&pattern)
    .bind(grid)
    .bind(address)
    .bind(use_kind)
    .fetch_all(state.db.reader())
    .await?;
    Ok((shown(state, caller, &scope, rows).await?, total))
}

/// Someone living in a house, masked for the viewer.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Occupant {
    pub id: i64,
    pub name: String,
    pub relation: Option<HouseRelation>,
}

#[derive(FromRow)]
struct OccupantRow {
    house_id: i64,
    id: i64,
    name: String,
    house_relation: Option<String>,
    node_id: i64,
}

/// The residents of each house in `houses` whom the caller may see (masked level or better),
/// owners first, then family, tenants, others. Not audited: the caller names them in its entry.
pub async fn occupants(
    state: &AppState,
    caller: &Caller,
    houses: &[i64],
) -> Result<HashMap<i64, Vec<Occupant>>, AppError> {
    let scope = scope_of(state, caller).await?;
    let mut viewers: HashMap<i64, Viewer> = HashMap::new();
    let mut out: HashMap<i64, Vec<Occupant>> = HashMap::new();
    for chunk in houses.chunks(500) {
        let ids = chunk.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
        let rows: Vec<OccupantRow> = sqlx::query_as(&format!(
            "SELECT house_id, id, name, house_relation, node_id FROM residents \
             WHERE house_id IN ({ids}) AND node_id IN ({}) ORDER BY house_id, name, id",
            scope.nodes_sql(Level::Masked)
        ))
        .fetch_all(state.db.reader())
        .await?;
        for r in rows {
            let viewer = match viewers.get(&r.node_id) {
                Some(v) => *v,
                None => *viewers.entry(r.node_id).or_insert(viewer_at(state, caller, &scope, r.node_id).await?),
            };
            let relation = r.house_relation.as_deref().and_then(HouseRelation::parse);
            out.entry(r.house_id).or_default().push(Occupant { id: r.id, name: shown_name(&r.name, viewer), relation });
        }
    }
    let rank = |o: &Occupant| o.relation.and_then(|r| HouseRelation::ALL.iter().position(|x| *x == r));
    for list in out.values_mut() {
        list.sort_by_key(|o| rank(o).unwrap_or(usize::MAX));
    }
    Ok(out)
}

/// One house with the people living in it, audited naming the house and each of them.
pub async fn view(
    state: &AppState,
    meta: &RequestMeta,
    caller: &Caller,
    id: i64,
) -> Result<(House, Vec<Occupant>), AppError> {
    let house = get(state, meta, caller, id).await?;
    let people = occupants(state, caller, &[id]).await?.remove(&id).unwrap_or_default();
    let entry = Entry::new(meta, Some(caller), "house.view")
        .record(Table::House.record(id))
        .records(people.iter().map(|o| Table::Resident.record(o.id)));
    audit::write(state, entry).await?;
    Ok((house, people))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_show_to_building_level_for_civilians() {
        assert_eq!(shown_unit("3单元502", Viewer::Civilian), "*单元***");
        assert_eq!(shown_unit("B-1201", Viewer::Civilian), "*-****");
        assert_eq!(shown_unit("3单元502", Viewer::Police), "3单元502");
        assert_eq!(shown_unit("", Viewer::Civilian), "");
    }
}
