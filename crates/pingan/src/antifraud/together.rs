//! Many warnings written together, as history from a file ([`super::bulk`]) or live requests
//! that arrived at once ([`super::live`]): what the database already holds about them, read with
//! a few statements for all of them, and the rows of the cases they open. The rules are those of
//! one warning at a time ([`super::intake`]); only the way the database is asked changes.

use std::collections::HashMap;

use sqlx::Row as _;

use super::intake::Prepared;
use super::matching::{Route, Subject};
use super::model::{Grade, Kind, MatchKind, Reason};
use super::rules;
use super::store::{self, StoredWarning};
use crate::db::bulk::{marks, Value};
use crate::db::{Backend, Db, Tx};

/// Who a case is about: the resident, else (for the unmatched) the keyed hash.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CaseKey {
    Resident(i64),
    Subject(Vec<u8>),
}

pub fn case_key(s: &Subject) -> Option<CaseKey> {
    match (s.resident_id, &s.subject_hash) {
        (Some(r), _) => Some(CaseKey::Resident(r)),
        (None, Some(h)) => Some(CaseKey::Subject(h.clone())),
        (None, None) => None,
    }
}

/// Cases by whom they are about, each list in id order. Hashed with foldhash: a whole history
/// load holds a list for each of a million people, and std's SipHash was a tenth of its time.
pub type CaseLists = foldhash::HashMap<CaseKey, Vec<Case>>;

/// A case as the warnings written together see it: read from the database, or opened by one of
/// them.
pub struct Case {
    pub id: i64,
    pub opened_at: i64,
    pub last_warning_at: i64,
    pub grade: Grade,
    pub reasons: Vec<Reason>,
    pub node_id: i64,
    pub contact_due_at: Option<i64>,
    pub visit_due_at: Option<i64>,
    pub first_contact_at: Option<i64>,
    pub visited_at: Option<i64>,
    /// Warnings these added (for a case read from the database), else all of them.
    pub added: i64,
    /// For a case opened by these warnings and not yet written: what its opener set.
    pub opener: Option<Opener>,
}

/// The columns of a case's row that the warning opening it sets and no later one changes.
pub struct Opener {
    resident_id: Option<i64>,
    subject_hash: Option<Vec<u8>>,
    kind: Kind,
    match_kind: MatchKind,
    route: Route,
}

impl Case {
    /// The case the warning `p` opens when received at `at`, with its deadlines (none for
    /// history).
    pub fn opened(id: i64, p: &Prepared, at: i64, dues: (Option<i64>, Option<i64>)) -> Case {
        Case {
            id,
            opened_at: at,
            last_warning_at: at,
            grade: p.grade,
            reasons: p.reasons.clone(),
            node_id: p.route.node_id,
            contact_due_at: dues.0,
            visit_due_at: dues.1,
            first_contact_at: None,
            visited_at: None,
            added: 1,
            opener: Some(Opener {
                resident_id: p.subject.resident_id,
                subject_hash: p.subject.subject_hash.clone(),
                kind: p.w.kind,
                match_kind: p.subject.kind,
                route: p.route,
            }),
        }
    }

    /// The newest of `list` (in id order) that a warning received at `received` joins, as
    /// [`store::open_case_in`] picks it.
    pub fn joinable(list: &[Case], received: i64, window: i64) -> Option<usize> {
        list.iter().rposition(|c| c.opened_at >= received - window)
    }

    /// The row of [`store::grow_cases`] for a case read from the database that these warnings
    /// joined.
    fn grown(&self) -> Vec<Value> {
        vec![
            self.id.into(),
            self.added.into(),
            self.last_warning_at.into(),
            self.grade.code().into(),
            self.grade.rank().into(),
            rules::reasons_code(&self.reasons).into(),
            self.contact_due_at.into(),
            self.visit_due_at.into(),
        ]
    }
}

const CASE_COLUMNS: [&str; 20] = [
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
    "state",
    "match_state",
    "grid_id",
    "post_id",
    "station_id",
    "node_id",
    "officer_id",
    "contact_due_at",
    "visit_due_at",
    "history",
];

