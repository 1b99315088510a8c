//! SQL of warnings and cases.

use super::matching::Route;
use super::model::{Grade, Kind, MatchKind};
use crate::db::bulk::{marks, Value};
use crate::db::{Db, Tx};

/// A stored warning, as much of it as the idempotency check compares.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredWarning {
    pub id: i64,
    pub case_id: i64,
    pub grade: String,
    pub event_at: i64,
    pub name: Option<String>,
    pub id_hash: Option<Vec<u8>>,
    pub phone_hash: Option<Vec<u8>>,
    pub kind: String,
    pub contacts_count: Option<i64>,
    pub longest_call_s: Option<i64>,
    pub app_installed: Option<i64>,
    pub app_name: Option<String>,
    pub amount_fen: Option<i64>,
    pub flagged_account: Option<String>,
}

/// The columns of a [`StoredWarning`].
pub const STORED_COLUMNS: &str = "id, case_id, grade, event_at, name, id_hash, phone_hash, kind, contacts_count, \
     longest_call_s, app_installed, app_name, amount_fen, flagged_account";

pub async fn existing(tx: &mut Tx, source: &str, upstream_id: &str) -> Result<Option<StoredWarning>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {STORED_COLUMNS} FROM fraud_warnings WHERE source = $1 AND upstream_id = $2"))
        .bind(source)
        .bind(upstream_id)
        .fetch_optional(&mut **tx)
        .await
}

/// The open case a new warning about the same person joins, if one opened within the window.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OpenCase {
    pub id: i64,
    pub grade_rank: i64,
    pub reasons: String,
    pub node_id: i64,
    pub contact_due_at: Option<i64>,
    pub visit_due_at: Option<i64>,
    pub first_contact_at: Option<i64>,
    pub visited_at: Option<i64>,
}

/// Cases about nobody matched: the condition of the subject index (migration 0009), which the
/// resident index, holding only matched cases, cannot answer instead.
pub const UNMATCHED: &str = "resident_id IS NULL";

/// The newest case in `state` (`open`, or `history` for history) about the resident or, for an
/// unmatched person, the subject hash, opened at `opened_since` or later.
pub async fn open_case_in(
    tx: &mut Tx,
    resident_id: Option<i64>,
    subject_hash: Option<&[u8]>,
    opened_since: i64,
    state: &str,
) -> Result<Option<OpenCase>, sqlx::Error> {
    let cols = "id, grade_rank, reasons, node_id, contact_due_at, visit_due_at, first_contact_at, visited_at";
    match (resident_id, subject_hash) {
        (Some(r), _) => {
            sqlx::query_as(&format!(
                "SELECT {cols} FROM fraud_cases WHERE resident_id = $1 AND state = $3 AND opened_at >= $2 \
                 ORDER BY id DESC LIMIT 1"
            ))
            .bind(r)
            .bind(opened_since)
            .bind(state)
            .fetch_optional(&mut **tx)
            .await
        }
        (None, Some(h)) => {
            sqlx::query_as(&format!(
                "SELECT {cols} FROM fraud_cases WHERE {UNMATCHED} AND subject_hash = $1 AND state = $3 \
                 AND opened_at >= $2 ORDER BY id DESC LIMIT 1"
            ))
            .bind(h)
            .bind(opened_since)
            .bind(state)
            .fetch_optional(&mut **tx)
            .await
        }
        (None, None) => Ok(None),
    }
}

pub struct NewCase<'a> {
    pub resident_id: Option<i64>,
    pub subject_hash: Option<&'a [u8]>,
    pub at: i64,
    pub grade: Grade,
    pub reasons: &'a str,
    pub kind: Kind,
    pub state: &'a str,
    pub match_kind: MatchKind,
    pub route: Route,
    pub contact_due_at: Option<i64>,
    pub visit_due_at: Option<i64>,
    pub history: bool,
}

pub async fn insert_case(tx: &mut Tx, c: &NewCase<'_>) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO fraud_cases (resident_id, subject_hash, opened_at, last_warning_at, warnings, grade, grade_rank, \
         reasons, kind, state, match_state, grid_id, post_id, station_id, node_id, officer_id, contact_due_at, \
         visit_due_at, history) VALUES ($1, $2, $3, $3, 1, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) \
         RETURNING id",
    )
    .bind(c.resident_id)
    .bind(c.subject_hash)
    .bind(c.at)
    .bind(c.grade.code())
    .bind(c.grade.rank())
    .bind(c.reasons)
    .bind(c.kind.code())
    .bind(c.state)
    .bind(c.match_kind.code())
    .bind(c.route.grid_id)
    .bind(c.route.post_id)
    .bind(c.route.station_id)
    .bind(c.route.node_id)
    .bind(c.route.officer_id)
    .bind(c.contact_due_at)
    .bind(c.visit_due_at)
    .bind(i64::from(c.history))
    .fetch_one(&mut **tx)
    .await
}

