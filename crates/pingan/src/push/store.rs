//! SQL of prevention pushes.

use serde::Serialize;
use utoipa::ToSchema;

use super::model::{DeliveryState, DestinationKind};
use crate::db::Tx;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DestinationView {
    pub id: i64,
    pub name: String,
    pub kind: DestinationKind,
    /// The scheme and host only: the rest of a webhook address is its key.
    pub address: String,
    pub has_secret: bool,
    pub node_id: i64,
    pub node_code: String,
    pub node_name: String,
    pub enabled: bool,
}

#[derive(sqlx::FromRow)]
struct DestinationRow {
    id: i64,
    name: String,
    kind: String,
    url: String,
    has_secret: i64,
    node_id: i64,
    node_code: String,
    node_name: String,
    disabled_at: Option<i64>,
}

/// "https://qyapi.weixin.qq.com/…": enough to recognise, too little to post to.
pub fn address_of(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    format!("{scheme}://{host}/…")
}

/// Destinations under `nodes` (a subquery of our own ids), enabled ones first.
pub async fn destinations(db: &sqlx::AnyPool, nodes: &str) -> Result<Vec<DestinationView>, sqlx::Error> {
    let rows: Vec<DestinationRow> = sqlx::query_as(&format!(
        "SELECT d.id, d.name, d.kind, d.url, CASE WHEN d.secret_enc IS NULL THEN 0 ELSE 1 END AS has_secret, \
         d.node_id, n.code AS node_code, n.name AS node_name, d.disabled_at \
         FROM push_destinations d JOIN org_nodes n ON n.id = d.node_id WHERE d.node_id IN ({nodes}) \
         ORDER BY CASE WHEN d.disabled_at IS NULL THEN 0 ELSE 1 END, n.code, d.id"
    ))
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| DestinationView {
            id: r.id,
            name: r.name,
            kind: DestinationKind::parse(&r.kind).unwrap_or(DestinationKind::Json),
            address: address_of(&r.url),
            has_secret: r.has_secret == 1,
            node_id: r.node_id,
            node_code: r.node_code,
            node_name: r.node_name,
            enabled: r.disabled_at.is_none(),
        })
        .collect())
}

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct MessageRow {
    pub id: i64,
    pub created_at: i64,
    pub title: String,
    pub body: String,
    /// Comma-separated fraud kinds.
    pub kinds: String,
    pub author: Option<String>,
    pub unit: String,
    pub deliveries: i64,
    pub delivered: i64,
    pub dead: i64,
}

const MESSAGE_SELECT: &str = "SELECT m.id, m.created_at, m.title, m.body, m.kinds, a.name AS author, n.name AS unit, \
    (SELECT COUNT(*) FROM push_deliveries d WHERE d.message_id = m.id) AS deliveries, \
    (SELECT COUNT(*) FROM push_deliveries d WHERE d.message_id = m.id AND d.state = 'delivered') AS delivered, \
    (SELECT COUNT(*) FROM push_deliveries d WHERE d.message_id = m.id AND d.state = 'dead') AS dead \
    FROM push_messages m JOIN org_nodes n ON n.id = m.node_id LEFT JOIN accounts a ON a.id = m.author_id";

pub async fn messages(
    db: &sqlx::AnyPool,
    nodes: &str,
    limit: i64,
    offset: i64,
) -> Result<Vec<MessageRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "{MESSAGE_SELECT} WHERE m.node_id IN ({nodes}) ORDER BY m.created_at DESC, m.id DESC LIMIT $1 OFFSET $2"
    ))
    .bind(limit)
    .bind(offset)
    .fetch_all(db)
    .await
}

pub async fn count_messages(db: &sqlx::AnyPool, nodes: &str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(&format!("SELECT COUNT(*) FROM push_messages WHERE node_id IN ({nodes})")).fetch_one(db).await
}

