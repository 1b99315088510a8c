//! Data grants: access to a subtree beyond one's own unit (dispatched to an incident, 挂钩 to a
//! village, a shared case), each with a level, a reason and an optional expiry. Only the
//! security administrator grants, and never to themselves.

use crate::app::AppState;
use crate::audit::{self, Entry};
use crate::auth::{Caller, Permission};
use crate::jurisdiction::Level;
use crate::web::error::AppError;
use crate::web::middleware::RequestMeta;

#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Grant {
    pub id: i64,
    pub account_id: i64,
    pub username: String,
    pub node_id: i64,
    pub node_name: String,
    pub level: String,
    pub reason: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

pub struct NewGrant {
    pub account_id: i64,
    pub node_id: i64,
    pub level: String,
    pub reason: String,
    pub expires_at: Option<i64>,
}

pub async fn create(state: &AppState, meta: &RequestMeta, caller: &Caller, g: NewGrant) -> Result<i64, AppError> {
    caller.require(Permission::GrantsWrite)?;
    let by = caller.account_id_or_forbidden()?;
    if g.account_id == by {
        return Err(AppError::Forbidden("no one may grant themselves access".into()));
    }
    let level = Level::parse(&g.level).ok_or_else(|| AppError::invalid("level", "one of full, masked, counts_only"))?;
    let reason = crate::pii::check_unmask_reason(&g.reason).map_err(|r| AppError::invalid("reason", r))?;
    let now = state.clock.now_ms();
    if g.expires_at.is_some_and(|t| t <= now) {
        return Err(AppError::invalid("expires_at", "the expiry must be in the future"));
    }
    let account: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM accounts WHERE id = $1")
        .bind(g.account_id)
        .fetch_one(state.db.reader())
        .await?;
    if account == 0 {
        return Err(AppError::invalid("account_id", "no such account"));
    }
    let node: Option<Option<String>> = sqlx::query_scalar("SELECT valid_to FROM org_nodes WHERE id = $1")
        .bind(g.node_id)
        .fetch_optional(state.db.reader())
        .await?;
    if !matches!(node, Some(None)) {
        return Err(AppError::invalid("node_id", "no such live unit"));
    }
    let mut tx = state.db.begin().await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO grants (account_id, node_id, level, reason, granted_by, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(g.account_id)
    .bind(g.node_id)
    .bind(level.code())
    .bind(reason)
    .bind(by)
    .bind(now)
    .bind(g.expires_at)
    .fetch_one(&mut *tx)
    .await?;
    let entry = Entry::new(meta, Some(caller), "grant.create")
        .record(format!("grant:{id}"))
        .record(format!("account:{}", g.account_id))
        .record(format!("node:{}", g.node_id))
        .detail(serde_json::json!({"level": level.code(), "reason": reason, "expires_at": g.expires_at}));
    audit::append(&mut tx, &state.db, &state.key, now, &entry).await.map_err(|e| audit::audit_failed(state, e))?;
    tx.commit().await?;
    Ok(id)
}

pub async fn list(state: &AppState, caller: &Caller) -> Result<Vec<Grant>, AppError> {
    caller.require(Permission::GrantsWrite)?;
    Ok(sqlx::query_as(
        "SELECT g.id, g.account_id, a.username, g.node_id, n.name AS node_name, g.level, g.reason, g.created_at, g.expires_at, g.revoked_at \
         FROM grants g JOIN accounts a ON a.id = g.account_id JOIN org_nodes n ON n.id = g.node_id ORDER BY g.id DESC LIMIT 500",
    )
    .fetch_all(state.db.reader())
    .await?)
}

pub async fn revoke(state: &AppState, meta: &RequestMeta, caller: &Caller, id: i64) -> Result<(), AppError> {
    caller.require(Permission::GrantsWrite)?;
    let by = caller.account_id_or_forbidden()?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let done = sqlx::query("UPDATE grants SET revoked_at = $1, revoked_by = $2 WHERE id = $3 AND revoked_at IS NULL")
        .bind(now)
        .bind(by)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() == 0 {
        return Err(AppError::NotFound);
    }
    let entry = Entry::new(meta, Some(caller), "grant.revoke").record(format!("grant:{id}"));
    audit::append(&mut tx, &state.db, &state.key, now, &entry).await.map_err(|e| audit::audit_failed(state, e))?;
    tx.commit().await?;
    Ok(())
}
