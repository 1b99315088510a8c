//! Exports of the address, house and establishment lists, on the rules of [`super::export`]: the
//! address list is places and counts (watermark only); houses name their tenants and
//! establishments their legal representatives and phones, so those need `people:export` and a
//! reason, show exactly what the screen shows, and name every record in the audit entry.

use axum::response::Response;
use serde::Deserialize;
use utoipa::ToSchema;

use super::address::{self, AddressQuery};
use super::establishment::{self, EstablishmentQuery};
use super::export::{download, watermark, MAX_ROWS};
use super::house::{self, HouseQuery};
use super::model::{EstablishmentKind, HouseRelation, HouseUse};
use super::Table;
use crate::app::AppState;
use crate::audit::{self, Entry};
use crate::auth::{Caller, Permission};
use crate::jurisdiction::Level;
use crate::tabular::{csv_bytes, xlsx_bytes, ExportTable, Format};
use crate::web::error::AppError;
use crate::web::i18n::Lang;
use crate::web::middleware::RequestMeta;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HouseExport {
    pub format: Format,
    /// Why the list is taken out of the system; kept in the audit log.
    #[schema(min_length = 4, max_length = 200)]
    pub reason: String,
    /// The list's filters (page and per_page are ignored: the export holds every match).
    #[serde(default)]
    pub query: HouseQuery,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EstablishmentExport {
    pub format: Format,
    /// Why the list is taken out of the system; kept in the audit log.
    #[schema(min_length = 4, max_length = 200)]
    pub reason: String,
    /// The search's filters (page and per_page are ignored: the export holds every match).
    #[serde(default)]
    pub query: EstablishmentQuery,
}

fn too_many(total: i64, what: &str) -> AppError {
    AppError::invalid("query", format!("{total} {what} match; an export holds at most {MAX_ROWS}: narrow the search"))
}

fn bytes(format: Format, table: &ExportTable) -> Vec<u8> {
    match format {
        Format::Csv => csv_bytes(table),
        Format::Xlsx => xlsx_bytes(table),
    }
}

fn headers(meta: &RequestMeta, keys: &[&str]) -> Vec<String> {
    keys.iter().map(|k| meta.lang.t(k).to_string()).collect()
}

/// The people-data gate every export of a list about people passes first.
fn reason_of<'a>(caller: &Caller, reason: &'a str) -> Result<&'a str, AppError> {
    caller.require(Permission::PeopleExport)?;
    crate::pii::check_unmask_reason(reason).map_err(|r| AppError::invalid("reason", r))
}

/// Addresses with their grid and counts: places, no one's personal data, so no reason is asked.
pub async fn addresses(
    state: &AppState,
    meta: &RequestMeta,
    caller: &Caller,
    q: &AddressQuery,
    format: Format,
) -> Result<Response, AppError> {
    let (items, total) = address::find(state, caller, q, 1, MAX_ROWS).await?;
    if total > MAX_ROWS {
        return Err(too_many(total, "addresses"));
    }
    let at = state.clock.now_ms();
    let table = ExportTable {
        title: meta.lang.t("addr.title").into(),
        watermark: watermark(caller, at, None, meta.lang),
        headers: headers(
            meta,
            &["addr.text", "org.code", "addr.grid", "addr.houses", "addr.residents", "addr.establishments"],
        ),
        rows: items
            .iter()
            .map(|a| {
                vec![
                    a.text.clone(),
                    a.grid_code.clone().unwrap_or_default(),
                    a.grid_name.clone().unwrap_or_default(),
                    a.houses.to_string(),
                    a.residents.to_string(),
                    a.establishments.to_string(),
                ]
            })
            .collect(),
    };
    let entry = Entry::new(meta, Some(caller), "address.export")
        .detail(serde_json::json!({"format": format.extension(), "rows": items.len()}));
    audit::write(state, entry).await?;
    Ok(download(bytes(format, &table), format, "addresses", at))
}

