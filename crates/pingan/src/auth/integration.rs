//! Integration tokens for upstream systems (anti-fraud centre, banks, 110): created by an
//! administrator, shown once, scoped to ingest permissions, expiring, optionally bound to
//! source addresses, revocable. Every use is audited.

use std::net::IpAddr;

use super::permissions::{Permission, PermissionSet};
use super::session::{new_token, token_hash, INTEGRATION_PREFIX};
use super::Caller;
use crate::app::AppState;
use crate::audit::{self, Entry};
use crate::web::error::AppError;
use crate::web::middleware::RequestMeta;

/// What an upstream system may be given: writing what it sends us, never reading people.
pub const INGEST_PERMISSIONS: &[Permission] = &[Permission::WarningsWrite, Permission::IncidentsWrite];

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TokenRow {
    pub id: i64,
    pub name: String,
    pub permissions: String,
    pub node_id: i64,
    pub allow_ips: String,
    pub expires_at: i64,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
    pub last_used_at: Option<i64>,
}

pub struct NewToken {
    pub name: String,
    pub permissions: Vec<String>,
    pub expires_at: i64,
    pub allow_ips: Vec<String>,
}

/// Creates a token and returns it with its id; the token itself is never stored.
pub async fn create(
    state: &AppState,
    meta: &RequestMeta,
    caller: &Caller,
    input: NewToken,
) -> Result<(i64, String), AppError> {
    caller.require(Permission::TokensManage)?;
    let by = caller.account_id_or_forbidden()?;
    let now = state.clock.now_ms();
    AppError::check_len("name", &input.name, 100)?;
    let name = input.name.trim();
    if name.is_empty() {
        return Err(AppError::invalid("name", "a name of 1 to 100 characters is required"));
    }
    let mut perms = PermissionSet::default();
    for code in &input.permissions {
        let p = Permission::parse(code).filter(|p| INGEST_PERMISSIONS.contains(p)).ok_or_else(|| {
            AppError::invalid("permissions", format!("{code} cannot be given to an integration token"))
        })?;
        perms.insert(p);
    }
    if perms.is_empty() {
        return Err(AppError::invalid("permissions", "name at least one permission"));
    }
    if input.expires_at <= now {
        return Err(AppError::invalid("expires_at", "the expiry must be in the future"));
    }
    if input.expires_at > now + 366 * 86_400_000 {
        return Err(AppError::invalid("expires_at", "a token may live at most one year"));
    }
    let mut allow_ips = Vec::with_capacity(input.allow_ips.len());
    for ip in &input.allow_ips {
        let addr = ip
            .trim()
            .parse::<IpAddr>()
            .map_err(|_| AppError::invalid("allow_ips", format!("{ip} is not an IP address")))?;
        allow_ips.push(addr.to_string());
    }
    let (token, hash) = new_token(INTEGRATION_PREFIX);
    let mut tx = state.db.begin().await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO integration_tokens (name, token_hash, permissions, node_id, allow_ips, expires_at, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(name)
    .bind(hash)
    .bind(perms.to_list())
    .bind(caller.node_id)
    .bind(allow_ips.join(","))
    .bind(input.expires_at)
    .bind(by)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    let entry = Entry::new(meta, Some(caller), "token.create")
        .record(format!("token:{id}"))
        .detail(serde_json::json!({"permissions": perms.to_list(), "expires_at": input.expires_at}));
    audit::append(&mut tx, &state.db, &state.key, now, &entry).await.map_err(|e| audit::audit_failed(state, e))?;
    tx.commit().await?;
    Ok((id, token))
}

pub async fn list(state: &AppState, caller: &Caller) -> Result<Vec<TokenRow>, AppError> {
    caller.require(Permission::TokensManage)?;
    Ok(sqlx::query_as(
        "SELECT id, name, permissions, node_id, allow_ips, expires_at, created_at, revoked_at, last_used_at \
         FROM integration_tokens ORDER BY id DESC",
    )
    .fetch_all(state.db.reader())
    .await?)
}

pub async fn revoke(state: &AppState, meta: &RequestMeta, caller: &Caller, id: i64) -> Result<(), AppError> {
    caller.require(Permission::TokensManage)?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let done = sqlx::query("UPDATE integration_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() == 0 {
        return Err(AppError::NotFound);
    }
    let entry = Entry::new(meta, Some(caller), "token.revoke").record(format!("token:{id}"));
    audit::append(&mut tx, &state.db, &state.key, now, &entry).await.map_err(|e| audit::audit_failed(state, e))?;
    tx.commit().await?;
    state.tokens.clear();
    Ok(())
}

/// How stale `last_used_at` may be: refreshed at most once a minute per token, so a busy
/// upstream system does not add a write to every request.
const LAST_USED_STEP_MS: i64 = 60_000;

/// The caller behind an integration token, if it is alive and used from an allowed address.
/// A refused use is audited here. An accepted one is audited by the request itself, under the
/// token's name, when it changes or reads anything the audit log must see (tokens hold ingest
/// permissions only, so that is every write): one entry per request, not two.
pub async fn resolve(state: &AppState, meta: &RequestMeta, token: &str) -> Result<Option<Caller>, AppError> {
    let now = state.clock.now_ms();
    let hash = token_hash(token);
    let row = match state.tokens.get(&hash) {
        Some(row) => row,
        None => {
            let row: Option<TokenRow> = sqlx::query_as(
                "SELECT id, name, permissions, node_id, allow_ips, expires_at, created_at, revoked_at, last_used_at \
                 FROM integration_tokens WHERE token_hash = $1",
            )
            .bind(&hash)
            .fetch_optional(state.db.reader())
            .await?;
            // Unknown tokens are not kept: a flood of made-up ones must not fill the cache.
            let Some(row) = row else { return Ok(None) };
            state.tokens.put(hash.clone(), row.clone());
            row
        }
    };
    // Compared as addresses, not strings: ::1 and 0:0:0:0:0:0:0:1 are one address.
    let client: Option<IpAddr> = meta.ip.parse().ok();
    let address_ok = row.allow_ips.is_empty()
        || row.allow_ips.split(',').filter_map(|ip| ip.parse::<IpAddr>().ok()).any(|ip| Some(ip) == client);
    let refusal = if row.revoked_at.is_some() {
        Some("revoked")
    } else if now >= row.expires_at {
        Some("expired")
    } else if !address_ok {
        Some("address_not_allowed")
    } else {
        None
    };
    let token_id = row.id;
    if let Some(refusal) = refusal {
        let entry = Entry { actor: format!("token:{}", row.name), ..Entry::new(meta, None, "token.use") }
            .record(format!("token:{token_id}"))
            .outcome(audit::Outcome::Denied)
            .detail(serde_json::json!({"path": meta.path, "refused": refusal}));
        let pending = audit::Pending { state: state.clone(), at: now, entry };
        state.db.grouped_audited(move |_| Box::pin(async move { Ok(((), vec![pending])) })).await?;
        return Ok(None);
    }
    if row.last_used_at.is_none_or(|at| now - at >= LAST_USED_STEP_MS) {
        // The requests right behind this one see the new time and leave it alone.
        state.tokens.put(hash, TokenRow { last_used_at: Some(now), ..row.clone() });
        state
            .db
            .grouped(move |tx| {
                Box::pin(async move {
                    sqlx::query("UPDATE integration_tokens SET last_used_at = $1 WHERE id = $2")
                        .bind(now)
                        .bind(token_id)
                        .execute(&mut **tx)
                        .await?;
                    Ok(())
                })
            })
            .await?;
    }
    Ok(Some(Caller {
        account_id: None,
        token_id: Some(row.id),
        label: format!("token:{}", row.name),
        name: row.name,
        node_id: row.node_id,
        roles: Vec::new(),
        permissions: PermissionSet::parse_list(&row.permissions),
        session_id: None,
        csrf: None,
        restriction: None,
    }))
}
