//! Deadlines and escalation. Each deadline is a job (ARCHITECTURE.md: jobs are data): when it
//! comes due and the step (first contact, or the face-to-face visit of a red case) is not done,
//! the case escalates to the station head, and if still not done some minutes later, to the
//! branch. Notifications go to the role at the unit, so whoever is on duty reads them.
//!
//! Invariant: each escalation step happens once per case and step, whichever job or server
//! gets there; the timeline line is the proof it happened.

use serde::Deserialize;

use super::intake::Settings;
use crate::app::AppState;
use crate::audit::{self, Entry};
use crate::db::Tx;
use crate::jobs::Job;

pub use super::intake::DEADLINE_JOB;
pub const BRANCH_JOB: &str = "antifraud.escalate_branch";

#[derive(Debug, Deserialize)]
struct Payload {
    case_id: i64,
    step: String,
}

#[derive(Debug, sqlx::FromRow)]
struct CaseDue {
    state: String,
    grade: String,
    node_id: i64,
    station_id: Option<i64>,
    contact_due_at: Option<i64>,
    visit_due_at: Option<i64>,
    first_contact_at: Option<i64>,
    visited_at: Option<i64>,
}

impl CaseDue {
    /// (due, done) of a step.
    fn step(&self, step: &str) -> Option<(i64, bool)> {
        match step {
            "contact" => self.contact_due_at.map(|d| (d, self.first_contact_at.is_some())),
            "visit" => self.visit_due_at.map(|d| (d, self.visited_at.is_some())),
            _ => None,
        }
    }
}

async fn load(tx: &mut Tx, id: i64) -> Result<Option<CaseDue>, sqlx::Error> {
    sqlx::query_as(
        "SELECT state, grade, node_id, station_id, contact_due_at, visit_due_at, first_contact_at, visited_at \
         FROM fraud_cases WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&mut **tx)
    .await
}

async fn already(tx: &mut Tx, case_id: i64, result: &str) -> Result<bool, sqlx::Error> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM fraud_case_events WHERE case_id = $1 AND kind = 'escalated' AND result = $2",
    )
    .bind(case_id)
    .bind(result)
    .fetch_one(&mut **tx)
    .await?;
    Ok(n > 0)
}

/// A deadline came due: escalate to the station head if the step is still undone.
pub async fn run_deadline(state: &AppState, tx: &mut Tx, job: &Job) -> anyhow::Result<()> {
    let p: Payload = serde_json::from_str(&job.payload)?;
    let now = state.clock.now_ms();
    let Some(case) = load(tx, p.case_id).await? else { return Ok(()) };
    let Some((due, done)) = case.step(&p.step) else { return Ok(()) };
    // A deadline brought forward leaves its older job behind; the new one may not be due yet.
    if case.state != "open" || done || due > now {
        return Ok(());
    }
    let result = format!("{}:station", p.step);
    if already(tx, p.case_id, &result).await? {
        return Ok(());
    }
    // Unmatched cases in the city queue have no station: the city commander answers for them.
    let (node, role) = match case.station_id {
        Some(s) => (s, "station_head"),
        None => (case.node_id, "city_commander"),
    };
    escalate(state, tx, job, p.case_id, &case, &p.step, &result, 1, node, role, now).await?;
    if case.station_id.is_some() {
        let settings = Settings::load(state).await?;
        let at = now + settings.deadlines.branch_after_minutes * 60_000;
        let payload = serde_json::json!({"case_id": p.case_id, "step": p.step});
        crate::jobs::schedule(tx, BRANCH_JOB, at, &payload, now).await?;
    }
    Ok(())
}

/// Still undone some minutes after the station head was told: the branch is told.
pub async fn run_branch(state: &AppState, tx: &mut Tx, job: &Job) -> anyhow::Result<()> {
    let p: Payload = serde_json::from_str(&job.payload)?;
    let now = state.clock.now_ms();
    let Some(case) = load(tx, p.case_id).await? else { return Ok(()) };
    let Some((_, done)) = case.step(&p.step) else { return Ok(()) };
    let Some(station) = case.station_id else { return Ok(()) };
    let result = format!("{}:branch", p.step);
    if case.state != "open" || done || already(tx, p.case_id, &result).await? {
        return Ok(());
    }
    let Some(branch) = super::matching::branch_of(state.db.reader(), station).await? else { return Ok(()) };
    escalate(state, tx, job, p.case_id, &case, &p.step, &result, 2, branch, "branch_leader", now).await
}

#[allow(clippy::too_many_arguments)]
async fn escalate(
    state: &AppState,
    tx: &mut Tx,
    job: &Job,
    case_id: i64,
    case: &CaseDue,
    step: &str,
    result: &str,
    level: i64,
    node: i64,
    role: &str,
    now: i64,
) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE fraud_cases SET escalation = CASE WHEN escalation < $2 THEN $2 ELSE escalation END WHERE id = $1",
    )
    .bind(case_id)
    .bind(level)
    .execute(&mut **tx)
    .await?;
    let line = super::store::Line {
        case_id,
        at: now,
        account_id: None,
        kind: "escalated",
        result: Some(result),
        note: role,
        amount_fen: None,
    };
    super::store::timeline(tx, &line).await?;
    let payload = serde_json::json!({"grade": case.grade, "step": step, "level": level});
    crate::notifications::send_to_role(tx, node, role, "antifraud.escalated", Some(case_id), &payload, now).await?;
    let event = serde_json::json!({"case_id": case_id, "grade": case.grade, "change": "escalated", "level": level});
    crate::events::publish(tx, &state.db, "antifraud.case", Some(case.node_id), &event, now).await?;
    let entry = Entry::system("antifraud.case.escalate", job.id)
        .record(format!("fraud_case:{case_id}"))
        .detail(serde_json::json!({"step": step, "to": role, "node": node, "level": level}));
    audit::append(tx, &state.db, &state.key, now, &entry).await?;
    Ok(())
}
