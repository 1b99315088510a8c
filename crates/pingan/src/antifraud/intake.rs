//! Intake: a parsed warning is stored once per (source, upstream_id), matched, graded, routed
//! and merged into the open case about its person, with the case's deadlines scheduled, all in
//! the transaction that stores it.
//!
//! Reads that only look at base data run before the write transaction, on the read pool, so the
//! single SQLite writer holds its lock only for the writes.

use super::matching::{self, Route, Subject};
use super::model::{Grade, MatchKind, Reason, Warning};
use super::rules::{self, Deadlines, GradingRules};
use super::store::{self, NewCase, NewWarning, StoredWarning};
use crate::app::AppState;
use crate::db::Tx;
use crate::events;
use crate::jobs;

pub const DEADLINE_JOB: &str = "antifraud.deadline";

/// The settings every warning of a request is handled under.
#[derive(Debug, Clone)]
pub struct Settings {
    pub rules: GradingRules,
    pub rules_version: i64,
    pub deadlines: Deadlines,
}

impl Settings {
    /// The settings in force: from the cache when read less than a second ago.
    pub async fn load(state: &AppState) -> anyhow::Result<Settings> {
        if let Some(s) = state.antifraud_settings.get(&()) {
            return Ok(s);
        }
        let newest = crate::settings::Newest::load(&state.db, &[rules::GRADING, rules::DEADLINES]).await?;
        let (rules, rules_version) = newest.get_versioned(rules::GRADING)?;
        let (deadlines, _) = newest.get_versioned(rules::DEADLINES)?;
        let settings = Settings { rules, rules_version, deadlines };
        state.antifraud_settings.put((), settings.clone());
        Ok(settings)
    }
}

/// A warning with everything base data says about it, ready to be written.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub w: Warning,
    pub id_hash: Option<Vec<u8>>,
    pub phone_hash: Option<Vec<u8>>,
    pub subject: Subject,
    pub route: Route,
    pub grade: Grade,
    pub reasons: Vec<Reason>,
    /// The identifiers encrypted, before the write transaction, so the writer waits for no AES.
    pub id_enc: Option<Vec<u8>>,
    pub phone_enc: Option<Vec<u8>>,
}

/// The keyed hashes of a warning's ID number and phone.
pub type Hashes = (Option<Vec<u8>>, Option<Vec<u8>>);

impl Prepared {
    pub fn new(
        state: &AppState,
        w: Warning,
        hashes: Hashes,
        subject: Subject,
        route: Route,
        grade: (Grade, Vec<Reason>),
    ) -> Prepared {
        let id_enc = w.id_number.as_ref().map(|id| state.key.encrypt_str(id.as_str()));
        let phone_enc = w.phone.as_ref().map(|ph| state.key.encrypt_str(ph.as_str()));
        let ((id_hash, phone_hash), (grade, reasons)) = (hashes, grade);
        Prepared { w, id_hash, phone_hash, subject, route, grade, reasons, id_enc, phone_enc }
    }
}

pub async fn prepare(state: &AppState, w: Warning, settings: &Settings) -> Result<Prepared, sqlx::Error> {
    let (id_hash, phone_hash) = matching::hashes(&state.key, &w);
    let (subject, route) = matching::find(state.db.reader(), &w, id_hash.as_deref(), phone_hash.as_deref()).await?;
    let grade = rules::grade(&w, subject.person, &settings.rules);
    Ok(Prepared::new(state, w, (id_hash, phone_hash), subject, route, grade))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Created,
    /// The same warning was sent before: nothing changed.
    Duplicate,
}

#[derive(Debug, Clone)]
pub struct Receipt {
    pub warning_id: i64,
    pub case_id: i64,
    pub grade: Grade,
    pub status: Status,
    pub match_kind: MatchKind,
}

/// The same (source, upstream_id) with other content: the first one stands.
#[derive(Debug, Clone)]
pub struct Conflict {
    pub warning_id: i64,
    pub field: &'static str,
}

