//! Events across servers: every user-visible event is a row in `events`, written in the same
//! transaction as the change. Subscribers read rows after the last id they saw, filtered by
//! their jurisdiction; PostgreSQL NOTIFY (sent at commit) and an in-process signal only wake
//! them sooner, so a missed wake-up costs at most a poll interval, never an event.
//!
//! Tables: `events(id, at, kind, node_id, payload)`.
//! Invariant: payloads carry no personal identifiers; an event reaches only callers whose scope
//! covers its node (events without a node reach every signed-in caller).

pub mod stream;

use crate::app::AppState;
use crate::db::{Backend, Db, Tx};

pub const CHANNEL: &str = "pingan_events";

#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct Event {
    pub id: i64,
    pub at: i64,
    pub kind: String,
    pub node_id: Option<i64>,
    pub payload: String,
}

/// Records an event inside the change's transaction. On PostgreSQL the NOTIFY is delivered
/// only if and when the transaction commits.
pub async fn publish(
    tx: &mut Tx,
    db: &Db,
    kind: &str,
    node_id: Option<i64>,
    payload: &serde_json::Value,
    at: i64,
) -> Result<i64, sqlx::Error> {
    let id: i64 =
        sqlx::query_scalar("INSERT INTO events (at, kind, node_id, payload) VALUES ($1, $2, $3, $4) RETURNING id")
            .bind(at)
            .bind(kind)
            .bind(node_id)
            .bind(payload.to_string())
            .fetch_one(&mut **tx)
            .await?;
    if db.backend == Backend::Postgres {
        sqlx::query("SELECT pg_notify($1, $2)").bind(CHANNEL).bind(id.to_string()).execute(&mut **tx).await?;
    }
    Ok(id)
}

/// Records several events in one statement: each row is (at, kind, node_id, payload). One
/// NOTIFY covers them all: subscribers read every row after the last id they saw anyway.
pub async fn publish_many(tx: &mut Tx, db: &Db, rows: Vec<Vec<crate::db::bulk::Value>>) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    db.insert_rows(tx, "events", &["at", "kind", "node_id", "payload"], rows).await?;
    if db.backend == Backend::Postgres {
        sqlx::query("SELECT pg_notify($1, '')").bind(CHANNEL).execute(&mut **tx).await?;
    }
    Ok(())
}

/// Wakes this process's subscribers; call after the transaction that published commits.
pub fn wake(state: &AppState) {
    state.events_wake.notify_waiters();
}

pub async fn latest_id(db: &Db) -> Result<i64, sqlx::Error> {
    let id: Option<i64> = sqlx::query_scalar("SELECT MAX(id) FROM events").fetch_one(db.reader()).await?;
    Ok(id.unwrap_or(0))
}

/// On PostgreSQL, turns NOTIFYs from every server into local wake-ups. Reconnects on failure.
pub fn start_listener(state: &AppState, database_url: String) {
    if state.db.backend != Backend::Postgres {
        return;
    }
    let wake = state.events_wake.clone();
    tokio::spawn(async move {
        loop {
            match sqlx::postgres::PgListener::connect(&database_url).await {
                Ok(mut listener) => {
                    if listener.listen(CHANNEL).await.is_ok() {
                        while listener.recv().await.is_ok() {
                            wake.notify_waiters();
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "event listener cannot connect; polling only"),
            }
            tokio::time::sleep(std::time::Duration::from_secs(5)).await;
        }
    });
}
