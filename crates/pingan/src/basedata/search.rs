//! Finding and viewing residents the way users look for them: part of a name, the last digits
//! of an ID number, an exact ID number or phone (through the keyed hash), a grid, a tag. Every
//! result set is filtered by the caller's scope and its records are named in the audit log.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use sqlx::FromRow;
use utoipa::ToSchema;

use super::model::{HouseRelation, Residence, Tag};
use super::resident::{masked_id, shown_name};
use super::{like_pattern, paging, visible, ListPage, Table};
use crate::app::AppState;
use crate::audit::{self, Entry};
use crate::auth::{Caller, Permission};
use crate::jurisdiction::{scope_of, Level, Scope};
use crate::pii::id_number::IdNumber;
use crate::pii::mask::{Phone, Viewer};
use crate::pii::{self};
use crate::web::error::AppError;
use crate::web::middleware::RequestMeta;

/// A resident search. Identifiers are sent here, in the body, never in a URL.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResidentQuery {
    /// Part of a name.
    #[schema(max_length = 50)]
    pub name: Option<String>,
    /// A full ID number (exact match), or its last 4 to 17 characters.
    #[schema(max_length = 30)]
    pub id_number: Option<String>,
    /// A full phone number (exact match).
    #[schema(max_length = 30)]
    pub phone: Option<String>,
    pub grid_id: Option<i64>,
    pub address_id: Option<i64>,
    pub house_id: Option<i64>,
    pub tag: Option<Tag>,
    pub residence: Option<Residence>,
    #[schema(minimum = 1, maximum = 100000)]
    pub page: Option<i64>,
    #[schema(minimum = 1, maximum = 200)]
    pub per_page: Option<i64>,
}

/// One line of a resident list, masked for the viewer.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ResidentItem {
    pub id: i64,
    pub name: String,
    pub sex: String,
    pub birth_date: Option<String>,
    pub id_number: Option<String>,
    pub phone: Option<String>,
    pub residence: String,
    pub address: Option<String>,
    pub grid: Option<String>,
    pub tags: Vec<Tag>,
}

#[derive(FromRow)]
struct Row {
    id: i64,
    name: String,
    sex: String,
    birth_date: Option<String>,
    id_head: Option<String>,
    id_tail: Option<String>,
    residence: String,
    address: Option<String>,
    grid: Option<String>,
    node_id: i64,
}

enum Tail {
    None,
    /// Last 4 characters through the index; longer tails are checked after decryption.
    Digits(String),
}

/// A page of residents matching `q`, audited as a search naming every record returned.
pub async fn search(
    state: &AppState,
    meta: &RequestMeta,
    caller: &Caller,
    q: &ResidentQuery,
) -> Result<ListPage<ResidentItem>, AppError> {
    let (page, per_page) = paging(q.page, q.per_page)?;
    let (items, total) = find(state, caller, q, page, per_page).await?;
    let entry = Entry::new(meta, Some(caller), "resident.search")
        .records(items.iter().map(|i| Table::Resident.record(i.id)))
        .detail(serde_json::json!({"total": total, "by_identifier": q.id_number.is_some() || q.phone.is_some()}));
    audit::write(state, entry).await?;
    Ok(ListPage { items, total, page, per_page })
}

