//! Live warnings that arrive together are written together. Each single-warning request is
//! matched, routed and graded on its own (on the read pool), then queued here; one task takes
//! whatever has queued while the previous write was committing and writes it with a dozen
//! statements (the stored warnings of their keys, the open cases about their people, then one
//! multi-row insert or update per table) instead of some ten per warning. Every statement on
//! SQLite is a hand-off to its connection's thread and on PostgreSQL a round trip, so at 2,000
//! warnings a second this is most of the server's work (bench/warning_api.sh).
//!
//! The rules are those of [`intake::apply`], applied in queue order, so the outcome is the one
//! the same requests would have had one after another: a resend in the same write is a
//! duplicate of the first, a second warning about the same person joins the case the first
//! opened, and a rise in grade brings that case's deadlines forward. Each request keeps its own
//! audit entry, appended with the others' at the end of the write (`db/group.rs`).

use std::sync::Arc;

use serde_json::json;
use sha2::{Digest as _, Sha256};
use tokio::sync::{mpsc, oneshot, Semaphore};

use super::intake::{self, Conflict, Prepared, Receipt, Settings, Status, Touched, DEADLINE_JOB};
use super::model::Grade;
use super::store::WARNING_COLUMNS;
use super::together::{self, Case, CaseKey};
use crate::app::AppState;
use crate::audit::{self, Entry};
use crate::db::bulk::Value;
use crate::db::{Backend, Db, Tx};
use crate::web::error::AppError;

/// Warnings written together at most; more wait for the next write.
const MAX_TOGETHER: usize = 256;

/// One request's warning, ready to be written.
pub struct Item {
    pub prepared: Prepared,
    pub settings: Settings,
    /// When the request arrived: the warning's receipt time, and its deadlines' start.
    pub now: i64,
    /// The request's audit entry, completed with the records it wrote.
    pub entry: Entry,
}

pub type Outcome = Result<Receipt, Conflict>;

struct Job {
    state: AppState,
    item: Item,
    done: oneshot::Sender<Result<Outcome, AppError>>,
}

/// The queue in front of the writer. `writers` writes run at once: one on SQLite (it has one
/// writer), several on PostgreSQL (as many as the group commit has writers).
#[derive(Clone)]
pub struct Queue {
    jobs: mpsc::Sender<Job>,
}

impl Queue {
    /// Starts the task that takes the queue; it ends when the last `Queue` handle is dropped.
    pub fn start(writers: usize) -> Queue {
        let (jobs, mut rx) = mpsc::channel::<Job>(4 * MAX_TOGETHER);
        let permits = Arc::new(Semaphore::new(writers.max(1)));
        tokio::spawn(async move {
            loop {
                // While every writer is busy, requests gather in the queue: the next write takes
                // them all.
                let Ok(permit) = permits.clone().acquire_owned().await else { break };
                let Some(first) = rx.recv().await else { break };
                let mut jobs = vec![first];
                while jobs.len() < MAX_TOGETHER {
                    match rx.try_recv() {
                        Ok(job) => jobs.push(job),
                        Err(_) => break,
                    }
                }
                tokio::spawn(async move {
                    write(jobs).await;
                    drop(permit);
                });
            }
        });
        Queue { jobs }
    }

