//! The doors of prevention pushes: the administrator's allowlist of chat-group webhooks, a
//! station's message to chosen grids (queued as one delivery per destination, each a job), the
//! outbox as the sender's unit sees it, and a dead letter sent again by hand.

use rand::RngCore;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::delivery::DELIVER_JOB;
use super::model::{check_no_personal_data, check_url, DestinationKind};
use super::store::{self, DeliveryView, DestinationView, MessageRow};
use crate::antifraud::model::Kind;
use crate::app::AppState;
use crate::audit::{self, Entry};
use crate::auth::{Caller, Permission};
use crate::jurisdiction::{org_scope_of, Level};
use crate::web::error::AppError;
use crate::web::middleware::RequestMeta;

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDestination {
    /// e.g. "幸福里社区反诈宣传群".
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    pub kind: DestinationKind,
    /// The webhook address the chat platform gave, http:// or https://.
    #[schema(min_length = 8, max_length = 2000)]
    pub url: String,
    /// DingTalk's signing secret (加签), when the robot has one. Stored encrypted, never shown.
    #[serde(default)]
    #[schema(max_length = 200)]
    pub secret: Option<String>,
    /// The grid (or unit) whose chat group this is.
    #[schema(minimum = 1)]
    pub node_id: i64,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMessage {
    #[schema(min_length = 1, max_length = 50)]
    pub title: String,
    /// What residents read; no names, ID numbers or phone numbers (refused).
    #[schema(min_length = 1, max_length = 1000)]
    pub body: String,
    /// The fraud kinds the message warns of.
    #[schema(min_items = 1, max_items = 8)]
    pub kinds: Vec<Kind>,
    /// Grids (or units: every grid under them) whose chat groups receive it.
    #[schema(min_items = 1, max_items = 500)]
    pub node_ids: Vec<i64>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Queued {
    pub id: i64,
    /// One per chat group reached.
    pub deliveries: usize,
}

fn text(field: &str, s: &str, max: usize) -> Result<String, AppError> {
    AppError::check_len(field, s, max)?;
    let s = s.trim();
    if s.is_empty() {
        return Err(AppError::invalid(field, "required"));
    }
    if s.chars().any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t') {
        return Err(AppError::invalid(field, "control characters are not allowed"));
    }
    Ok(s.to_string())
}

async fn in_org_scope(state: &AppState, caller: &Caller, node_id: i64) -> Result<bool, AppError> {
    org_scope_of(state, caller).await?.covers(state, node_id, Level::CountsOnly).await
}

/// Who may read the outbox and the allowlist: senders and the administrator, each over their
/// part of the organisation.
fn require_push(caller: &Caller) -> Result<(), AppError> {
    if caller.has(Permission::PushSend) || caller.has(Permission::PushManage) {
        Ok(())
    } else {
        Err(AppError::Forbidden("this needs the permission push:send or push:manage".into()))
    }
}

pub async fn destinations(state: &AppState, caller: &Caller) -> Result<Vec<DestinationView>, AppError> {
    require_push(caller)?;
    let nodes = org_scope_of(state, caller).await?.nodes_sql(Level::CountsOnly);
    Ok(store::destinations(state.db.reader(), &nodes).await?)
}

pub async fn add_destination(
    state: &AppState,
    meta: &RequestMeta,
    caller: &Caller,
    d: &NewDestination,
) -> Result<i64, AppError> {
    caller.require(Permission::PushManage)?;
    let name = text("name", &d.name, 100)?;
    check_url(&d.url).map_err(|r| AppError::invalid("url", r))?;
    AppError::check_len("secret", d.secret.as_deref().unwrap_or(""), 200)?;
    let secret = d.secret.as_deref().map(str::trim).filter(|s| !s.is_empty());
    if secret.is_some() && d.kind != DestinationKind::Dingtalk {
        return Err(AppError::invalid("secret", "only DingTalk robots sign their requests"));
    }
    if !in_org_scope(state, caller, d.node_id).await? {
        return Err(AppError::invalid("node_id", "no such unit in your part of the organisation"));
    }
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO push_destinations (name, kind, url, secret_enc, node_id, created_at, created_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(&name)
    .bind(d.kind.code())
    .bind(d.url.trim())
    .bind(secret.map(|s| state.key.encrypt_str(s)))
    .bind(d.node_id)
    .bind(now)
    .bind(caller.account_id)
    .fetch_one(&mut *tx)
    .await?;
    // The address holds the webhook's key: the audit names the host only.
    let entry = Entry::new(meta, Some(caller), "push.destination.add").records([format!("push_destination:{id}")]).detail(
        serde_json::json!({"name": name, "kind": d.kind.code(), "address": store::address_of(d.url.trim()), "node_id": d.node_id}),
    );
    audit::append(&mut tx, &state.db, &state.key, now, &entry).await.map_err(|e| audit::audit_failed(state, e))?;
    tx.commit().await?;
    Ok(id)
}

pub async fn disable_destination(
    state: &AppState,
    meta: &RequestMeta,
    caller: &Caller,
    id: i64,
) -> Result<(), AppError> {
    caller.require(Permission::PushManage)?;
    let node: Option<i64> = sqlx::query_scalar("SELECT node_id FROM push_destinations WHERE id = $1")
        .bind(id)
        .fetch_optional(state.db.reader())
        .await?;
    match node {
        Some(n) if in_org_scope(state, caller, n).await? => {}
        _ => return Err(AppError::NotFound),
    }
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    sqlx::query("UPDATE push_destinations SET disabled_at = $1 WHERE id = $2 AND disabled_at IS NULL")
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let entry = Entry::new(meta, Some(caller), "push.destination.disable").records([format!("push_destination:{id}")]);
    audit::append(&mut tx, &state.db, &state.key, now, &entry).await.map_err(|e| audit::audit_failed(state, e))?;
    tx.commit().await?;
    Ok(())
}

fn idempotency_key() -> String {
    let mut b = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut b);
    format!("pingan-{}", hex::encode(b))
}

/// Queues a message to the chat groups of the chosen grids: one delivery per enabled
/// destination under them, each with its own idempotency key and a job due now.
pub async fn send(state: &AppState, meta: &RequestMeta, caller: &Caller, m: &NewMessage) -> Result<Queued, AppError> {
    caller.require(Permission::PushSend)?;
    let title = text("title", &m.title, 50)?;
    let body = text("body", &m.body, 1000)?;
    check_no_personal_data(&title).map_err(|r| AppError::invalid("title", r))?;
    check_no_personal_data(&body).map_err(|r| AppError::invalid("body", r))?;
    if m.kinds.is_empty() || m.kinds.len() > 8 {
        return Err(AppError::invalid("kinds", "one to eight fraud kinds"));
    }
    if m.node_ids.is_empty() || m.node_ids.len() > 500 {
        return Err(AppError::invalid("node_ids", "one to 500 grids or units"));
    }
    let scope = org_scope_of(state, caller).await?;
    for n in &m.node_ids {
        if !scope.covers(state, *n, Level::CountsOnly).await? {
            return Err(AppError::invalid("node_ids", format!("{n}: no such grid in your jurisdiction")));
        }
    }
    let chosen = m.node_ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
    let targets: Vec<i64> = sqlx::query_scalar(&format!(
        "SELECT id FROM push_destinations WHERE disabled_at IS NULL \
         AND node_id IN (SELECT descendant FROM org_closure WHERE ancestor IN ({chosen})) ORDER BY id"
    ))
    .fetch_all(state.db.reader())
    .await?;
    if targets.is_empty() {
        return Err(AppError::invalid("node_ids", "none of these has a chat group on the allowlist"));
    }
    let mut kinds: Vec<&str> = m.kinds.iter().map(|k| k.code()).collect();
    kinds.sort_unstable();
    kinds.dedup();
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO push_messages (node_id, author_id, created_at, title, body, kinds) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(caller.node_id)
    .bind(caller.account_id)
    .bind(now)
    .bind(&title)
    .bind(&body)
    .bind(kinds.join(","))
    .fetch_one(&mut *tx)
    .await?;
    for destination in &targets {
        let delivery: i64 = sqlx::query_scalar(
            "INSERT INTO push_deliveries (message_id, destination_id, idempotency_key, state, attempts, created_at, next_attempt_at) \
             VALUES ($1, $2, $3, 'pending', 0, $4, $4) RETURNING id",
        )
        .bind(id)
        .bind(destination)
        .bind(idempotency_key())
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        crate::jobs::schedule(&mut tx, DELIVER_JOB, now, &serde_json::json!({"delivery_id": delivery}), now).await?;
    }
    let entry = Entry::new(meta, Some(caller), "push.send").records([format!("push_message:{id}")]).detail(
        serde_json::json!({"title": title, "kinds": kinds, "node_ids": m.node_ids, "deliveries": targets.len()}),
    );
    audit::append(&mut tx, &state.db, &state.key, now, &entry).await.map_err(|e| audit::audit_failed(state, e))?;
    tx.commit().await?;
    Ok(Queued { id, deliveries: targets.len() })
}

pub async fn messages(state: &AppState, caller: &Caller, page: i64) -> Result<(Vec<MessageRow>, i64), AppError> {
    require_push(caller)?;
    let nodes = org_scope_of(state, caller).await?.nodes_sql(Level::CountsOnly);
    let page = page.max(1);
    let items = store::messages(state.db.reader(), &nodes, 50, (page - 1) * 50).await?;
    Ok((items, store::count_messages(state.db.reader(), &nodes).await?))
}

pub async fn message(state: &AppState, caller: &Caller, id: i64) -> Result<(MessageRow, Vec<DeliveryView>), AppError> {
    require_push(caller)?;
    let nodes = org_scope_of(state, caller).await?.nodes_sql(Level::CountsOnly);
    let m = store::message(state.db.reader(), &nodes, id).await?.ok_or(AppError::NotFound)?;
    let d = store::deliveries(state.db.reader(), id).await?;
    Ok((m, d))
}

/// Sends a dead letter again, with a fresh 24 hours of retries (the destination may have been
/// fixed meanwhile). The idempotency key stays: a receiver that did get it drops the repeat.
pub async fn retry(state: &AppState, meta: &RequestMeta, caller: &Caller, delivery_id: i64) -> Result<(), AppError> {
    caller.require(Permission::PushSend)?;
    let nodes = org_scope_of(state, caller).await?.nodes_sql(Level::CountsOnly);
    let row: Option<(i64, String)> = sqlx::query_as(&format!(
        "SELECT d.message_id, d.state FROM push_deliveries d JOIN push_messages m ON m.id = d.message_id \
         WHERE d.id = $1 AND m.node_id IN ({nodes})"
    ))
    .bind(delivery_id)
    .fetch_optional(state.db.reader())
    .await?;
    let Some((message_id, current)) = row else { return Err(AppError::NotFound) };
    if current != "dead" {
        return Err(AppError::conflict(
            "state",
            format!("only a failed delivery is sent again; this one is {current}"),
        ));
    }
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    sqlx::query(
        "UPDATE push_deliveries SET state = 'pending', attempts = 0, created_at = $1, next_attempt_at = $1 WHERE id = $2 AND state = 'dead'",
    )
    .bind(now)
    .bind(delivery_id)
    .execute(&mut *tx)
    .await?;
    crate::jobs::schedule(&mut tx, DELIVER_JOB, now, &serde_json::json!({"delivery_id": delivery_id}), now).await?;
    let entry = Entry::new(meta, Some(caller), "push.retry")
        .records([format!("push_message:{message_id}"), format!("push_delivery:{delivery_id}")]);
    audit::append(&mut tx, &state.db, &state.key, now, &entry).await.map_err(|e| audit::audit_failed(state, e))?;
    tx.commit().await?;
    Ok(())
}
