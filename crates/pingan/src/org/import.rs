//! Importing a whole tree from CSV by code: `code,kind,name,parent_code,valid_from` (or the
//! Chinese headers 代码,类型,名称,上级代码,生效日期). Parents must come before children or exist
//! already. A known code is updated (renamed or moved), a new one created. Every rejected row
//! is reported with its line; if any row is rejected nothing is written.

use serde::Serialize;

use super::service::{create_in, move_in, NewNode};
use super::store;
use crate::db::Tx;
use crate::web::error::AppError;

pub use crate::web::error::RowError;

#[derive(Debug, Default, Clone, Serialize, utoipa::ToSchema)]
pub struct ImportReport {
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub errors: Vec<RowError>,
    /// Node ids touched, for the audit entry.
    #[serde(skip)]
    pub touched: Vec<i64>,
}

const COLUMNS: [(&str, &str); 5] =
    [("code", "代码"), ("kind", "类型"), ("name", "名称"), ("parent_code", "上级代码"), ("valid_from", "生效日期")];

/// Applies the CSV inside `tx`. The caller commits only if `errors` is empty.
pub async fn apply(
    tx: &mut Tx,
    actor: Option<i64>,
    within: Option<i64>,
    bytes: &[u8],
    now: i64,
) -> Result<ImportReport, AppError> {
    let mut report = ImportReport::default();
    let Some(text) = std::str::from_utf8(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)).ok() else {
        report.errors.push(RowError::file("the file is not UTF-8 text"));
        return Ok(report);
    };
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(text.as_bytes());
    let headers = match reader.headers() {
        Ok(h) => h.clone(),
        Err(e) => {
            report.errors.push(RowError::file(format!("cannot read the header row: {e}")));
            return Ok(report);
        }
    };
    let mut index = [usize::MAX; 5];
    for (i, (en, zh)) in COLUMNS.iter().enumerate() {
        match headers.iter().position(|h| h.trim() == *en || h.trim() == *zh) {
            Some(at) => index[i] = at,
            None => report.errors.push(RowError::file(format!("the header row lacks the column {en} ({zh})"))),
        }
    }
    if !report.errors.is_empty() {
        return Ok(report);
    }
    for (n, record) in reader.records().enumerate() {
        let line = n as u64 + 2;
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                report.errors.push(RowError { line, field: "row".into(), reason: e.to_string() });
                continue;
            }
        };
        let get = |i: usize| record.get(index[i]).unwrap_or("").trim().to_string();
        let (code, kind, name, parent_code, valid_from) = (get(0), get(1), get(2), get(3), get(4));
        if let Err(e) =
            apply_row(tx, actor, within, &mut report, [&code, &kind, &name, &parent_code, &valid_from], now).await
        {
            let (field, reason) = match e {
                AppError::Invalid { field, reason } => (field, reason),
                AppError::Conflict { field, reason } => (field.unwrap_or_else(|| "row".into()), reason),
                AppError::NotFound => ("code".into(), "no such unit in your jurisdiction".into()),
                other => return Err(other),
            };
            report.errors.push(RowError { line, field, reason });
        }
    }
    Ok(report)
}

async fn apply_row(
    tx: &mut Tx,
    actor: Option<i64>,
    within: Option<i64>,
    report: &mut ImportReport,
    row: [&str; 5],
    now: i64,
) -> Result<(), AppError> {
    let [code, kind, name, parent_code, valid_from] = row;
    let parent_id = if parent_code.is_empty() {
        None
    } else {
        match store::by_code(tx, parent_code).await? {
            Some(p) => Some(p.id),
            None => {
                return Err(AppError::invalid(
                    "parent_code",
                    format!("no unit has the code {parent_code} (parents must come first)"),
                ))
            }
        }
    };
    match store::by_code(tx, code).await? {
        Some(existing) => {
            if existing.kind != kind {
                return Err(AppError::invalid(
                    "kind",
                    format!("{code} is a {}; a unit's kind does not change", existing.kind),
                ));
            }
            let mut changed = false;
            if existing.name != name {
                crate::org::model::check_name(name).map_err(|r| AppError::invalid("name", r))?;
                sqlx::query("UPDATE org_nodes SET name = $1, updated_at = $2 WHERE id = $3")
                    .bind(name)
                    .bind(now)
                    .bind(existing.id)
                    .execute(&mut **tx)
                    .await?;
                store::history(tx, existing.id, actor, "renamed", Some(&existing.name), Some(name), now).await?;
                changed = true;
            }
            if let Some(pid) = parent_id.filter(|p| Some(*p) != existing.parent_id) {
                move_in(tx, actor, within, existing.id, pid, now).await?;
                changed = true;
            }
            if changed {
                report.updated += 1;
                report.touched.push(existing.id);
            } else {
                report.unchanged += 1;
            }
        }
        None => {
            let input = NewNode {
                code: code.to_string(),
                kind: kind.to_string(),
                name: name.to_string(),
                parent_id,
                valid_from: (!valid_from.is_empty()).then(|| valid_from.to_string()),
            };
            let id = create_in(tx, actor, within, &input, now).await?;
            report.created += 1;
            report.touched.push(id);
        }
    }
    Ok(())
}
