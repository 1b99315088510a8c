//! Exports of lists to CSV and XLSX. Lists about people need `people:export` and a stated
//! reason, show exactly what the screen shows (masked for the viewer), name every exported record
//! in the audit log with the reason, and carry the viewer's watermark; every cell is neutralised
//! against formula injection by the writers in `tabular`.

use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::ToSchema;

use super::model::{Residence, Sex};
use super::search::{find, ResidentQuery};
use super::Table;
use crate::app::AppState;
use crate::audit::{self, Entry};
use crate::auth::{Caller, Permission};
use crate::clock::format_beijing;
use crate::tabular::{csv_bytes, xlsx_bytes, ExportTable, Format};
use crate::web::error::AppError;
use crate::web::i18n::Lang;
use crate::web::middleware::RequestMeta;

/// More than this and the export is refused: narrow the search instead.
pub const MAX_ROWS: i64 = 100_000;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResidentExport {
    pub format: Format,
    /// Why the list is taken out of the system; kept in the audit log.
    #[schema(min_length = 4, max_length = 200)]
    pub reason: String,
    /// The same filters as the search (page and per_page are ignored: the export holds every match).
    #[serde(default)]
    pub query: ResidentQuery,
}

/// The file as a download response.
pub fn download(bytes: Vec<u8>, format: Format, stem: &str, at: i64) -> Response {
    let name = format!("{stem}-{}.{}", crate::clock::beijing_date(at), format.extension());
    let disposition = format!("attachment; filename=\"{name}\"");
    ([(header::CONTENT_TYPE, format.content_type().to_string()), (header::CONTENT_DISPOSITION, disposition)], bytes)
        .into_response()
}

pub fn watermark(caller: &Caller, at: i64, reason: Option<&str>, lang: Lang) -> String {
    let base = match lang {
        Lang::Zh => format!("导出：{}（{}）{} 北京时间", caller.name, caller.label, format_beijing(at)),
        Lang::En => format!("Exported by {} ({}) at {} Beijing time", caller.name, caller.label, format_beijing(at)),
    };
    match (reason, lang) {
        (Some(r), Lang::Zh) => format!("{base} · 事由：{r}"),
        (Some(r), Lang::En) => format!("{base} · reason: {r}"),
        (None, _) => base,
    }
}

/// Residents matching the query, masked as on screen; audited with the reason and every record.
pub async fn residents(
    state: &AppState,
    meta: &RequestMeta,
    caller: &Caller,
    req: &ResidentExport,
) -> Result<Response, AppError> {
    caller.require(Permission::PeopleExport)?;
    let reason = crate::pii::check_unmask_reason(&req.reason).map_err(|r| AppError::invalid("reason", r))?;
    let (items, total) = find(state, caller, &req.query, 1, MAX_ROWS).await?;
    if total > MAX_ROWS {
        return Err(AppError::invalid(
            "query",
            format!("{total} residents match; an export holds at most {MAX_ROWS}: narrow the search"),
        ));
    }
    let at = state.clock.now_ms();
    let zh = meta.lang == Lang::Zh;
    let t = |k: &str| meta.lang.t(k).to_string();
    let table = ExportTable {
        title: t("res.title"),
        watermark: watermark(caller, at, Some(reason), meta.lang),
        headers: [
            "res.name",
            "res.sex",
            "res.birth",
            "res.id_number",
            "res.phone",
            "res.residence",
            "res.address",
            "res.grid",
            "res.tags",
        ]
        .iter()
        .map(|k| t(k))
        .collect(),
        rows: items
            .iter()
            .map(|r| {
                vec![
                    r.name.clone(),
                    Sex::parse(&r.sex).map(|s| if zh { s.label_zh() } else { s.label_en() }).unwrap_or("").to_string(),
                    r.birth_date.clone().unwrap_or_default(),
                    r.id_number.clone().unwrap_or_default(),
                    r.phone.clone().unwrap_or_default(),
                    Residence::parse(&r.residence)
                        .map(|x| if zh { x.label_zh() } else { x.label_en() })
                        .unwrap_or("")
                        .to_string(),
                    r.address.clone().unwrap_or_default(),
                    r.grid.clone().unwrap_or_default(),
                    r.tags.iter().map(|x| if zh { x.label_zh() } else { x.label_en() }).collect::<Vec<_>>().join("；"),
                ]
            })
            .collect(),
    };
    let mut ids: Vec<i64> = items.iter().map(|i| i.id).collect();
    ids.sort_unstable();
    let entry = Entry::new(meta, Some(caller), "resident.export")
        .records(ids.iter().map(|id| Table::Resident.record(*id)))
        .detail(serde_json::json!({"reason": reason, "format": req.format.extension(), "rows": ids.len()}));
    audit::write(state, entry).await?;
    let bytes = match req.format {
        Format::Csv => csv_bytes(&table),
        Format::Xlsx => xlsx_bytes(&table),
    };
    Ok(download(bytes, req.format, "residents", at))
}

/// The coverage page's table (counts, no one's personal data): no reason needed.
pub async fn coverage(
    state: &AppState,
    meta: &RequestMeta,
    caller: &Caller,
    format: Format,
) -> Result<Response, AppError> {
    let grids = crate::visits::stats::by_grid(state, caller, None).await?;
    let names: Vec<(i64, String, String)> = sqlx::query_as(&format!(
        "SELECT id, code, name FROM org_nodes WHERE id IN ({})",
        crate::jurisdiction::scope_of(state, caller).await?.nodes_sql(crate::jurisdiction::Level::CountsOnly)
    ))
    .fetch_all(state.db.reader())
    .await?;
    let at = state.clock.now_ms();
    let t = |k: &str| meta.lang.t(k).to_string();
    let table = ExportTable {
        title: t("cov.title"),
        watermark: watermark(caller, at, None, meta.lang),
        headers: [
            "org.code",
            "cov.grid",
            "cov.residents",
            "cov.households",
            "cov.visited",
            "cov.rate",
            "cov.last_visit",
            "cov.overdue",
        ]
        .iter()
        .map(|k| t(k))
        .collect(),
        rows: grids
            .iter()
            .map(|g| {
                let (code, name) = names
                    .iter()
                    .find(|(id, _, _)| *id == g.grid_id)
                    .map(|(_, c, n)| (c.clone(), n.clone()))
                    .unwrap_or_default();
                vec![
                    code,
                    name,
                    g.residents.to_string(),
                    g.households.to_string(),
                    g.visited.to_string(),
                    g.coverage.map(|c| format!("{:.1}%", c * 100.0)).unwrap_or_default(),
                    g.last_visit.map(format_beijing).unwrap_or_default(),
                    g.overdue.to_string(),
                ]
            })
            .collect(),
    };
    let bytes = match format {
        Format::Csv => csv_bytes(&table),
        Format::Xlsx => xlsx_bytes(&table),
    };
    Ok(download(bytes, format, "coverage", at))
}