/// A later warning joins the case: its grade only goes up, its reasons accumulate.
pub async fn join_case(
    tx: &mut Tx,
    id: i64,
    at: i64,
    grade: Grade,
    reasons: &str,
    contact_due_at: Option<i64>,
    visit_due_at: Option<i64>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE fraud_cases SET warnings = warnings + 1, last_warning_at = $2, grade = $3, grade_rank = $4, \
         reasons = $5, contact_due_at = $6, visit_due_at = $7 WHERE id = $1",
    )
    .bind(id)
    .bind(at)
    .bind(grade.code())
    .bind(grade.rank())
    .bind(reasons)
    .bind(contact_due_at)
    .bind(visit_due_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Warnings written together joined these cases: as [`join_case`] for several at once. Each row
/// is (id, warnings added, last warning at, grade, grade rank, reasons, contact due, visit due);
/// one statement per 1,000 cases, through a VALUES list (whose columns both engines name
/// column1…).
pub async fn grow_cases(db: &Db, tx: &mut Tx, rows: Vec<Vec<Value>>) -> Result<(), sqlx::Error> {
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let part: Vec<Vec<Value>> = rows.by_ref().take(1000).collect();
        let values: Vec<String> = (0..part.len()).map(|k| format!("({})", marks(db.backend, k * 8 + 1, 8))).collect();
        let sql = format!(
            "UPDATE fraud_cases SET warnings = fraud_cases.warnings + v.column2, last_warning_at = v.column3, \
             grade = v.column4, grade_rank = v.column5, reasons = v.column6, contact_due_at = v.column7, \
             visit_due_at = v.column8 FROM (VALUES {}) AS v WHERE fraud_cases.id = v.column1",
            values.join(", ")
        );
        let q = part.into_iter().flatten().fold(sqlx::query(&sql), |q, v| v.bind(q));
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// A warning's columns, identifiers already encrypted and hashed.
pub struct NewWarning<'a> {
    pub source: &'a str,
    pub upstream_id: &'a str,
    pub event_at: i64,
    pub received_at: i64,
    pub name: Option<&'a str>,
    pub id_enc: Option<Vec<u8>>,
    pub id_hash: Option<&'a [u8]>,
    pub id_head: Option<&'a str>,
    pub id_tail: Option<&'a str>,
    pub phone_enc: Option<Vec<u8>>,
    pub phone_hash: Option<&'a [u8]>,
    pub phone_masked: Option<String>,
    pub kind: Kind,
    pub contacts_count: Option<i64>,
    pub longest_call_s: Option<i64>,
    pub app_installed: Option<bool>,
    pub app_name: Option<&'a str>,
    pub amount_fen: Option<i64>,
    pub flagged_account: Option<&'a str>,
    pub grade: Grade,
    pub reasons: String,
    pub rules_version: i64,
    pub match_kind: MatchKind,
    pub case_id: i64,
    pub history: bool,
}

/// The columns of a warning, in the order of [`NewWarning::values`].
pub const WARNING_COLUMNS: [&str; 25] = [
    "source",
    "upstream_id",
    "event_at",
    "received_at",
    "name",
    "id_enc",
    "id_hash",
    "id_head",
    "id_tail",
    "phone_enc",
    "phone_hash",
    "phone_masked",
    "kind",
    "contacts_count",
    "longest_call_s",
    "app_installed",
    "app_name",
    "amount_fen",
    "flagged_account",
    "grade",
    "reasons",
    "rules_version",
    "match_kind",
    "case_id",
    "history",
];

impl NewWarning<'_> {
    pub fn values(&self) -> Vec<Value> {
        vec![
            self.source.into(),
            self.upstream_id.into(),
            self.event_at.into(),
            self.received_at.into(),
            self.name.into(),
            self.id_enc.clone().into(),
            self.id_hash.map(<[u8]>::to_vec).into(),
            self.id_head.into(),
            self.id_tail.into(),
            self.phone_enc.clone().into(),
            self.phone_hash.map(<[u8]>::to_vec).into(),
            self.phone_masked.clone().into(),
            self.kind.code().into(),
            self.contacts_count.into(),
            self.longest_call_s.into(),
            self.app_installed.map(i64::from).into(),
            self.app_name.into(),
            self.amount_fen.into(),
            self.flagged_account.into(),
            self.grade.code().into(),
            self.reasons.as_str().into(),
            self.rules_version.into(),
            self.match_kind.code().into(),
            self.case_id.into(),
            i64::from(self.history).into(),
        ]
    }
}

pub async fn insert_warning(tx: &mut Tx, w: &NewWarning<'_>) -> Result<i64, sqlx::Error> {
    static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        let marks: Vec<String> = (1..=WARNING_COLUMNS.len()).map(|i| format!("${i}")).collect();
        format!(
            "INSERT INTO fraud_warnings ({}) VALUES ({}) RETURNING id",
            WARNING_COLUMNS.join(", "),
            marks.join(", ")
        )
    });
    let mut q = sqlx::query_scalar(SQL.as_str());
    for v in w.values() {
        q = v.bind_scalar(q);
    }
    q.fetch_one(&mut **tx).await
}

pub async fn add_candidates(tx: &mut Tx, case_id: i64, residents: &[i64]) -> Result<(), sqlx::Error> {
    for r in residents {
        let sql = "INSERT INTO fraud_candidates (case_id, resident_id) VALUES ($1, $2) ON CONFLICT DO NOTHING";
        sqlx::query(sql).bind(case_id).bind(r).execute(&mut **tx).await?;
    }
    Ok(())
}

/// One line of a case's timeline.
pub struct Line<'a> {
    pub case_id: i64,
    pub at: i64,
    pub account_id: Option<i64>,
    pub kind: &'a str,
    pub result: Option<&'a str>,
    pub note: &'a str,
    pub amount_fen: Option<i64>,
}

pub async fn timeline(tx: &mut Tx, l: &Line<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO fraud_case_events (case_id, at, account_id, kind, result, note, amount_fen) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(l.case_id)
    .bind(l.at)
    .bind(l.account_id)
    .bind(l.kind)
    .bind(l.result)
    .bind(l.note)
    .bind(l.amount_fen)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
