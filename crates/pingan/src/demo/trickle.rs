//! Warnings that arrive while someone watches the demo: a handful of open cases received in the
//! last hours at the demo officer's post, and, while `pingan demo` serves, a new warning every
//! 30 to 90 seconds. Both go through the real intake path (`antifraud::service::ingest_system`),
//! so they are matched, graded, routed, merged, scheduled and audited like any live warning.
//!
//! Invariant: only `demo::build` (the open cases) and `demo::run` (the trickle) start these;
//! `demo::seed`, which the integration tests use, stays free of warnings.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use super::fraud::{self, Signal};
use super::names::Lcg;
use crate::antifraud::model::Warning;
use crate::antifraud::service;
use crate::app::AppState;
use crate::clock::{beijing_today, Clock};
use crate::config::Config;
use crate::db::Db;
use crate::pii::id_number::IdNumber;
use crate::pii::DataKey;

const MINUTE_MS: i64 = 60_000;
/// The post of the `officer` demo account, under the `station_head` account's station.
const POST: &str = "410702010100";
/// How many cases are open when the demo starts.
pub const OPEN_CASES: usize = 8;
const AUDIT_ACTION: &str = "demo.antifraud.warning";

/// `count` open cases about residents of the demo officer's post whose grid has a responsible
/// officer (so each case lands in someone's list), received over the last six hours: some are
/// already overdue and escalate when the jobs start, as in real life.
pub async fn open_cases(db: &Db, key: &Arc<DataKey>, now: i64, seed: u64, count: usize) -> anyhow::Result<()> {
    let residents: Vec<(String, Vec<u8>)> = sqlx::query_as(
        "SELECT r.name, r.id_enc FROM residents r JOIN org_closure c ON c.descendant = r.node_id \
         JOIN org_nodes n ON n.id = c.ancestor WHERE n.code = $1 AND r.id_enc IS NOT NULL \
         AND EXISTS (SELECT 1 FROM grid_team g WHERE g.node_id = r.grid_id AND g.duty = 'responsible') ORDER BY r.id",
    )
    .bind(POST)
    .fetch_all(db.reader())
    .await?;
    if residents.is_empty() || count == 0 {
        return Ok(());
    }
    let mut rng = Lcg(seed ^ 0x4f50_454e);
    // Received oldest first: the intake clock only moves forward.
    let mut times: Vec<i64> = (0..count).map(|_| now - MINUTE_MS * (5 + (rng.next() % 355) as i64)).collect();
    times.sort_unstable();
    let clock = Clock::manual(times[0]);
    let state = AppState::with_key(db.clone(), key.clone(), clock.clone(), Config::default()).await?;
    // One red, three yellow, four blue before age raises them: the live queue's usual mix.
    let signals = [
        Signal::Yellow,
        Signal::Blue,
        Signal::Red,
        Signal::Blue,
        Signal::Yellow,
        Signal::Blue,
        Signal::Yellow,
        Signal::Blue,
    ];
    let started = std::time::Instant::now();
    let mut used = HashSet::new();
    for (k, at) in times.into_iter().enumerate() {
        clock.advance_ms(at - clock.now_ms());
        // A different person each time, so each warning opens its own case.
        let mut i = (rng.next() as usize) % residents.len();
        while !used.insert(i) && used.len() < residents.len() {
            i = (i + 1) % residents.len();
        }
        let (name, enc) = &residents[i];
        let signal = if k < signals.len() { signals[k] } else { fraud::signal(&mut rng) };
        let w = about(&state.key, &mut rng, name, enc, format!("demo-open-{k}"), at, signal)?;
        service::ingest_system(&state, w, AUDIT_ACTION).await.map_err(|e| anyhow::anyhow!("demo open case: {e}"))?;
    }
    tracing::info!(count, ms = started.elapsed().as_millis() as u64, "demo open cases received");
    Ok(())
}

/// A warning about the resident whose ID number is `enc`, as upstream would send it.
fn about(
    key: &DataKey,
    rng: &mut Lcg,
    name: &str,
    enc: &[u8],
    upstream_id: String,
    now: i64,
    signal: Signal,
) -> anyhow::Result<Warning> {
    let number = key.decrypt_str(enc)?;
    let id = IdNumber::parse(&number, beijing_today(now)).map_err(|r| anyhow::anyhow!("a demo ID number: {r}"))?;
    let event_at = now - MINUTE_MS - (rng.next() % 10) as i64 * MINUTE_MS;
    let kind = fraud::kind(rng, 1.0);
    let mut w = fraud::warning(rng, upstream_id, event_at, kind, signal);
    w.name = Some(name.to_string());
    w.id_number = Some(id);
    Ok(w)
}

/// Starts the live trickle: the first warning about 5 s after start, so someone opening the
/// queue sees one arrive, then one every 30 to 90 s until the server shuts down.
pub fn start(state: AppState) {
    tokio::spawn(async move {
        let mut rng = Lcg(20_261_123);
        // A fresh prefix each start: a restarted demo must not resend a stored upstream id,
        // which intake would refuse as a conflict.
        let prefix = format!("live-{}", state.clock.now_ms());
        let mut wait = Duration::from_secs(5);
        for n in 1.. {
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = state.shutdown.cancelled() => return,
            }
            if let Err(e) = one(&state, &mut rng, format!("{prefix}-{n}")).await {
                tracing::warn!(error = %e, "the demo's live warning was not stored");
            }
            wait = Duration::from_secs(30 + rng.next() % 61);
        }
    });
}

/// One warning about a random demo resident (none while the demo has no people).
async fn one(state: &AppState, rng: &mut Lcg, upstream_id: String) -> anyhow::Result<()> {
    let (lo, hi): (Option<i64>, Option<i64>) =
        sqlx::query_as("SELECT MIN(id), MAX(id) FROM residents WHERE id_enc IS NOT NULL")
            .fetch_one(state.db.reader())
            .await?;
    let (Some(lo), Some(hi)) = (lo, hi) else { return Ok(()) };
    let from = lo + (rng.next() as i64) % (hi - lo + 1);
    let row: Option<(String, Vec<u8>)> =
        sqlx::query_as("SELECT name, id_enc FROM residents WHERE id >= $1 AND id_enc IS NOT NULL ORDER BY id LIMIT 1")
            .bind(from)
            .fetch_optional(state.db.reader())
            .await?;
    let Some((name, enc)) = row else { return Ok(()) };
    let now = state.clock.now_ms();
    let signal = fraud::signal(rng);
    let w = about(&state.key, rng, &name, &enc, upstream_id, now, signal)?;
    service::ingest_system(state, w, AUDIT_ACTION).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(())
}
