//! Bulk account import from CSV: `username,name,police_number,phone,node_code,roles` (or
//! 用户名,姓名,警号,手机号,单位代码,角色; roles separated by `;`). Each account gets a temporary
//! password it must change at first sign-in. All rows or none; every bad row is reported.

use serde::Serialize;

use super::service::{create_in, NewAccount};
use crate::app::AppState;
use crate::audit::{self, Entry};
use crate::auth::{Caller, Permission};
use crate::web::error::AppError;
use crate::web::error::RowError;
use crate::web::middleware::RequestMeta;

#[derive(Debug, Default, Serialize, utoipa::ToSchema)]
pub struct AccountImportReport {
    pub created: u64,
    pub errors: Vec<RowError>,
    /// (username, temporary password), shown once.
    pub temporary_passwords: Vec<(String, String)>,
}

const COLUMNS: [(&str, &str); 6] = [
    ("username", "用户名"),
    ("name", "姓名"),
    ("police_number", "警号"),
    ("phone", "手机号"),
    ("node_code", "单位代码"),
    ("roles", "角色"),
];

pub async fn import(
    state: &AppState,
    meta: &RequestMeta,
    caller: &Caller,
    bytes: &[u8],
) -> Result<AccountImportReport, AppError> {
    caller.require(Permission::AccountsWrite)?;
    let mut report = AccountImportReport::default();
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
    let mut index = [None; 6];
    for (i, (en, zh)) in COLUMNS.iter().enumerate() {
        index[i] = headers.iter().position(|h| h.trim() == *en || h.trim() == *zh);
        // police_number, phone and roles may be left out.
        if index[i].is_none() && ![2, 3, 5].contains(&i) {
            report.errors.push(RowError::file(format!("the header row lacks the column {en} ({zh})")));
        }
    }
    if !report.errors.is_empty() {
        return Ok(report);
    }
    let tree = crate::org::service::tree(state, caller).await?;
    let now = state.clock.now_ms();
    let mut ids = Vec::new();
    let mut tx = state.db.begin().await?;
    for (n, record) in reader.records().enumerate() {
        let line = n as u64 + 2;
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                report.errors.push(RowError { line, field: "row".into(), reason: e.to_string() });
                continue;
            }
        };
        let get = |i: usize| index[i].and_then(|j| record.get(j)).unwrap_or("").trim().to_string();
        let roles: Vec<String> =
            get(5).split([';', ';']).map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
        if !roles.is_empty() && !caller.has(Permission::RolesAssign) {
            report.errors.push(RowError {
                line,
                field: "roles".into(),
                reason: "assigning roles needs the security administrator".into(),
            });
            continue;
        }
        let node_code = get(4);
        let Some((node, _)) = tree.iter().find(|(n, _)| n.code == node_code) else {
            report.errors.push(RowError {
                line,
                field: "node_code".into(),
                reason: format!("no unit {node_code} in your jurisdiction"),
            });
            continue;
        };
        let input = NewAccount {
            username: get(0),
            name: get(1),
            police_number: Some(get(2)),
            phone: Some(get(3)),
            node_id: node.id,
            password: None,
            roles,
        };
        let exists: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM accounts WHERE username = $1")
            .bind(&input.username)
            .fetch_one(&mut *tx)
            .await?;
        if exists > 0 {
            report.errors.push(RowError {
                line,
                field: "username".into(),
                reason: "another account already has this username".into(),
            });
            continue;
        }
        let pn_taken: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM accounts WHERE police_number = $1")
            .bind(get(2))
            .fetch_one(&mut *tx)
            .await?;
        if pn_taken > 0 {
            report.errors.push(RowError {
                line,
                field: "police_number".into(),
                reason: "another account already has this police number".into(),
            });
            continue;
        }
        match create_in(&mut tx, &state.key, &input, true, now).await {
            Ok((id, temp)) => {
                ids.push(id);
                report.created += 1;
                report.temporary_passwords.push((input.username.clone(), temp.unwrap_or_default()));
            }
            Err(AppError::Invalid { field, reason }) => report.errors.push(RowError { line, field, reason }),
            Err(AppError::Conflict { field, reason }) => {
                report.errors.push(RowError { line, field: field.unwrap_or_default(), reason })
            }
            Err(e) => return Err(e),
        }
    }
    if !report.errors.is_empty() {
        tx.rollback().await?;
        report.created = 0;
        report.temporary_passwords.clear();
        return Ok(report);
    }
    let entry = Entry::new(meta, Some(caller), "account.import").records(ids.iter().map(|id| format!("account:{id}")));
    audit::append(&mut tx, &state.db, &state.key, now, &entry).await.map_err(|e| audit::audit_failed(state, e))?;
    tx.commit().await?;
    Ok(report)
}
