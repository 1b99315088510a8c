//! The in-app inbox. A notification is addressed to one account, or to a role at a unit so that
//! whoever holds that role there reads it (the station head on duty, not a named person).
//!
//! Tables: `notifications`, `notification_reads`.
//! Invariant: payloads carry no personal identifiers; they name records by id.

pub mod pages;

use serde::Serialize;
use utoipa::ToSchema;

use crate::app::AppState;
use crate::auth::Caller;
use crate::db::Tx;
use crate::web::error::AppError;

pub async fn send_to_account(
    tx: &mut Tx,
    account_id: i64,
    kind: &str,
    case_id: Option<i64>,
    payload: &serde_json::Value,
    now: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO notifications (created_at, account_id, kind, case_id, payload) VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(now)
    .bind(account_id)
    .bind(kind)
    .bind(case_id)
    .bind(payload.to_string())
    .fetch_one(&mut **tx)
    .await
}

/// To whoever holds `role` at `node_id`, now or when they next look.
pub async fn send_to_role(
    tx: &mut Tx,
    node_id: i64,
    role: &str,
    kind: &str,
    case_id: Option<i64>,
    payload: &serde_json::Value,
    now: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO notifications (created_at, node_id, role, kind, case_id, payload) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(now)
    .bind(node_id)
    .bind(role)
    .bind(kind)
    .bind(case_id)
    .bind(payload.to_string())
    .fetch_one(&mut **tx)
    .await
}

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Notification {
    pub id: i64,
    pub created_at: i64,
    pub kind: String,
    pub case_id: Option<i64>,
    /// What happened, without personal data, e.g. `{"grade": "red", "step": "contact"}`.
    #[schema(value_type = Object)]
    pub payload: String,
    pub read: bool,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    created_at: i64,
    kind: String,
    case_id: Option<i64>,
    payload: String,
    read_at: Option<i64>,
}

/// `(account condition, binds)`: what reaches the caller. Role codes are our own identifiers
/// (`[a-z0-9_]`), checked when roles are saved, so they can be inlined.
fn addressed_to(caller: &Caller) -> Option<(i64, String)> {
    let account = caller.account_id?;
    let roles: Vec<String> = caller
        .roles
        .iter()
        .filter(|r| r.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'))
        .map(|r| format!("'{r}'"))
        .collect();
    let role_clause = if roles.is_empty() {
        String::new()
    } else {
        format!(" OR (n.node_id = {} AND n.role IN ({}))", caller.node_id, roles.join(","))
    };
    Some((account, format!("(n.account_id = {account}{role_clause})")))
}

/// The caller's notifications, newest first, with whether the caller has read each.
pub async fn list(
    state: &AppState,
    caller: &Caller,
    unread_only: bool,
    limit: i64,
) -> Result<Vec<Notification>, AppError> {
    let Some((account, cond)) = addressed_to(caller) else { return Ok(Vec::new()) };
    let unread = if unread_only { " AND r.read_at IS NULL" } else { "" };
    let sql = format!(
        "SELECT n.id, n.created_at, n.kind, n.case_id, n.payload, r.read_at FROM notifications n \
         LEFT JOIN notification_reads r ON r.notification_id = n.id AND r.account_id = $1 \
         WHERE {cond}{unread} ORDER BY n.id DESC LIMIT $2"
    );
    let rows: Vec<Row> = sqlx::query_as(&sql).bind(account).bind(limit).fetch_all(state.db.reader()).await?;
    Ok(rows
        .into_iter()
        .map(|r| Notification {
            id: r.id,
            created_at: r.created_at,
            kind: r.kind,
            case_id: r.case_id,
            payload: r.payload,
            read: r.read_at.is_some(),
        })
        .collect())
}

pub async fn unread_count(state: &AppState, caller: &Caller) -> Result<i64, AppError> {
    let Some((account, cond)) = addressed_to(caller) else { return Ok(0) };
    let sql = format!(
        "SELECT COUNT(*) FROM notifications n WHERE {cond} AND NOT EXISTS \
         (SELECT 1 FROM notification_reads r WHERE r.notification_id = n.id AND r.account_id = $1)"
    );
    Ok(sqlx::query_scalar(&sql).bind(account).fetch_one(state.db.reader()).await?)
}

/// Marks every notification the caller can see, up to `up_to`, as read by the caller.
pub async fn mark_read(state: &AppState, caller: &Caller, up_to: i64) -> Result<u64, AppError> {
    let Some((account, cond)) = addressed_to(caller) else { return Ok(0) };
    let now = state.clock.now_ms();
    let sql = format!(
        "INSERT INTO notification_reads (notification_id, account_id, read_at) \
         SELECT n.id, $1, $2 FROM notifications n WHERE {cond} AND n.id <= $3 AND NOT EXISTS \
         (SELECT 1 FROM notification_reads r WHERE r.notification_id = n.id AND r.account_id = $1)"
    );
    let done = sqlx::query(&sql).bind(account).bind(now).bind(up_to).execute(state.db.writer()).await?;
    Ok(done.rows_affected())
}