/// A case opened by `o` in `state` (`open` or `history`), with what later warnings written
/// with it added.
fn case_row(o: &Opener, c: &Case, state: &str) -> Vec<Value> {
    vec![
        c.id.into(),
        o.resident_id.into(),
        o.subject_hash.clone().into(),
        c.opened_at.into(),
        c.last_warning_at.into(),
        c.added.into(),
        c.grade.code().into(),
        c.grade.rank().into(),
        rules::reasons_code(&c.reasons).into(),
        o.kind.code().into(),
        state.into(),
        o.match_kind.code().into(),
        o.route.grid_id.into(),
        o.route.post_id.into(),
        o.route.station_id.into(),
        o.route.node_id.into(),
        o.route.officer_id.into(),
        c.contact_due_at.into(),
        c.visit_due_at.into(),
        i64::from(state == "history").into(),
    ]
}

/// The rows of the cases these warnings opened (in `state`, from the warning that opened each)
/// and of the ones they joined, for [`write_cases`].
pub struct CaseRows {
    opened: Vec<Vec<Value>>,
    grown: Vec<Vec<Value>>,
}

impl CaseRows {
    pub fn of<'c>(cases: impl Iterator<Item = &'c Case>, state: &str) -> CaseRows {
        let (mut opened, mut grown) = (Vec::new(), Vec::new());
        for c in cases {
            match &c.opener {
                Some(o) => opened.push((c.id, case_row(o, c, state))),
                None if c.added > 0 => grown.push(c.grown()),
                None => {}
            }
        }
        // In id order, as one after another would have written them.
        opened.sort_by_key(|(id, _)| *id);
        CaseRows { opened: opened.into_iter().map(|(_, row)| row).collect(), grown }
    }
}

/// Writes the cases; before the warnings, which name their case.
pub async fn write_cases(tx: &mut Tx, db: &Db, rows: CaseRows) -> Result<(), sqlx::Error> {
    db.insert_rows(tx, "fraud_cases", &CASE_COLUMNS, rows.opened).await?;
    store::grow_cases(db, tx, rows.grown).await
}

/// A warning stored by these, as the idempotency check of a later one sees it.
pub fn stored_form(id: i64, case_id: i64, p: &Prepared) -> StoredWarning {
    let w = &p.w;
    StoredWarning {
        id,
        case_id,
        grade: p.grade.code().to_string(),
        event_at: w.event_at,
        name: w.name.clone(),
        id_hash: p.id_hash.clone(),
        phone_hash: p.phone_hash.clone(),
        kind: w.kind.code().to_string(),
        contacts_count: w.contacts_count,
        longest_call_s: w.longest_call_s,
        app_installed: w.app_installed.map(i64::from),
        app_name: w.app_name.clone(),
        amount_fen: w.amount_fen,
        flagged_account: w.flagged_account.clone(),
    }
}

/// The stored warnings of these warnings' (source, upstream_id) keys.
pub async fn existing<'p>(
    tx: &mut Tx,
    backend: Backend,
    prepared: impl IntoIterator<Item = &'p Prepared>,
) -> Result<HashMap<(String, String), StoredWarning>, sqlx::Error> {
    let mut by_source: HashMap<&str, Vec<String>> = HashMap::new();
    for p in prepared {
        by_source.entry(&p.w.source).or_default().push(p.w.upstream_id.clone());
    }
    let mut out = HashMap::new();
    for (source, ids) in by_source {
        for part in ids.chunks(500) {
            let sql = format!(
                "SELECT {}, upstream_id FROM fraud_warnings WHERE upstream_id IN ({}) AND source = {}",
                store::STORED_COLUMNS,
                marks(backend, 1, part.len()),
                marks(backend, part.len() + 1, 1),
            );
            let mut q = sqlx::query(&sql);
            for id in part {
                q = q.bind(id);
            }
            q = q.bind(source);
            for row in q.fetch_all(&mut **tx).await? {
                let upstream: String = row.try_get("upstream_id")?;
                let s: StoredWarning = sqlx::FromRow::from_row(&row)?;
                out.insert((source.to_string(), upstream), s);
            }
        }
    }
    Ok(out)
}

