//! The audit log: one entry per request or import batch that signs in or out, changes data,
//! or reads data about a person; who, when, from where, what, which records, outcome.
//!
//! Tables: `audit_log` (append-only; triggers refuse UPDATE and DELETE).
//! Invariant: entry `seq` runs 1, 2, 3… without gaps, and `mac` = HMAC(audit key, previous mac ‖
//! entry), with the key derived from the data key outside the database, so `pingan audit verify`
//! names the first entry altered, removed or inserted by anyone who could write the table.
//! Invariant: if the audit write fails the request fails (503) and returns no data.

mod chain;
pub mod pages;
pub mod search;

pub use chain::{append, append_all, verify, Broken};

use crate::app::AppState;
use crate::auth::Caller;
use crate::web::error::AppError;
use crate::web::middleware::RequestMeta;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Denied,
    Failed,
}

impl Outcome {
    pub fn code(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Denied => "denied",
            Outcome::Failed => "failed",
        }
    }
}

/// One audit entry before it is chained. Holds no personal identifiers: records are named by
/// type and id (`account:12`), never by ID number or phone.
#[derive(Debug, Clone)]
pub struct Entry {
    pub actor_id: Option<i64>,
    pub actor: String,
    pub ip: String,
    pub request_id: String,
    pub action: String,
    pub records: Vec<String>,
    pub outcome: Outcome,
    pub detail: serde_json::Value,
}

impl Entry {
    pub fn new(meta: &RequestMeta, caller: Option<&Caller>, action: &str) -> Entry {
        Entry {
            actor_id: caller.and_then(|c| c.account_id),
            actor: caller.map(|c| c.label.clone()).unwrap_or_else(|| "anonymous".into()),
            ip: meta.ip.clone(),
            request_id: meta.request_id.clone(),
            action: action.to_string(),
            records: Vec::new(),
            outcome: Outcome::Ok,
            detail: serde_json::Value::Null,
        }
    }

    /// An entry for an operator's command on the server itself (`pingan user add`, …).
    pub fn cli(action: &str) -> Entry {
        let user = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
        Entry {
            actor_id: None,
            actor: format!("cli:{user}"),
            ip: "local".into(),
            request_id: String::from("cli"),
            action: action.to_string(),
            records: Vec::new(),
            outcome: Outcome::Ok,
            detail: serde_json::Value::Null,
        }
    }

    /// An entry for what a server does by itself (a deadline firing), named by its job.
    pub fn system(action: &str, job_id: i64) -> Entry {
        Entry {
            actor_id: None,
            actor: "system".into(),
            ip: "local".into(),
            request_id: format!("job:{job_id}"),
            action: action.to_string(),
            records: Vec::new(),
            outcome: Outcome::Ok,
            detail: serde_json::Value::Null,
        }
    }

    pub fn record(mut self, r: impl Into<String>) -> Entry {
        self.records.push(r.into());
        self
    }

    pub fn records<I: IntoIterator<Item = String>>(mut self, rs: I) -> Entry {
        self.records.extend(rs);
        self
    }

    pub fn outcome(mut self, o: Outcome) -> Entry {
        self.outcome = o;
        self
    }

    pub fn detail(mut self, d: serde_json::Value) -> Entry {
        self.detail = d;
        self
    }
}

/// Writes `entry` in a transaction of its own (for reads and refusals; changes chain their
/// entry inside their own transaction with [`append`]). A failure fails the request with 503.
pub async fn write(state: &AppState, entry: Entry) -> Result<(), AppError> {
    let result = async {
        let mut tx = state.db.begin().await?;
        append(&mut tx, &state.db, &state.key, state.clock.now_ms(), &entry).await?;
        tx.commit().await
    }
    .await;
    result.map_err(|e| audit_failed(state, e))
}

/// Maps a failed audit append to the 503 the architecture requires, counting it for /metrics.
/// An entry a grouped write leaves for the end of its group (see `db/group.rs`), appended there
/// with the group's others.
pub struct Pending {
    pub state: AppState,
    pub at: i64,
    pub entry: Entry,
}

/// Appends a group's entries in order. On failure, the reason every piece of the group is
/// refused with (the failure is logged and counted once).
pub async fn append_pending(
    tx: &mut crate::db::Tx,
    backend: crate::db::Backend,
    pending: &[Pending],
) -> Result<(), String> {
    let Some(first) = pending.first() else { return Ok(()) };
    let entries: Vec<(i64, &Entry)> = pending.iter().map(|p| (p.at, &p.entry)).collect();
    match append_all(tx, backend, &first.state.key, &entries).await {
        Ok(_) => Ok(()),
        Err(e) => match audit_failed(&first.state, e) {
            AppError::Unavailable(reason) => Err(reason),
            other => Err(other.to_string()),
        },
    }
}

pub fn audit_failed(state: &AppState, e: sqlx::Error) -> AppError {
    state.metrics.audit_write_failed();
    tracing::error!(error = %e, "audit write failed");
    AppError::Unavailable("the audit log cannot be written; nothing was done".into())
}