/// The matching residents, masked for the caller, and how many match in all. Not audited: the
/// caller ([`search`], an export) writes the entry naming what it shows.
pub async fn find(
    state: &AppState,
    caller: &Caller,
    q: &ResidentQuery,
    page: i64,
    per_page: i64,
) -> Result<(Vec<ResidentItem>, i64), AppError> {
    if !(caller.has(Permission::PeopleRead) || caller.has(Permission::PeopleReadMasked)) {
        return Err(AppError::Forbidden("this needs the permission people:read or people:read_masked".into()));
    }
    let scope = scope_of(state, caller).await?;
    let today = crate::clock::beijing_today(state.clock.now_ms());
    let mut wheres = vec![format!("r.node_id IN ({})", scope.nodes_sql(Level::Masked))];
    let mut binds: Vec<Bind> = Vec::new();
    let mut tail = Tail::None;
    for (field, value) in [("name", &q.name), ("id_number", &q.id_number), ("phone", &q.phone)] {
        AppError::check_len(field, value.as_deref().unwrap_or(""), if field == "name" { 50 } else { 30 })?;
    }
    if let Some(name) = q.name.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        if name.chars().count() > 50 {
            return Err(AppError::invalid("name", "too long"));
        }
        binds.push(Bind::Text(like_pattern(name)));
        wheres.push(format!("r.name LIKE ${} ESCAPE '\\'", binds.len()));
    }
    if let Some(id) = q.id_number.as_deref().map(|s| s.trim().to_ascii_uppercase()).filter(|s| !s.is_empty()) {
        if id.len() >= 15 {
            let id = IdNumber::parse(&id, today).map_err(|r| AppError::invalid("id_number", r))?;
            binds.push(Bind::Blob(state.key.lookup_hash(pii::ID_NUMBER, id.as_str())));
            wheres.push(format!("r.id_hash = ${}", binds.len()));
        } else if id.len() >= 4 && id.chars().all(|c| c.is_ascii_digit() || c == 'X') {
            binds.push(Bind::Text(id[id.len() - 4..].to_string()));
            wheres.push(format!("r.id_tail = ${}", binds.len()));
            if id.len() > 4 {
                tail = Tail::Digits(id);
            }
        } else {
            return Err(AppError::invalid("id_number", "give the full number or at least its last 4 characters"));
        }
    }
    if let Some(phone) = q.phone.as_deref().filter(|s| !s.trim().is_empty()) {
        let phone = Phone::parse(phone).map_err(|r| AppError::invalid("phone", r))?;
        binds.push(Bind::Blob(state.key.lookup_hash(pii::PHONE, phone.as_str())));
        wheres.push(format!(
            "EXISTS (SELECT 1 FROM resident_phones p WHERE p.resident_id = r.id AND p.phone_hash = ${})",
            binds.len()
        ));
    }
    for (value, column) in [(q.grid_id, "r.grid_id"), (q.address_id, "r.address_id"), (q.house_id, "r.house_id")] {
        if let Some(v) = value {
            binds.push(Bind::Int(v));
            wheres.push(format!("{column} = ${}", binds.len()));
        }
    }
    if let Some(tag) = q.tag {
        binds.push(Bind::Text(tag.code().into()));
        wheres.push(format!(
            "EXISTS (SELECT 1 FROM resident_tags t WHERE t.resident_id = r.id AND t.tag = ${})",
            binds.len()
        ));
    }
    if let Some(res) = q.residence {
        binds.push(Bind::Text(res.code().into()));
        wheres.push(format!("r.residence = ${}", binds.len()));
    }
    let filter = wheres.join(" AND ");
    let from =
        "FROM residents r LEFT JOIN addresses a ON a.id = r.address_id LEFT JOIN org_nodes g ON g.id = r.grid_id";
    let select = format!(
        "SELECT r.id, r.name, r.sex, r.birth_date, r.id_head, r.id_tail, r.residence, a.text AS address, \
         g.name AS grid, r.node_id {from} WHERE {filter} ORDER BY r.name, r.id"
    );
    let (rows, total) = match &tail {
        Tail::Digits(digits) => {
            // Few people share the last 4 characters within one jurisdiction; decrypt those.
            let candidates: Vec<Row> =
                bind_all(sqlx::query_as(&format!("{select} LIMIT 5000")), &binds).fetch_all(state.db.reader()).await?;
            let mut hits = Vec::new();
            for row in candidates {
                let enc: Option<Vec<u8>> = sqlx::query_scalar("SELECT id_enc FROM residents WHERE id = $1")
                    .bind(row.id)
                    .fetch_one(state.db.reader())
                    .await?;
                let full =
                    enc.map(|e| state.key.decrypt_str(&e)).transpose().map_err(|e| AppError::Internal(e.into()))?;
                if full.is_some_and(|f| f.ends_with(digits.as_str())) {
                    hits.push(row);
                }
            }
            let total = hits.len() as i64;
            let page_rows = hits.into_iter().skip(((page - 1) * per_page) as usize).take(per_page as usize).collect();
            (page_rows, total)
        }
        Tail::None => {
            let (total,): (i64,) = bind_all(sqlx::query_as(&format!("SELECT COUNT(*) {from} WHERE {filter}")), &binds)
                .fetch_one(state.db.reader())
                .await?;
            let rows: Vec<Row> = bind_all(
                sqlx::query_as(&format!("{select} LIMIT {per_page} OFFSET {}", (page - 1) * per_page)),
                &binds,
            )
            .fetch_all(state.db.reader())
            .await?;
            (rows, total)
        }
    };
    Ok((items_for(state, caller, &scope, rows).await?, total))
}

