//! The rows of the demo's fraud history and the batched INSERTs that write them: the columns
//! intake and case work write for a live case, nothing more.

use crate::antifraud::matching::Route;
use crate::antifraud::model::{Grade, Kind, MatchKind, Outcome, Warning};
use crate::antifraud::store::{NewWarning, WARNING_COLUMNS};
use crate::db::{Backend, Tx};
use crate::demo::bulk::Insert;

/// The identifiers a warning carries, encrypted and hashed.
#[derive(Clone, Default)]
pub(super) struct Ids {
    pub(super) name: Option<String>,
    pub(super) id_enc: Option<Vec<u8>>,
    pub(super) id_hash: Option<Vec<u8>>,
    pub(super) id_head: Option<String>,
    pub(super) id_tail: Option<String>,
    pub(super) phone_enc: Option<Vec<u8>>,
    pub(super) phone_hash: Option<Vec<u8>>,
    pub(super) phone_masked: Option<String>,
}

pub(super) struct WarningRow {
    pub(super) id: i64,
    pub(super) w: Warning,
    pub(super) received: i64,
    pub(super) ids: Ids,
    pub(super) grade: Grade,
    pub(super) reasons: String,
    pub(super) match_kind: MatchKind,
    pub(super) case_id: i64,
}

pub(super) struct CaseRow {
    pub(super) id: i64,
    pub(super) resident: Option<i64>,
    pub(super) subject_hash: Option<Vec<u8>>,
    pub(super) opened: i64,
    pub(super) last: i64,
    pub(super) warnings: i64,
    pub(super) grade: Grade,
    pub(super) reasons: String,
    pub(super) kind: Kind,
    pub(super) match_kind: MatchKind,
    pub(super) route: Route,
    pub(super) contact_due: i64,
    pub(super) visit_due: Option<i64>,
    pub(super) first_contact: Option<i64>,
    pub(super) visited: Option<i64>,
    pub(super) escalation: i64,
    pub(super) outcome: Outcome,
    pub(super) protected: Option<i64>,
    pub(super) lost: Option<i64>,
    pub(super) closed_at: i64,
    pub(super) closed_by: i64,
}

impl WarningRow {
    /// As intake stores a live warning: rules version 0 (the defaults), not history.
    fn columns(&self) -> NewWarning<'_> {
        let (w, ids) = (&self.w, &self.ids);
        NewWarning {
            source: &w.source,
            upstream_id: &w.upstream_id,
            event_at: w.event_at,
            received_at: self.received,
            name: ids.name.as_deref(),
            id_enc: ids.id_enc.clone(),
            id_hash: ids.id_hash.as_deref(),
            id_head: ids.id_head.as_deref(),
            id_tail: ids.id_tail.as_deref(),
            phone_enc: ids.phone_enc.clone(),
            phone_hash: ids.phone_hash.as_deref(),
            phone_masked: ids.phone_masked.clone(),
            kind: w.kind,
            contacts_count: w.contacts_count,
            longest_call_s: w.longest_call_s,
            app_installed: w.app_installed,
            app_name: w.app_name.as_deref(),
            amount_fen: w.amount_fen,
            flagged_account: w.flagged_account.as_deref(),
            grade: self.grade,
            reasons: self.reasons.clone(),
            rules_version: 0,
            match_kind: self.match_kind,
            case_id: self.case_id,
            history: false,
        }
    }
}

/// (case, at, account, kind, result, note, amount)
pub(super) type Line = (i64, i64, Option<i64>, &'static str, Option<&'static str>, &'static str, Option<i64>);

pub(super) async fn insert(
    tx: &mut Tx,
    backend: Backend,
    cases: &[CaseRow],
    warnings: &[WarningRow],
    lines: &[Line],
) -> anyhow::Result<()> {
    let cols = [
        "id",
        "resident_id",
        "subject_hash",
        "opened_at",
        "last_warning_at",
        "warnings",
        "grade",
        "grade_rank",
        "reasons",
        "kind",
        "match_state",
        "grid_id",
        "post_id",
        "station_id",
        "node_id",
        "officer_id",
        "contact_due_at",
        "visit_due_at",
        "first_contact_at",
        "visited_at",
        "escalation",
        "outcome",
        "amount_protected_fen",
        "amount_lost_fen",
        "closed_at",
        "closed_by",
    ];
    let fixed = [("state", "'closed'".to_string()), ("history", "0".to_string())];
    Insert::new(backend, "fraud_cases", &cols, &fixed)
        .run(tx, cases, |q, c| {
            q.bind(c.id)
                .bind(c.resident)
                .bind(c.subject_hash.as_deref())
                .bind(c.opened)
                .bind(c.last)
                .bind(c.warnings)
                .bind(c.grade.code())
                .bind(c.grade.rank())
                .bind(c.reasons.as_str())
                .bind(c.kind.code())
                .bind(c.match_kind.code())
                .bind(c.route.grid_id)
                .bind(c.route.post_id)
                .bind(c.route.station_id)
                .bind(c.route.node_id)
                .bind(c.route.officer_id)
                .bind(c.contact_due)
                .bind(c.visit_due)
                .bind(c.first_contact)
                .bind(c.visited)
                .bind(c.escalation)
                .bind(c.outcome.code())
                .bind(c.protected)
                .bind(c.lost)
                .bind(c.closed_at)
                .bind(c.closed_by)
        })
        .await?;
    // The columns intake writes, from the same struct: the demo cannot drift from the product.
    let mut cols = vec!["id"];
    cols.extend(WARNING_COLUMNS);
    Insert::new(backend, "fraud_warnings", &cols, &[])
        .run(tx, warnings, |q, r| r.columns().values().into_iter().fold(q.bind(r.id), |q, v| v.bind(q)))
        .await?;
    let cols = ["case_id", "at", "account_id", "kind", "result", "note", "amount_fen"];
    Insert::new(backend, "fraud_case_events", &cols, &[])
        .run(tx, lines, |q, l| q.bind(l.0).bind(l.1).bind(l.2).bind(l.3).bind(l.4).bind(l.5).bind(l.6))
        .await?;
    Ok(())
}