/// The cases in `state` about these subjects opened at `since` or later: the ones a warning of
/// theirs could join. Each list is in id order.
pub async fn cases_about<'s>(
    tx: &mut Tx,
    backend: Backend,
    subjects: impl IntoIterator<Item = &'s Subject>,
    since: i64,
    state: &str,
) -> Result<CaseLists, sqlx::Error> {
    let mut residents: Vec<i64> = Vec::new();
    let mut hashes: Vec<Vec<u8>> = Vec::new();
    for s in subjects {
        match case_key(s) {
            Some(CaseKey::Resident(r)) => residents.push(r),
            Some(CaseKey::Subject(h)) => hashes.push(h),
            None => {}
        }
    }
    residents.sort_unstable();
    residents.dedup();
    hashes.sort_unstable();
    hashes.dedup();
    let mut rows = Vec::new();
    for part in residents.chunks(500) {
        // Our own integer ids, written into the SQL: no text from outside.
        let list = part.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
        let sql = format!(
            "SELECT {CASE_READ} FROM fraud_cases WHERE resident_id IN ({list}) AND state = {} AND opened_at >= {}",
            marks(backend, 1, 1),
            marks(backend, 2, 1),
        );
        rows.extend(sqlx::query(&sql).bind(state).bind(since).fetch_all(&mut **tx).await?);
    }
    for part in hashes.chunks(500) {
        let sql = format!(
            "SELECT {CASE_READ} FROM fraud_cases WHERE {} AND subject_hash IN ({}) AND state = {} AND opened_at >= {}",
            store::UNMATCHED,
            marks(backend, 1, part.len()),
            marks(backend, part.len() + 1, 1),
            marks(backend, part.len() + 2, 1),
        );
        let mut q = sqlx::query(&sql);
        for h in part {
            q = q.bind(h);
        }
        rows.extend(q.bind(state).bind(since).fetch_all(&mut **tx).await?);
    }
    by_key(rows)
}

/// Every case in `state` opened at `since` or later, whoever it is about (only keyed ones: the
/// others never merge), as [`cases_about`] lists them.
pub async fn cases_since(tx: &mut Tx, backend: Backend, since: i64, state: &str) -> Result<CaseLists, sqlx::Error> {
    let sql = format!(
        "SELECT {CASE_READ} FROM fraud_cases WHERE opened_at >= {} AND state = {} \
         AND (resident_id IS NOT NULL OR subject_hash IS NOT NULL)",
        marks(backend, 1, 1),
        marks(backend, 2, 1),
    );
    by_key(sqlx::query(&sql).bind(since).bind(state).fetch_all(&mut **tx).await?)
}

/// The columns [`by_key`] reads.
const CASE_READ: &str = "id, resident_id, subject_hash, opened_at, last_warning_at, grade_rank, reasons, node_id, \
                         contact_due_at, visit_due_at, first_contact_at, visited_at";

/// Cases as read, by whom they are about, each list in id order.
fn by_key(rows: Vec<sqlx::any::AnyRow>) -> Result<CaseLists, sqlx::Error> {
    let mut out = CaseLists::default();
    for row in rows {
        let key = match row.try_get::<Option<i64>, _>("resident_id")? {
            Some(r) => CaseKey::Resident(r),
            None => CaseKey::Subject(row.try_get("subject_hash")?),
        };
        let reasons: String = row.try_get("reasons")?;
        out.entry(key).or_default().push(Case {
            id: row.try_get("id")?,
            opened_at: row.try_get("opened_at")?,
            last_warning_at: row.try_get("last_warning_at")?,
            grade: Grade::from_rank(row.try_get("grade_rank")?),
            reasons: rules::parse_reasons(&reasons),
            node_id: row.try_get("node_id")?,
            contact_due_at: row.try_get("contact_due_at")?,
            visit_due_at: row.try_get("visit_due_at")?,
            first_contact_at: row.try_get("first_contact_at")?,
            visited_at: row.try_get("visited_at")?,
            added: 0,
            opener: None,
        });
    }
    for list in out.values_mut() {
        list.sort_by_key(|c| c.id);
    }
    Ok(out)
}