/// The viewer for one record: police-style masking only at full level.
pub async fn viewer_at(state: &AppState, caller: &Caller, scope: &Scope, node: i64) -> Result<Viewer, AppError> {
    let full = scope.level_at(state, node).await?.is_some_and(|l| l >= Level::Full);
    Ok(if full { caller.viewer() } else { Viewer::Civilian })
}

async fn items_for(
    state: &AppState,
    caller: &Caller,
    scope: &Scope,
    rows: Vec<Row>,
) -> Result<Vec<ResidentItem>, AppError> {
    // Lists run to thousands of rows (exports): phones, tags and levels are read per batch.
    let mut viewers: HashMap<i64, Viewer> = HashMap::new();
    let mut phones: HashMap<i64, String> = HashMap::new();
    let mut tags: HashMap<i64, Vec<Tag>> = HashMap::new();
    for chunk in rows.chunks(500) {
        let ids = chunk.iter().map(|r| r.id.to_string()).collect::<Vec<_>>().join(",");
        let first: Vec<(i64, String)> = sqlx::query_as(&format!(
            "SELECT resident_id, phone_masked FROM resident_phones WHERE resident_id IN ({ids}) AND ord = \
             (SELECT MIN(p2.ord) FROM resident_phones p2 WHERE p2.resident_id = resident_phones.resident_id)"
        ))
        .fetch_all(state.db.reader())
        .await?;
        phones.extend(first);
        let t: Vec<(i64, String)> = sqlx::query_as(&format!(
            "SELECT resident_id, tag FROM resident_tags WHERE resident_id IN ({ids}) ORDER BY tag"
        ))
        .fetch_all(state.db.reader())
        .await?;
        for (id, tag) in t {
            tags.entry(id).or_default().extend(Tag::parse(&tag));
        }
        for r in chunk {
            if let std::collections::hash_map::Entry::Vacant(slot) = viewers.entry(r.node_id) {
                slot.insert(viewer_at(state, caller, scope, r.node_id).await?);
            }
        }
    }
    Ok(rows
        .into_iter()
        .map(|r| {
            let viewer = viewers[&r.node_id];
            ResidentItem {
                id: r.id,
                name: shown_name(&r.name, viewer),
                sex: r.sex,
                birth_date: if viewer == Viewer::Police {
                    r.birth_date
                } else {
                    r.birth_date.map(|d| d[..4].to_string())
                },
                id_number: masked_id(r.id_head.as_deref(), r.id_tail.as_deref(), viewer),
                phone: phones.remove(&r.id),
                residence: r.residence,
                address: r.address,
                grid: r.grid,
                tags: tags.remove(&r.id).unwrap_or_default(),
            }
        })
        .collect())
}