/// What a request changed, for its audit entry and the wake-up after commit.
#[derive(Debug, Default)]
pub struct Touched {
    pub warnings: Vec<i64>,
    pub cases: Vec<i64>,
    pub events: usize,
}

/// Stores one prepared warning inside `tx`. History (`history`) is stored and merged like the
/// rest but schedules no deadline, sends no event and leaves its case out of the live queue.
pub async fn apply(
    tx: &mut Tx,
    state: &AppState,
    p: &Prepared,
    settings: &Settings,
    now: i64,
    history: bool,
    touched: &mut Touched,
) -> Result<Result<Receipt, Conflict>, sqlx::Error> {
    let w = &p.w;
    if let Some(stored) = store::existing(tx, &w.source, &w.upstream_id).await? {
        return Ok(match first_difference(&stored, p) {
            None => Ok(Receipt {
                warning_id: stored.id,
                case_id: stored.case_id,
                grade: super::model::Grade::parse(&stored.grade).unwrap_or(Grade::Blue),
                status: Status::Duplicate,
                match_kind: p.subject.kind,
            }),
            Some(field) => Err(Conflict { warning_id: stored.id, field }),
        });
    }
    // History has no receipt of ours worth counting from: its own time stands in.
    let received = if history { w.event_at } else { now };
    let state_code = if history { "history" } else { "open" };
    let window = settings.rules.merge_window_ms();
    let open = store::open_case_in(
        tx,
        p.subject.resident_id,
        p.subject.subject_hash.as_deref(),
        received - window,
        state_code,
    )
    .await?;
    let (case_id, case_node, case_grade, change) = match open {
        Some(case) => {
            let old = Grade::from_rank(case.grade_rank);
            let grade = old.max(p.grade);
            let reasons = merge_reasons(rules::parse_reasons(&case.reasons), &p.reasons);
            let (mut contact_due, mut visit_due) = (case.contact_due_at, case.visit_due_at);
            if !history && grade > old {
                // A rise brings the deadlines forward, from this warning's receipt; never back.
                let (c, v) = settings.deadlines.due(grade, received);
                if case.first_contact_at.is_none() && contact_due.is_none_or(|d| c < d) {
                    contact_due = Some(c);
                    schedule(tx, case.id, "contact", c, now).await?;
                }
                if let Some(v) = v.filter(|v| case.visited_at.is_none() && visit_due.is_none_or(|d| *v < d)) {
                    visit_due = Some(v);
                    schedule(tx, case.id, "visit", v, now).await?;
                }
            }
            store::join_case(tx, case.id, received, grade, &rules::reasons_code(&reasons), contact_due, visit_due)
                .await?;
            (case.id, case.node_id, grade, "joined")
        }
        None => {
            let dues = (!history).then(|| settings.deadlines.due(p.grade, received));
            let (contact_due, visit_due) = (dues.map(|d| d.0), dues.and_then(|d| d.1));
            let reasons = rules::reasons_code(&p.reasons);
            let case = NewCase {
                resident_id: p.subject.resident_id,
                subject_hash: p.subject.subject_hash.as_deref(),
                at: received,
                grade: p.grade,
                reasons: &reasons,
                kind: w.kind,
                state: state_code,
                match_kind: p.subject.kind,
                route: p.route,
                contact_due_at: contact_due,
                visit_due_at: visit_due,
                history,
            };
            let id = store::insert_case(tx, &case).await?;
            if let Some(c) = contact_due {
                schedule(tx, id, "contact", c, now).await?;
            }
            if let Some(v) = visit_due {
                schedule(tx, id, "visit", v, now).await?;
            }
            store::add_candidates(tx, id, &p.subject.candidates).await?;
            (id, p.route.node_id, p.grade, "opened")
        }
    };
    let warning_id = store::insert_warning(tx, &columns(p, received, settings.rules_version, case_id, history)).await?;
    if !history {
        let line = store::Line {
            case_id,
            at: now,
            account_id: None,
            kind: "warning",
            result: Some(p.grade.code()),
            note: "",
            amount_fen: None,
        };
        store::timeline(tx, &line).await?;
        let payload = serde_json::json!({"case_id": case_id, "grade": case_grade.code(), "change": change});
        events::publish(tx, &state.db, "antifraud.case", Some(case_node), &payload, now).await?;
        touched.events += 1;
        if change == "opened" {
            if let Some(officer) = p.route.officer_id {
                let payload = serde_json::json!({"grade": case_grade.code(), "kind": w.kind.code()});
                crate::notifications::send_to_account(
                    tx,
                    officer,
                    "antifraud.case_assigned",
                    Some(case_id),
                    &payload,
                    now,
                )
                .await?;
            }
        }
    }
    touched.warnings.push(warning_id);
    if !touched.cases.contains(&case_id) {
        touched.cases.push(case_id);
    }
    Ok(Ok(Receipt { warning_id, case_id, grade: p.grade, status: Status::Created, match_kind: p.subject.kind }))
}

