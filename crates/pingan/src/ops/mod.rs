//! Operations: /healthz, /readyz, Prometheus /metrics.

pub mod metrics;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;

use crate::app::AppState;
use crate::db::SchemaState;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Alive and which build.
pub async fn healthz() -> impl IntoResponse {
    Json(serde_json::json!({
        "status": "ok",
        "version": VERSION,
        "build": option_env!("PINGAN_BUILD").unwrap_or("dev"),
    }))
}

/// Ready to serve: database reachable, schema current, audit writable, clock within 2 s of
/// the database's.
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let mut checks = serde_json::Map::new();
    let mut ready = true;
    let mut check = |name: &str, ok: bool, detail: String| {
        ready &= ok;
        checks.insert(name.into(), serde_json::json!({"ok": ok, "detail": detail}));
    };
    match crate::db::schema_state(&state.db).await {
        Ok(SchemaState::Current) => check("schema", true, "current".into()),
        Ok(other) => check("schema", false, format!("{other:?}")),
        Err(e) => check("database", false, e.to_string()),
    }
    match state.db.server_time_ms().await {
        Ok(db_ms) => {
            let skew = (db_ms - chrono::Utc::now().timestamp_millis()).abs();
            check("clock", skew <= 2_000, format!("{skew} ms from the database"));
        }
        Err(e) => check("database", false, e.to_string()),
    }
    // A write that is rolled back: proves the audit table accepts inserts without leaving one.
    // It holds the chain's lock, so no real append waits on the probe's sequence number.
    let audit_ok = async {
        let mut tx = state.db.begin().await?;
        state.db.lock_audit_chain(&mut tx).await?;
        sqlx::query(
            "INSERT INTO audit_log (seq, at, actor, ip, action, records, outcome, request_id, detail, mac) \
             SELECT COALESCE(MAX(seq), 0) + 1, 0, 'readyz', '', 'readyz', '', 'ok', '', '', $1 FROM audit_log",
        )
        .bind(Vec::<u8>::new())
        .execute(&mut *tx)
        .await?;
        tx.rollback().await
    }
    .await;
    check("audit", audit_ok.is_ok(), audit_ok.err().map(|e| e.to_string()).unwrap_or_default());
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(serde_json::json!({"ready": ready, "checks": checks})))
}

pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let body = state.metrics.render(&state.db.pool_stats());
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], body)
}
