//! Searching the audit log (auditors only). Every search is itself audited.

use crate::app::AppState;
use crate::audit::{self, Entry};
use crate::auth::{Caller, Permission};
use crate::db;
use crate::web::error::AppError;
use crate::web::middleware::RequestMeta;

#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct Filter {
    /// Exact username of who acted.
    #[param(max_length = 64)]
    pub actor: Option<String>,
    /// Action code or its prefix, e.g. `auth.` or `account.unmask_phone`.
    #[param(max_length = 64)]
    pub action: Option<String>,
    /// A record, e.g. `account:12`.
    #[param(max_length = 64)]
    pub record: Option<String>,
    /// Beijing time, `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM`.
    #[param(max_length = 20)]
    pub from: Option<String>,
    #[param(max_length = 20)]
    pub to: Option<String>,
    #[param(minimum = 1, maximum = 100000)]
    pub page: Option<i64>,
}

#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Row {
    pub seq: i64,
    pub at: i64,
    pub actor: String,
    pub ip: String,
    pub action: String,
    pub records: String,
    pub outcome: String,
    pub request_id: String,
    pub detail: String,
}

pub const PAGE_SIZE: i64 = 100;

/// Returns one page of matching entries (newest first) and the total.
pub async fn search(
    state: &AppState,
    meta: &RequestMeta,
    caller: &Caller,
    f: &Filter,
    limit: i64,
) -> Result<(Vec<Row>, i64), AppError> {
    caller.require(Permission::AuditRead)?;
    let mut clauses: Vec<String> = Vec::new();
    let mut binds: Vec<String> = Vec::new();
    let mut add = |clause: &str, value: String| {
        binds.push(value);
        clauses.push(clause.replace('?', &format!("${}", binds.len())));
    };
    for (name, value) in [("actor", &f.actor), ("action", &f.action), ("record", &f.record)] {
        if value.as_ref().is_some_and(|v| v.chars().count() > 64) {
            return Err(AppError::invalid(name, "at most 64 characters"));
        }
    }
    let clean = |s: &Option<String>| s.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(String::from);
    if let Some(a) = clean(&f.actor) {
        add("actor = ?", a);
    }
    if let Some(a) = clean(&f.action) {
        add(&format!("action LIKE ? {}", db::LIKE_ESCAPE), format!("{}%", db::like_escape(&a)));
    }
    if let Some(r) = clean(&f.record) {
        add(&format!("records LIKE ? {}", db::LIKE_ESCAPE), format!("%,{},%", db::like_escape(&r.replace(',', ""))));
    }
    let mut times = Vec::new();
    for (name, value, op) in [("from", &f.from, ">="), ("to", &f.to, "<")] {
        if let Some(v) = clean(value) {
            let mut ms = crate::clock::parse_beijing(&v)
                .ok_or_else(|| AppError::invalid(name, "a date as YYYY-MM-DD or YYYY-MM-DDTHH:MM"))?;
            if name == "to" && v.len() == 10 {
                ms += 86_400_000;
            }
            times.push(format!("at {op} {ms}"));
        }
    }
    clauses.extend(times);
    let page = f.page.unwrap_or(1);
    if !(1..=100_000).contains(&page) {
        return Err(AppError::invalid("page", "1 to 100000"));
    }
    let where_sql = if clauses.is_empty() { String::new() } else { format!("WHERE {}", clauses.join(" AND ")) };
    let count_sql = format!("SELECT COUNT(*) FROM audit_log {where_sql}");
    let mut count = sqlx::query_scalar::<_, i64>(&count_sql);
    for b in &binds {
        count = count.bind(b.clone());
    }
    let total = count.fetch_one(state.db.reader()).await?;
    let sql = format!(
        "SELECT seq, at, actor, ip, action, records, outcome, request_id, detail FROM audit_log {where_sql} \
         ORDER BY seq DESC LIMIT {limit} OFFSET {}",
        (page - 1) * limit
    );
    let mut q = sqlx::query_as::<_, Row>(&sql);
    for b in &binds {
        q = q.bind(b.clone());
    }
    let rows = q.fetch_all(state.db.reader()).await?;
    let entry = Entry::new(meta, Some(caller), "audit.search").detail(serde_json::json!({
        "actor": f.actor, "action": f.action, "record": f.record, "from": f.from, "to": f.to, "page": page, "results": rows.len(),
    }));
    audit::write(state, entry).await?;
    Ok((rows, total))
}

/// CSV of the matching entries (up to 100,000), formula-safe, opening with a watermark row
/// naming who exported it and when.
pub fn to_csv(rows: &[Row], viewer: &str, at: i64) -> Result<Vec<u8>, AppError> {
    let mut w = csv::WriterBuilder::new().flexible(true).from_writer(vec![0xEF, 0xBB, 0xBF]);
    let exported_at = crate::clock::format_beijing(at);
    w.write_record(["导出人 exported by", &neutralise_formula(viewer), "导出时间 exported at", &exported_at])
        .map_err(|e| AppError::Internal(e.into()))?;
    w.write_record(["seq", "time", "actor", "address", "action", "records", "outcome", "request_id", "detail"])
        .map_err(|e| AppError::Internal(e.into()))?;
    for r in rows {
        let time = crate::clock::format_beijing(r.at);
        let fields = [
            r.seq.to_string(),
            time,
            r.actor.clone(),
            r.ip.clone(),
            r.action.clone(),
            r.records.trim_matches(',').to_string(),
            r.outcome.clone(),
            r.request_id.clone(),
            r.detail.clone(),
        ];
        w.write_record(fields.iter().map(|f| neutralise_formula(f))).map_err(|e| AppError::Internal(e.into()))?;
    }
    w.into_inner().map_err(|e| AppError::Internal(anyhow::anyhow!("{e}")))
}

/// Spreadsheets execute cells starting with = + - @ (and tab/CR); prefix them with a quote.
pub fn neutralise_formula(s: &str) -> String {
    match s.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{s}"),
        _ => s.to_string(),
    }
}