/// A case's reasons after a warning joins it: the old ones, then the warning's new ones.
pub(super) fn merge_reasons(mut reasons: Vec<Reason>, more: &[Reason]) -> Vec<Reason> {
    for r in more {
        if !reasons.contains(r) {
            reasons.push(*r);
        }
    }
    reasons
}

async fn schedule(tx: &mut Tx, case_id: i64, step: &str, due: i64, now: i64) -> Result<(), sqlx::Error> {
    jobs::schedule(tx, DEADLINE_JOB, due, &serde_json::json!({"case_id": case_id, "step": step}), now).await?;
    Ok(())
}

pub(super) fn columns<'a>(
    p: &'a Prepared,
    received: i64,
    rules_version: i64,
    case_id: i64,
    history: bool,
) -> NewWarning<'a> {
    let w = &p.w;
    let id = w.id_number.as_ref().map(|id| id.as_str());
    NewWarning {
        source: &w.source,
        upstream_id: &w.upstream_id,
        event_at: w.event_at,
        received_at: received,
        name: w.name.as_deref(),
        id_enc: p.id_enc.clone(),
        id_hash: p.id_hash.as_deref(),
        id_head: id.map(|s| &s[..4]),
        id_tail: id.map(|s| &s[s.len() - 4..]),
        phone_enc: p.phone_enc.clone(),
        phone_hash: p.phone_hash.as_deref(),
        phone_masked: w.phone.as_ref().map(|ph| ph.masked()),
        kind: w.kind,
        contacts_count: w.contacts_count,
        longest_call_s: w.longest_call_s,
        app_installed: w.app_installed,
        app_name: w.app_name.as_deref(),
        amount_fen: w.amount_fen,
        flagged_account: w.flagged_account.as_deref(),
        grade: p.grade,
        reasons: rules::reasons_code(&p.reasons),
        rules_version,
        match_kind: p.subject.kind,
        case_id,
        history,
    }
}

/// The first field in which a resent warning differs from the stored one, compared after
/// parsing (so "1200.5" and 1200.50 are the same amount, and identifiers by their keyed hash).
pub(super) fn first_difference(s: &StoredWarning, p: &Prepared) -> Option<&'static str> {
    let w = &p.w;
    let checks: [(&'static str, bool); 11] = [
        ("time", s.event_at == w.event_at),
        ("name", s.name == w.name),
        ("id_number", s.id_hash == p.id_hash),
        ("phone", s.phone_hash == p.phone_hash),
        ("kind", s.kind == w.kind.code()),
        ("contacts_count", s.contacts_count == w.contacts_count),
        ("longest_call_s", s.longest_call_s == w.longest_call_s),
        ("app_installed", s.app_installed == w.app_installed.map(i64::from)),
        ("app_name", s.app_name == w.app_name),
        ("amount_yuan", s.amount_fen == w.amount_fen),
        ("flagged_account", s.flagged_account == w.flagged_account),
    ];
    checks.iter().find(|(_, same)| !same).map(|(f, _)| *f)
}