/// Houses with their use and occupants, tenants named as on screen (masked for the viewer).
pub async fn houses(
    state: &AppState,
    meta: &RequestMeta,
    caller: &Caller,
    req: &HouseExport,
) -> Result<Response, AppError> {
    let reason = reason_of(caller, &req.reason)?;
    // Masked or better: a house seen at counts-only level is in no file that names people.
    let (items, total) = house::find(state, caller, &req.query, Level::Masked, 1, MAX_ROWS).await?;
    if total > MAX_ROWS {
        return Err(too_many(total, "houses"));
    }
    let ids: Vec<i64> = items.iter().map(|h| h.id).collect();
    let mut people = house::occupants(state, caller, &ids).await?;
    let zh = meta.lang == Lang::Zh;
    let mut subjects: Vec<String> = Vec::with_capacity(items.len() * 2);
    let rows = items
        .iter()
        .map(|h| {
            subjects.push(Table::House.record(h.id));
            let tenants: Vec<String> = people
                .remove(&h.id)
                .unwrap_or_default()
                .into_iter()
                .filter(|o| o.relation == Some(HouseRelation::Tenant))
                .map(|o| {
                    subjects.push(Table::Resident.record(o.id));
                    o.name
                })
                .collect();
            let use_kind = HouseUse::parse(&h.use_kind).map(|u| if zh { u.label_zh() } else { u.label_en() });
            vec![
                h.address.clone(),
                h.unit.clone(),
                use_kind.unwrap_or("").to_string(),
                h.area_m2.map(|a| a.to_string()).unwrap_or_default(),
                h.grid.clone().unwrap_or_default(),
                h.residents.to_string(),
                h.tenants.to_string(),
                tenants.join("；"),
            ]
        })
        .collect();
    let at = state.clock.now_ms();
    let table = ExportTable {
        title: meta.lang.t("house.title").into(),
        watermark: watermark(caller, at, Some(reason), meta.lang),
        headers: headers(
            meta,
            &[
                "addr.text",
                "addr.unit",
                "addr.use",
                "house.area",
                "addr.grid",
                "addr.residents",
                "house.tenants",
                "house.tenant_names",
            ],
        ),
        rows,
    };
    let entry = Entry::new(meta, Some(caller), "house.export")
        .records(subjects)
        .detail(serde_json::json!({"reason": reason, "format": req.format.extension(), "rows": items.len()}));
    audit::write(state, entry).await?;
    Ok(download(bytes(req.format, &table), req.format, "houses", at))
}

/// Establishments with their legal representative and phone, masked as on screen.
pub async fn establishments(
    state: &AppState,
    meta: &RequestMeta,
    caller: &Caller,
    req: &EstablishmentExport,
) -> Result<Response, AppError> {
    let reason = reason_of(caller, &req.reason)?;
    let (items, total) = establishment::find(state, caller, &req.query, 1, MAX_ROWS).await?;
    if total > MAX_ROWS {
        return Err(too_many(total, "establishments"));
    }
    let zh = meta.lang == Lang::Zh;
    let kind = |k: EstablishmentKind| if zh { k.label_zh() } else { k.label_en() };
    let at = state.clock.now_ms();
    let table = ExportTable {
        title: meta.lang.t("est.title").into(),
        watermark: watermark(caller, at, Some(reason), meta.lang),
        headers: headers(
            meta,
            &["est.name", "est.kind", "est.credit_code", "est.legal_rep", "res.phone", "addr.text", "addr.grid"],
        ),
        rows: items
            .iter()
            .map(|e| {
                vec![
                    e.name.clone(),
                    kind(e.kind).to_string(),
                    e.credit_code.clone().unwrap_or_default(),
                    e.legal_rep.clone(),
                    e.phone.clone().unwrap_or_default(),
                    e.address.clone(),
                    e.grid.clone().unwrap_or_default(),
                ]
            })
            .collect(),
    };
    let entry = Entry::new(meta, Some(caller), "establishment.export")
        .records(items.iter().map(|e| Table::Establishment.record(e.id)))
        .detail(serde_json::json!({"reason": reason, "format": req.format.extension(), "rows": items.len()}));
    audit::write(state, entry).await?;
    Ok(download(bytes(req.format, &table), req.format, "establishments", at))
}