pub async fn message(db: &sqlx::AnyPool, nodes: &str, id: i64) -> Result<Option<MessageRow>, sqlx::Error> {
    sqlx::query_as(&format!("{MESSAGE_SELECT} WHERE m.id = $1 AND m.node_id IN ({nodes})"))
        .bind(id)
        .fetch_optional(db)
        .await
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeliveryView {
    pub id: i64,
    pub destination: String,
    pub kind: DestinationKind,
    pub node_name: String,
    pub state: DeliveryState,
    pub attempts: i64,
    pub next_attempt_at: Option<i64>,
    pub delivered_at: Option<i64>,
    pub last_error: Option<String>,
    /// Sent as the `Idempotency-Key` header (and in a JSON body's `id`): receivers drop repeats.
    pub idempotency_key: String,
    pub log: Vec<AttemptRow>,
}

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct AttemptRow {
    pub at: i64,
    pub status: Option<i64>,
    pub ok: i64,
    pub error: Option<String>,
    pub duration_ms: i64,
}

#[derive(sqlx::FromRow)]
struct DeliveryRow {
    id: i64,
    destination: String,
    kind: String,
    node_name: String,
    state: String,
    attempts: i64,
    next_attempt_at: Option<i64>,
    delivered_at: Option<i64>,
    last_error: Option<String>,
    idempotency_key: String,
}

pub async fn deliveries(db: &sqlx::AnyPool, message_id: i64) -> Result<Vec<DeliveryView>, sqlx::Error> {
    let rows: Vec<DeliveryRow> = sqlx::query_as(
        "SELECT d.id, t.name AS destination, t.kind, n.name AS node_name, d.state, d.attempts, d.next_attempt_at, \
         d.delivered_at, d.last_error, d.idempotency_key FROM push_deliveries d \
         JOIN push_destinations t ON t.id = d.destination_id JOIN org_nodes n ON n.id = t.node_id \
         WHERE d.message_id = $1 ORDER BY n.code, d.id",
    )
    .bind(message_id)
    .fetch_all(db)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let log = sqlx::query_as(
            "SELECT at, status, ok, error, duration_ms FROM push_attempts WHERE delivery_id = $1 ORDER BY at, id",
        )
        .bind(r.id)
        .fetch_all(db)
        .await?;
        out.push(DeliveryView {
            id: r.id,
            destination: r.destination,
            kind: DestinationKind::parse(&r.kind).unwrap_or(DestinationKind::Json),
            node_name: r.node_name,
            state: DeliveryState::parse(&r.state).unwrap_or(DeliveryState::Pending),
            attempts: r.attempts,
            next_attempt_at: r.next_attempt_at,
            delivered_at: r.delivered_at,
            last_error: r.last_error,
            idempotency_key: r.idempotency_key,
            log,
        });
    }
    Ok(out)
}

/// What a delivery job needs to send one request.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Outgoing {
    pub id: i64,
    pub message_id: i64,
    pub state: String,
    pub attempts: i64,
    pub created_at: i64,
    pub idempotency_key: String,
    pub kind: String,
    pub url: String,
    pub secret_enc: Option<Vec<u8>>,
    pub disabled_at: Option<i64>,
    pub title: String,
    pub body: String,
    pub kinds: String,
    pub author_id: Option<i64>,
    pub node_code: String,
    pub node_name: String,
}

pub async fn outgoing<'c, E>(ex: E, delivery_id: i64) -> Result<Option<Outgoing>, sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    sqlx::query_as(
        "SELECT d.id, d.message_id, d.state, d.attempts, d.created_at, d.idempotency_key, t.kind, t.url, t.secret_enc, \
         t.disabled_at, m.title, m.body, m.kinds, m.author_id, n.code AS node_code, n.name AS node_name \
         FROM push_deliveries d JOIN push_destinations t ON t.id = d.destination_id \
         JOIN push_messages m ON m.id = d.message_id JOIN org_nodes n ON n.id = t.node_id WHERE d.id = $1",
    )
    .bind(delivery_id)
    .fetch_optional(ex)
    .await
}

pub async fn log_attempt(
    tx: &mut Tx,
    delivery_id: i64,
    at: i64,
    status: Option<i64>,
    ok: bool,
    error: Option<&str>,
    duration_ms: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO push_attempts (delivery_id, at, status, ok, error, duration_ms) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(delivery_id)
    .bind(at)
    .bind(status)
    .bind(i64::from(ok))
    .bind(error)
    .bind(duration_ms)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Moves a delivery on; only a pending one, so a late duplicate job changes nothing.
pub async fn settle(
    tx: &mut Tx,
    delivery_id: i64,
    state: DeliveryState,
    attempts: i64,
    next_attempt_at: Option<i64>,
    delivered_at: Option<i64>,
    last_error: Option<&str>,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE push_deliveries SET state = $1, attempts = $2, next_attempt_at = $3, delivered_at = $4, last_error = $5 \
         WHERE id = $6 AND state = 'pending'",
    )
    .bind(state.code())
    .bind(attempts)
    .bind(next_attempt_at)
    .bind(delivered_at)
    .bind(last_error)
    .bind(delivery_id)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}
