//! Sessions for the browser (cookie) and the API (bearer token): one table, the same limits.

use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::db::{Db, Tx};
use crate::settings::SecurityPolicy;

pub const COOKIE: &str = "pingan_session";
pub const SESSION_PREFIX: &str = "pas_";
pub const INTEGRATION_PREFIX: &str = "pai_";

/// A fresh 256-bit token with its prefix, and the hash we store.
pub fn new_token(prefix: &str) -> (String, Vec<u8>) {
    let mut raw = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    let token = format!("{prefix}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw));
    let hash = token_hash(&token);
    (token, hash)
}

pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Web,
    Api,
}

impl Kind {
    pub fn code(self) -> &'static str {
        match self {
            Kind::Web => "web",
            Kind::Api => "api",
        }
    }
}

pub struct NewSession {
    pub token: String,
    pub csrf: String,
    pub expires_at: i64,
}

pub struct SessionSpec<'a> {
    pub account_id: i64,
    pub auth_epoch: i64,
    pub kind: Kind,
    pub restriction: Option<&'a str>,
    pub ip: &'a str,
}

pub async fn create(
    tx: &mut Tx,
    spec: SessionSpec<'_>,
    now: i64,
    policy: &SecurityPolicy,
) -> Result<NewSession, sqlx::Error> {
    let (token, hash) = new_token(SESSION_PREFIX);
    let (csrf, _) = new_token("");
    let expires_at = now + policy.absolute_hours * 3_600_000;
    sqlx::query(
        "INSERT INTO sessions (token_hash, account_id, kind, csrf, auth_epoch, restriction, created_at, last_seen_at, expires_at, ip) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8, $9)",
    )
    .bind(hash)
    .bind(spec.account_id)
    .bind(spec.kind.code())
    .bind(&csrf)
    .bind(spec.auth_epoch)
    .bind(spec.restriction)
    .bind(now)
    .bind(expires_at)
    .bind(spec.ip)
    .execute(&mut **tx)
    .await?;
    Ok(NewSession { token, csrf, expires_at })
}

#[derive(Debug, sqlx::FromRow)]
pub struct SessionRow {
    pub id: i64,
    pub account_id: i64,
    pub kind: String,
    pub csrf: String,
    pub auth_epoch: i64,
    pub restriction: Option<String>,
    pub last_seen_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
    pub account_epoch: i64,
    pub disabled: i64,
}

/// The session behind `token` if it is still alive under `policy` at `now`.
pub async fn live(
    db: &Db,
    token: &str,
    kind: Kind,
    now: i64,
    policy: &SecurityPolicy,
) -> Result<Option<SessionRow>, sqlx::Error> {
    let row: Option<SessionRow> = sqlx::query_as(
        "SELECT s.id, s.account_id, s.kind, s.csrf, s.auth_epoch, s.restriction, s.last_seen_at, s.expires_at, \
                s.revoked_at, a.auth_epoch AS account_epoch, a.disabled \
         FROM sessions s JOIN accounts a ON a.id = s.account_id WHERE s.token_hash = $1",
    )
    .bind(token_hash(token))
    .fetch_optional(db.reader())
    .await?;
    let Some(row) = row else { return Ok(None) };
    let idle_limit = policy.idle_minutes * 60_000;
    let alive = row.kind == kind.code()
        && row.revoked_at.is_none()
        && row.disabled == 0
        && row.auth_epoch == row.account_epoch
        && now < row.expires_at
        && now - row.last_seen_at < idle_limit;
    if !alive {
        return Ok(None);
    }
    // Touch at most once a minute: the idle limit needs minutes, not every request's write.
    if now - row.last_seen_at > 60_000 {
        sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id = $2")
            .bind(now)
            .bind(row.id)
            .execute(db.writer())
            .await?;
    }
    Ok(Some(row))
}

pub async fn revoke(tx: &mut Tx, session_id: i64, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
        .bind(now)
        .bind(session_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Ends every session of an account everywhere: bumping the epoch makes each server's next
/// check fail, with no cache to invalidate.
pub async fn bump_epoch(tx: &mut Tx, account_id: i64, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE accounts SET auth_epoch = auth_epoch + 1, updated_at = $1 WHERE id = $2")
        .bind(now)
        .bind(account_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
