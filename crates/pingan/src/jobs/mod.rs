//! Durable jobs: deadlines and housekeeping as rows, so each fires exactly once across restarts
//! and servers.
//!
//! Tables: `jobs(id, kind, due_at, payload, claimed_by, lease_until, attempts, done_at,
//! last_error, singleton)`.
//! Invariant: a server claims due rows atomically (a lease), and a job's effect commits in the
//! same transaction as its completion, which succeeds only while this server still holds the
//! lease; a job whose lease expired mid-run is rolled back and runs again elsewhere, once.
//! Invariant: "now" is the `Clock`; tests advance it and call [`run_due`], nothing sleeps.

mod housekeeping;

use rand::RngCore;

use crate::app::AppState;
use crate::db::Tx;

/// How long a claim holds before another server may take the job over.
const LEASE_MS: i64 = 60_000;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Job {
    pub id: i64,
    pub kind: String,
    pub payload: String,
    pub due_at: i64,
    pub attempts: i64,
}

/// A name for this process, stored in `claimed_by`.
pub fn server_id() -> String {
    let mut b = [0u8; 4];
    rand::rngs::OsRng.fill_bytes(&mut b);
    format!("{}-{}", std::process::id(), hex::encode(b))
}

/// Schedules a job inside the caller's transaction, so it exists exactly when the change that
/// needs it commits.
pub async fn schedule(
    tx: &mut Tx,
    kind: &str,
    due_at: i64,
    payload: &serde_json::Value,
    now: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("INSERT INTO jobs (kind, due_at, payload, created_at) VALUES ($1, $2, $3, $4) RETURNING id")
        .bind(kind)
        .bind(due_at)
        .bind(payload.to_string())
        .bind(now)
        .fetch_one(&mut **tx)
        .await
}

/// Ensures one pending job of `kind` exists (a recurring chore); several servers starting at
/// once create it once, through the unique `singleton` column.
pub async fn ensure_singleton(state: &AppState, kind: &str, due_at: i64) -> Result<(), sqlx::Error> {
    let sql = match state.db.backend {
        crate::db::Backend::Postgres => {
            "INSERT INTO jobs (kind, due_at, payload, singleton, created_at) VALUES ($1, $2, 'null', $1, $3) \
             ON CONFLICT (singleton) DO NOTHING"
        }
        crate::db::Backend::Sqlite => {
            "INSERT OR IGNORE INTO jobs (kind, due_at, payload, singleton, created_at) VALUES ($1, $2, 'null', $1, $3)"
        }
    };
    sqlx::query(sql).bind(kind).bind(due_at).bind(state.clock.now_ms()).execute(state.db.writer()).await?;
    Ok(())
}

/// Claims up to `limit` due jobs for this server.
pub async fn claim_due(state: &AppState, limit: i64) -> Result<Vec<Job>, sqlx::Error> {
    let now = state.clock.now_ms();
    let sql = format!(
        "UPDATE jobs SET claimed_by = $1, lease_until = $2, attempts = attempts + 1 \
         WHERE id IN (SELECT id FROM jobs WHERE done_at IS NULL AND due_at <= $3 \
                      AND (lease_until IS NULL OR lease_until < $3) ORDER BY due_at LIMIT $4{}) \
         RETURNING id, kind, payload, due_at, attempts",
        state.db.skip_locked()
    );
    sqlx::query_as(&sql)
        .bind(&state.server_id)
        .bind(now + LEASE_MS)
        .bind(now)
        .bind(limit)
        .fetch_all(state.db.writer())
        .await
}

/// Marks `job` done inside the transaction that applied its effect. False when this server
/// lost the lease meanwhile: the caller must roll back.
pub async fn complete(tx: &mut Tx, state: &AppState, job: &Job) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE jobs SET done_at = $1, singleton = NULL WHERE id = $2 AND claimed_by = $3 AND done_at IS NULL",
    )
    .bind(state.clock.now_ms())
    .bind(job.id)
    .bind(&state.server_id)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Releases a failed job for a later retry, backing off exponentially up to an hour.
async fn release(state: &AppState, job: &Job, error: &str) -> Result<(), sqlx::Error> {
    let backoff = (1_000i64 << job.attempts.clamp(0, 12)).min(3_600_000);
    sqlx::query("UPDATE jobs SET lease_until = NULL, claimed_by = NULL, due_at = $1, last_error = $2 WHERE id = $3 AND claimed_by = $4")
        .bind(state.clock.now_ms() + backoff)
        .bind(error.chars().take(500).collect::<String>())
        .bind(job.id)
        .bind(&state.server_id)
        .execute(state.db.writer())
        .await?;
    Ok(())
}

/// Runs every job due now, each once. Returns how many completed.
pub async fn run_due(state: &AppState) -> Result<usize, sqlx::Error> {
    let mut completed = 0;
    loop {
        let jobs = claim_due(state, 50).await?;
        if jobs.is_empty() {
            return Ok(completed);
        }
        for job in jobs {
            match run_one(state, &job).await {
                Ok(true) => completed += 1,
                Ok(false) => tracing::warn!(job = job.id, kind = %job.kind, "lease lost; the job runs again elsewhere"),
                Err(e) => {
                    tracing::error!(job = job.id, kind = %job.kind, error = %e, "job failed; retrying later");
                    release(state, &job, &e.to_string()).await?;
                }
            }
        }
    }
}

async fn run_one(state: &AppState, job: &Job) -> anyhow::Result<bool> {
    // A delivery talks to the network first, outside the transaction: the single SQLite writer
    // must not wait on a webhook. If the lease is lost meanwhile, the attempt is repeated
    // elsewhere with the same idempotency key.
    let sent = match job.kind.as_str() {
        crate::push::delivery::DELIVER_JOB => Some(crate::push::delivery::send(state, job).await?),
        _ => None,
    };
    let mut tx = state.db.begin().await?;
    // Completion first: it proves the lease is still ours, and frees a singleton's slot for
    // the next run the handler schedules. Both commit with the effect or not at all.
    if !complete(&mut tx, state, job).await? {
        tx.rollback().await?;
        return Ok(false);
    }
    match job.kind.as_str() {
        housekeeping::KIND => housekeeping::run(state, &mut tx).await?,
        crate::antifraud::deadlines::DEADLINE_JOB => {
            crate::antifraud::deadlines::run_deadline(state, &mut tx, job).await?
        }
        crate::antifraud::deadlines::BRANCH_JOB => crate::antifraud::deadlines::run_branch(state, &mut tx, job).await?,
        crate::push::delivery::DELIVER_JOB => {
            crate::push::delivery::record(state, &mut tx, job, sent.flatten()).await?
        }
        other => anyhow::bail!("no handler for job kind {other}"),
    }
    tx.commit().await?;
    // Jobs publish events (escalations); this server's subscribers hear of them at once.
    crate::events::wake(state);
    Ok(true)
}

/// Starts the recurring chores and the loop that runs due jobs every second until shutdown.
pub async fn start(state: AppState) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    housekeeping::ensure(&state).await?;
    Ok(tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = run_due(&state).await {
                tracing::error!(error = %e, "running due jobs failed");
            }
        }
    }))
}