    /// Writes one warning with whatever else is queued; answers once that write has committed.
    pub async fn write(&self, state: &AppState, item: Item) -> Result<Outcome, AppError> {
        let (done, answer) = oneshot::channel();
        let stopped = || AppError::Unavailable("the warning writer has stopped".into());
        self.jobs.send(Job { state: state.clone(), item, done }).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

async fn write(jobs: Vec<Job>) {
    let state = jobs[0].state.clone();
    let (items, dones): (Vec<Item>, Vec<_>) = jobs.into_iter().map(|j| (j.item, j.done)).unzip();
    let st = state.clone();
    let written = state
        .db
        .grouped_audited(move |tx| {
            Box::pin(async move {
                let outcomes = apply(tx, &st, &items).await?;
                let mut answers = Vec::with_capacity(outcomes.len());
                let mut entries = Vec::new();
                for (outcome, item) in outcomes.into_iter().zip(items) {
                    answers.push(outcome.map(|(receipt, touched)| {
                        // A duplicate wrote nothing: nothing to audit.
                        if receipt.status == Status::Created {
                            let entry = item.entry.records(super::service::records(&touched));
                            entries.push(audit::Pending { entry, at: item.now, state: st.clone() });
                        }
                        receipt
                    }));
                }
                Ok((answers, entries))
            })
        })
        .await;
    match written {
        Ok(answers) => {
            if answers.iter().any(|a| a.as_ref().is_ok_and(|r| r.status == Status::Created)) {
                crate::events::wake(&state);
            }
            for (done, answer) in dones.into_iter().zip(answers) {
                let _ = done.send(Ok(answer));
            }
        }
        Err(e) => {
            // Nothing of the write committed: every request hears why.
            let unavailable = matches!(e, AppError::Unavailable(_));
            let reason = e.to_string();
            for done in dones {
                let e = match unavailable {
                    true => AppError::Unavailable(reason.clone()),
                    false => AppError::Internal(anyhow::anyhow!("{reason}")),
                };
                let _ = done.send(Err(e));
            }
        }
    }
}

/// The rows a write adds besides its warnings and cases.
#[derive(Default)]
struct Rows {
    warnings: Vec<Vec<Value>>,
    candidates: Vec<Vec<Value>>,
    jobs: Vec<Vec<Value>>,
    timeline: Vec<Vec<Value>>,
    events: Vec<Vec<Value>>,
    notifications: Vec<Vec<Value>>,
}

impl Rows {
    fn deadline(&mut self, case_id: i64, step: &str, due: i64, now: i64) {
        let payload = json!({"case_id": case_id, "step": step}).to_string();
        self.jobs.push(vec![DEADLINE_JOB.into(), due.into(), payload.into(), now.into()]);
    }
}

/// Stores `items` in `tx` in order, as [`intake::apply`] would one after another (live, not
/// history): what each did, with the records it touched, or the conflict it met.
pub async fn apply(
    tx: &mut Tx,
    state: &AppState,
    items: &[Item],
) -> Result<Vec<Result<(Receipt, Touched), Conflict>>, sqlx::Error> {
    let db = &state.db;
    lock_people(tx, db.backend, items).await?;
    let mut stored = together::existing(tx, db.backend, items.iter().map(|i| &i.prepared)).await?;
    let window = |i: &Item| i.settings.rules.merge_window_ms();
    let since = items.iter().map(|i| i.now - window(i)).min().unwrap_or(0);
    let subjects = items.iter().map(|i| &i.prepared.subject);
    let mut cases = together::cases_about(tx, db.backend, subjects, since, "open").await?;
    let mut case_ids = db.reserve_ids(tx, "fraud_cases", items.len()).await?.into_iter();
    let mut warning_ids = db.reserve_ids(tx, "fraud_warnings", items.len()).await?.into_iter();
    // Cases about nobody in particular (a warning with neither ID number nor phone) never merge.
    let mut keyless: Vec<Case> = Vec::new();
    let mut rows = Rows::default();
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let (p, now, deadlines) = (&item.prepared, item.now, &item.settings.deadlines);
        let key = (p.w.source.clone(), p.w.upstream_id.clone());
        if let Some(s) = stored.get(&key) {
            out.push(match intake::first_difference(s, p) {
                None => Ok((
                    Receipt {
                        warning_id: s.id,
                        case_id: s.case_id,
                        grade: Grade::parse(&s.grade).unwrap_or(Grade::Blue),
                        status: Status::Duplicate,
                        match_kind: p.subject.kind,
                    },
                    Touched::default(),
                )),
                Some(field) => Err(Conflict { warning_id: s.id, field }),
            });
            continue;
        }
        let list = together::case_key(&p.subject).map(|k| cases.entry(k).or_default());
        let joins = list.as_ref().and_then(|l| Case::joinable(l, now, window(item)));
        let (case_id, case_node, case_grade, change) = match (list, joins) {
            (Some(list), Some(i)) => {
                let c = &mut list[i];
                let old = c.grade;
                let grade = old.max(p.grade);
                if grade > old {
                    // A rise brings the deadlines forward, from this warning's receipt; never back.
                    let (contact, visit) = deadlines.due(grade, now);
                    if c.first_contact_at.is_none() && c.contact_due_at.is_none_or(|d| contact < d) {
                        c.contact_due_at = Some(contact);
                        rows.deadline(c.id, "contact", contact, now);
                    }
                    if let Some(v) = visit.filter(|v| c.visited_at.is_none() && c.visit_due_at.is_none_or(|d| *v < d)) {
                        c.visit_due_at = Some(v);
                        rows.deadline(c.id, "visit", v, now);
                    }
                }
                c.grade = grade;
                c.reasons = intake::merge_reasons(std::mem::take(&mut c.reasons), &p.reasons);
                c.last_warning_at = now;
                c.added += 1;
                (c.id, c.node_id, grade, "joined")
            }
            (list, _) => {
                let id = case_ids.next().ok_or_else(|| sqlx::Error::Protocol("BUG: fewer case ids".into()))?;
                let (contact, visit) = deadlines.due(p.grade, now);
                rows.deadline(id, "contact", contact, now);
                if let Some(v) = visit {
                    rows.deadline(id, "visit", v, now);
                }
                rows.candidates.extend(p.subject.candidates.iter().map(|r| vec![Value::from(id), Value::from(*r)]));
                if let Some(officer) = p.route.officer_id {
                    let payload = json!({"grade": p.grade.code(), "kind": p.w.kind.code()}).to_string();
                    let kind = "antifraud.case_assigned";
                    rows.notifications.push(vec![now.into(), officer.into(), kind.into(), id.into(), payload.into()]);
                }
                let case = Case::opened(id, p, now, (Some(contact), visit));
                match list {
                    Some(list) => list.push(case),
                    None => keyless.push(case),
                }
                (id, p.route.node_id, p.grade, "opened")
            }
        };
        let warning_id = warning_ids.next().ok_or_else(|| sqlx::Error::Protocol("BUG: fewer warning ids".into()))?;
        let mut row = vec![Value::from(warning_id)];
        row.extend(intake::columns(p, now, item.settings.rules_version, case_id, false).values());
        rows.warnings.push(row);
        stored.insert(key, together::stored_form(warning_id, case_id, p));
        let grade = p.grade.code();
        rows.timeline.push(vec![
            case_id.into(),
            now.into(),
            Value::Int(None),
            "warning".into(),
            grade.into(),
            "".into(),
        ]);
        let payload = json!({"case_id": case_id, "grade": case_grade.code(), "change": change}).to_string();
        rows.events.push(vec![now.into(), "antifraud.case".into(), case_node.into(), payload.into()]);
        let touched = Touched { warnings: vec![warning_id], cases: vec![case_id], events: 1 };
        let receipt =
            Receipt { warning_id, case_id, grade: p.grade, status: Status::Created, match_kind: p.subject.kind };
        out.push(Ok((receipt, touched)));
    }
    let all = cases.values().flatten().chain(&keyless);
    let case_rows = together::CaseRows::of(all, "open");
    write_rows(tx, &state.db, case_rows, rows).await?;
    Ok(out)
}

/// On PostgreSQL several writes run at once. Two about one person would each find no open case
/// and each open one, and two with one upstream key would break its uniqueness: each write first
/// locks its people and keys (transaction advisory locks on hashes of them, all in one statement
/// in ascending order, so two writes never wait on each other in a circle), and the second
/// reads what the first committed. SQLite's one writer needs nothing.
async fn lock_people(tx: &mut Tx, backend: Backend, items: &[Item]) -> Result<(), sqlx::Error> {
    if backend != Backend::Postgres {
        return Ok(());
    }
    let lock_key = |parts: &[&[u8]]| {
        let mut h = Sha256::new();
        for part in parts {
            h.update((part.len() as u64).to_le_bytes());
            h.update(part);
        }
        i64::from_le_bytes(h.finalize()[..8].try_into().expect("eight bytes"))
    };
    let mut keys: Vec<i64> = Vec::with_capacity(2 * items.len());
    for p in items.iter().map(|i| &i.prepared) {
        keys.push(lock_key(&[b"warning", p.w.source.as_bytes(), p.w.upstream_id.as_bytes()]));
        match together::case_key(&p.subject) {
            Some(CaseKey::Resident(r)) => keys.push(lock_key(&[b"resident", &r.to_le_bytes()])),
            Some(CaseKey::Subject(h)) => keys.push(lock_key(&[b"subject", &h])),
            None => {}
        }
    }
    keys.sort_unstable();
    keys.dedup();
    let list = keys.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
    // Our own integers, written into the SQL.
    let sql = format!(
        "SELECT COUNT(pg_advisory_xact_lock(k)) FROM (SELECT unnest(ARRAY[{list}]::bigint[]) AS k ORDER BY k) t"
    );
    sqlx::query(&sql).execute(&mut **tx).await?;
    Ok(())
}

/// Parents first: warnings, candidates, timeline lines and notifications name their case.
async fn write_rows(tx: &mut Tx, db: &Db, cases: together::CaseRows, rows: Rows) -> Result<(), sqlx::Error> {
    together::write_cases(tx, db, cases).await?;
    let mut columns = vec!["id"];
    columns.extend(WARNING_COLUMNS);
    db.insert_rows(tx, "fraud_warnings", &columns, rows.warnings).await?;
    db.insert_rows(tx, "fraud_candidates", &["case_id", "resident_id"], rows.candidates).await?;
    db.insert_rows(tx, "jobs", &["kind", "due_at", "payload", "created_at"], rows.jobs).await?;
    let line = ["case_id", "at", "account_id", "kind", "result", "note"];
    db.insert_rows(tx, "fraud_case_events", &line, rows.timeline).await?;
    crate::events::publish_many(tx, db, rows.events).await?;
    let note = ["created_at", "account_id", "kind", "case_id", "payload"];
    db.insert_rows(tx, "notifications", &note, rows.notifications).await?;
    Ok(())
}