/// One resident in full detail, masked for the viewer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResidentDetail {
    #[serde(flatten)]
    pub item: ResidentItem,
    pub id_kind: Option<String>,
    pub phones: Vec<String>,
    pub registered_address: String,
    pub address_id: Option<i64>,
    pub house_id: Option<i64>,
    pub house_unit: Option<String>,
    pub house_relation: Option<HouseRelation>,
    pub grid_id: Option<i64>,
    pub note: String,
    pub updated_at: i64,
    /// Whether this caller may ask for the full identifiers (with a reason).
    pub can_unmask: bool,
}

#[derive(FromRow)]
struct DetailRow {
    id_kind: Option<String>,
    registered_address: String,
    address_id: Option<i64>,
    house_id: Option<i64>,
    house_unit: Option<String>,
    house_relation: Option<String>,
    grid_id: Option<i64>,
    note: String,
    updated_at: i64,
}

pub async fn view(state: &AppState, meta: &RequestMeta, caller: &Caller, id: i64) -> Result<ResidentDetail, AppError> {
    let (_, level) = visible(state, meta, caller, Table::Resident, id, "resident.view").await?;
    let scope = scope_of(state, caller).await?;
    let row: Row = sqlx::query_as(
        "SELECT r.id, r.name, r.sex, r.birth_date, r.id_head, r.id_tail, r.residence, a.text AS address, \
         g.name AS grid, r.node_id FROM residents r LEFT JOIN addresses a ON a.id = r.address_id \
         LEFT JOIN org_nodes g ON g.id = r.grid_id WHERE r.id = $1",
    )
    .bind(id)
    .fetch_one(state.db.reader())
    .await?;
    let d: DetailRow = sqlx::query_as(
        "SELECT r.id_kind, r.registered_address, r.address_id, r.house_id, h.unit AS house_unit, r.house_relation, \
         r.grid_id, r.note, r.updated_at FROM residents r LEFT JOIN houses h ON h.id = r.house_id WHERE r.id = $1",
    )
    .bind(id)
    .fetch_one(state.db.reader())
    .await?;
    let viewer = viewer_at(state, caller, &scope, row.node_id).await?;
    let item = items_for(state, caller, &scope, vec![row]).await?.remove(0);
    let phones: Vec<String> =
        sqlx::query_scalar("SELECT phone_masked FROM resident_phones WHERE resident_id = $1 ORDER BY ord")
            .bind(id)
            .fetch_all(state.db.reader())
            .await?;
    let entry = Entry::new(meta, Some(caller), "resident.view").record(Table::Resident.record(id));
    audit::write(state, entry).await?;
    let police = viewer == Viewer::Police;
    Ok(ResidentDetail {
        item,
        id_kind: d.id_kind,
        phones,
        registered_address: if police { d.registered_address } else { String::new() },
        address_id: d.address_id,
        house_id: d.house_id,
        // Non-police roles see addresses to building level only.
        house_unit: if police { d.house_unit } else { None },
        house_relation: d.house_relation.as_deref().and_then(HouseRelation::parse),
        grid_id: d.grid_id,
        note: d.note,
        updated_at: d.updated_at,
        can_unmask: caller.has(Permission::PiiUnmask) && level >= Level::Full,
    })
}

/// A bind value of a dynamically built query.
pub enum Bind {
    Text(String),
    Int(i64),
    Blob(Vec<u8>),
}

pub fn bind_all<'q, O>(
    mut q: sqlx::query::QueryAs<'q, sqlx::Any, O, sqlx::any::AnyArguments<'q>>,
    binds: &'q [Bind],
) -> sqlx::query::QueryAs<'q, sqlx::Any, O, sqlx::any::AnyArguments<'q>> {
    for b in binds {
        q = match b {
            Bind::Text(s) => q.bind(s.as_str()),
            Bind::Int(i) => q.bind(*i),
            Bind::Blob(v) => q.bind(v.as_slice()),
        };
    }
    q
}
