//! Warnings loaded as history from a file, in bulk: a city's nine months (1.7 million warnings)
//! load in about a minute and a half (bench/warning_batch.sh), not hours. The rules are those of
//! one warning at a time ([`super::intake`]): matched by ID number, else by a phone exactly one
//! resident holds; routed through the resident's grid; graded by the rules in force; merged into
//! the newest history case about the same person opened within the window; stored once per
//! (source, upstream_id). Only the way the database is asked changes: per transaction, a few
//! hundred statements of hundreds of keys each instead of some twenty per warning.
//! `tests/api/antifraud_bulk.rs` loads one file both ways and compares every stored row.
//!
//! History schedules no deadline, sends no event and writes no timeline, so a transaction's
//! writes are its new cases, the cases it joined, its warnings and candidates, and one audit
//! entry per 1,000 rows.

use std::collections::HashMap;
use std::ops::Range;

use sqlx::Row as _;

use super::intake::{self, Prepared, Settings, Touched};
use super::matching::{self, Subject};
use super::model::{Grade, Reason, Warning};
use super::routes::Routes;
use super::rules;
use super::service::{Chunk, ItemResult, MAX_BATCH};
use super::store::{self, StoredWarning, WARNING_COLUMNS};
use crate::app::AppState;
use crate::audit::{self, Entry};
use crate::db::bulk::{fetch_in, marks, Value};
use crate::db::{Backend, Tx};
use crate::web::error::AppError;

/// A resident a chunk names, as read: routed through [`Routes`] in memory.
struct Row {
    id: i64,
    id_hash: Option<Vec<u8>>,
    birth_date: Option<String>,
    grid_id: Option<i64>,
    node_id: i64,
}

/// Rows per transaction: the commit (an fsync, and the WAL pages of every index leaf the rows
/// touched) is paid once for this many warnings. At city scale that holds the SQLite writer for
/// 1–1.6 s at a time (measured); 10,000 made the 1.7-million-row load 25 % slower.
pub const TRANSACTION_ROWS: usize = 25 * MAX_BATCH;

/// Loads `items` (parsed warnings, in file order) as history, [`TRANSACTION_ROWS`] per
/// transaction. Every [`MAX_BATCH`] items get their own audit entry, made by `entry` from what
/// they stored and their index range in `items`, so an entry names at most a batch's records.
/// While one transaction is written, the next one's items are matched and graded: the SQLite
/// writer works on its own thread, so the two overlap on two cores.
pub async fn ingest_history(
    state: &AppState,
    settings: &Settings,
    now: i64,
    items: Vec<Warning>,
    entry: impl Fn(&Touched, &Chunk, Range<usize>) -> Entry,
) -> Result<Chunk, AppError> {
    let routes = Routes::load(&mut *state.db.reader().acquire().await?).await?;
    let mut all = Chunk::default();
    let mut rest = items.into_iter().peekable();
    let mut offset = 0;
    let mut ready: Option<Vec<Prepared>> = None;
    loop {
        let next: Vec<Warning> = rest.by_ref().take(TRANSACTION_ROWS).collect();
        let (prepared, stored) = tokio::join!(
            async {
                match next.is_empty() {
                    true => Ok(None),
                    false => prepare(state, &routes, settings, next).await.map(Some),
                }
            },
            async {
                match ready.take() {
                    Some(p) => store(state, settings, now, &p, offset, &entry).await.map(|c| Some((c, p.len()))),
                    None => Ok(None),
                }
            }
        );
        if let Some((chunk, n)) = stored? {
            all.absorb(chunk);
            offset += n;
        }
        match prepared? {
            Some(p) => ready = Some(p),
            None => return Ok(all),
        }
    }
}

/// One transaction: `prepared` are the items from `offset` on.
async fn store(
    state: &AppState,
    settings: &Settings,
    now: i64,
    prepared: &[Prepared],
    offset: usize,
    entry: &impl Fn(&Touched, &Chunk, Range<usize>) -> Entry,
) -> Result<Chunk, AppError> {
    let mut subs: Vec<(Touched, Chunk)> = (0..prepared.len().div_ceil(MAX_BATCH)).map(|_| Default::default()).collect();
    let mut tx = state.db.begin().await?;
    write(&mut tx, state, settings, prepared, offset, &mut subs).await?;

    let mut all = Chunk::default();
    for (n, (mut touched, sub)) in subs.into_iter().enumerate() {
        if sub.created > 0 {
            touched.cases.sort_unstable();
            touched.cases.dedup();
            let range = offset + n * MAX_BATCH..offset + ((n + 1) * MAX_BATCH).min(prepared.len());
            let entry = entry(&touched, &sub, range);
            audit::append(&mut tx, &state.db, &state.key, now, &entry)
                .await
                .map_err(|e| audit::audit_failed(state, e))?;
        }
        all.absorb(sub);
    }
    if all.created > 0 {
        tx.commit().await?;
    } else {
        tx.rollback().await?;
    }
    Ok(all)
}

/// Matching, routing and grading of every item, on the read pool.
async fn prepare(
    state: &AppState,
    routes: &Routes,
    settings: &Settings,
    items: Vec<Warning>,
) -> Result<Vec<Prepared>, sqlx::Error> {
    let hashes: Vec<intake::Hashes> = items.iter().map(|w| matching::hashes(&state.key, w)).collect();
    let resident = |r: &sqlx::any::AnyRow, at: usize| -> Result<Row, sqlx::Error> {
        Ok(Row {
            id: r.try_get(at)?,
            id_hash: r.try_get(at + 1)?,
            birth_date: r.try_get(at + 2)?,
            grid_id: r.try_get(at + 3)?,
            node_id: r.try_get(at + 4)?,
        })
    };
    let mut id_hashes: Vec<Vec<u8>> = hashes.iter().filter_map(|h| h.0.clone()).collect();
    id_hashes.sort_unstable();
    id_hashes.dedup();
    let by_id: HashMap<Vec<u8>, Row> = fetch_in(
        &state.db,
        &id_hashes,
        |m| format!("SELECT id, id_hash, birth_date, grid_id, node_id FROM residents WHERE id_hash IN ({m})"),
        |r| Ok((r.try_get::<Vec<u8>, _>(1)?, resident(&r, 0)?)),
    )
    .await?
    .into_iter()
    .collect();
    let mut phone_hashes: Vec<Vec<u8>> = hashes
        .iter()
        .filter(|(id, _)| id.as_ref().is_none_or(|h| !by_id.contains_key(h)))
        .filter_map(|h| h.1.clone())
        .collect();
    phone_hashes.sort_unstable();
    phone_hashes.dedup();
    let mut holders: HashMap<Vec<u8>, Vec<Row>> = HashMap::new();
    let rows = fetch_in(
        &state.db,
        &phone_hashes,
        |m| {
            format!(
                "SELECT p.phone_hash, r.id, r.id_hash, r.birth_date, r.grid_id, r.node_id FROM resident_phones p \
                 JOIN residents r ON r.id = p.resident_id WHERE p.phone_hash IN ({m}) ORDER BY r.id"
            )
        },
        |r| Ok((r.try_get::<Vec<u8>, _>(0)?, resident(&r, 1)?)),
    )
    .await?;
    for (phone, r) in rows {
        let list = holders.entry(phone).or_default();
        // As `matching::find`: the first twenty holders by id.
        if list.len() < 20 {
            list.push(r);
        }
    }
    let mut people: Vec<i64> = by_id.values().map(|r| r.id).chain(holders.values().flatten().map(|r| r.id)).collect();
    people.sort_unstable();
    people.dedup();
    let alone: std::collections::HashSet<i64> = fetch_in(
        &state.db,
        &people,
        |m| format!("SELECT resident_id FROM resident_tags WHERE tag = 'elderly_alone' AND resident_id IN ({m})"),
        |r| Ok((r.try_get::<i64, _>(0)?, ())),
    )
    .await?
    .into_iter()
    .map(|(id, ())| id)
    .collect();
    let facts = |r: &Row| matching::Resident {
        id: r.id,
        id_hash: r.id_hash.clone(),
        birth_date: r.birth_date.clone(),
        living_alone: alone.contains(&r.id),
        route: routes.resident(r.grid_id, r.node_id),
    };
    let mut out = Vec::with_capacity(items.len());
    for (w, (id_hash, phone_hash)) in items.into_iter().zip(hashes) {
        let by_id = id_hash.as_ref().and_then(|h| by_id.get(h)).map(facts);
        let holders: Vec<matching::Resident> = match (&by_id, &phone_hash) {
            (None, Some(p)) => holders.get(p).map(|list| list.iter().map(facts).collect()).unwrap_or_default(),
            _ => vec![],
        };
        let (subject, route) =
            matching::decide(&w, id_hash.as_deref(), phone_hash.as_deref(), by_id.as_ref(), &holders);
        let route = route.unwrap_or_else(|| routes.unmatched(w.id_number.as_ref().map(|id| id.region_code())));
        let grade = rules::grade(&w, subject.person, &settings.rules);
        out.push(Prepared::new(state, w, (id_hash, phone_hash), subject, route, grade));
    }
    Ok(out)
}

/// Who a case is about: the resident, else (for the unmatched) the keyed hash.
#[derive(Clone, PartialEq, Eq, Hash)]
enum CaseKey {
    Resident(i64),
    Subject(Vec<u8>),
}

fn case_key(s: &Subject) -> Option<CaseKey> {
    match (s.resident_id, &s.subject_hash) {
        (Some(r), _) => Some(CaseKey::Resident(r)),
        (None, Some(h)) => Some(CaseKey::Subject(h.clone())),
        (None, None) => None,
    }
}

/// A history case as this chunk sees it: read from the database, or opened by the chunk.
struct Case {
    id: i64,
    opened_at: i64,
    last_warning_at: i64,
    grade: Grade,
    reasons: Vec<Reason>,
    /// Warnings this chunk added (for a case read from the database), else all of them.
    added: i64,
    fresh: Option<usize>,
}

/// Applies the items in `tx`, counting each in its batch of `subs`.
async fn write(
    tx: &mut Tx,
    state: &AppState,
    settings: &Settings,
    prepared: &[Prepared],
    offset: usize,
    subs: &mut [(Touched, Chunk)],
) -> Result<(), AppError> {
    let db = &state.db;
    let window = settings.rules.merge_window_hours * 3_600_000;
    let mut stored = existing(tx, db.backend, prepared).await?;

    let mut cases = history_cases(tx, db.backend, prepared, window).await?;

    let case_ids = db.reserve_ids(tx, "fraud_cases", prepared.len()).await?.into_iter();
    let mut case_ids = case_ids.peekable();
    let warning_ids = db.reserve_ids(tx, "fraud_warnings", prepared.len()).await?;
    let mut warning_ids = warning_ids.into_iter();
    // Cases about nobody in particular (a warning with neither ID number nor phone) never merge.
    let mut keyless: Vec<Case> = Vec::new();
    let mut warnings: Vec<Vec<Value>> = Vec::with_capacity(prepared.len());
    let mut candidates: Vec<Vec<Value>> = Vec::new();
    for (at, p) in prepared.iter().enumerate() {
        let (touched, chunk) = &mut subs[at / MAX_BATCH];
        let index = offset + at;
        let w = &p.w;
        let key = (w.source.clone(), w.upstream_id.clone());
        if let Some(s) = stored.get(&key) {
            let result = match intake::first_difference(s, p) {
                None => {
                    chunk.duplicates += 1;
                    ItemResult {
                        index,
                        status: "duplicate",
                        id: Some(s.id),
                        case_id: Some(s.case_id),
                        grade: Grade::parse(&s.grade),
                        field: None,
                        reason: None,
                    }
                }
                Some(field) => {
                    chunk.conflicts += 1;
                    let reason = format!(
                        "warning {}/{} is already stored as warning {} with a different {field}; the first one stands",
                        w.source, w.upstream_id, s.id
                    );
                    let (field, reason) = (Some(field.to_string()), Some(reason));
                    ItemResult { index, status: "conflict", id: Some(s.id), case_id: None, grade: None, field, reason }
                }
            };
            chunk.results.push(result);
            continue;
        }
        let received = w.event_at;
        let key_cases = case_key(&p.subject).map(|k| cases.entry(k).or_default());
        let existing_case = key_cases.as_ref().and_then(|list| {
            // The newest case opened within the window, as `store::open_case_in`.
            list.iter().rposition(|c| c.opened_at >= received - window)
        });
        let case_id = match (key_cases, existing_case) {
            (Some(list), Some(at)) => {
                let c = &mut list[at];
                c.grade = c.grade.max(p.grade);
                c.reasons = intake::merge_reasons(std::mem::take(&mut c.reasons), &p.reasons);
                c.last_warning_at = received;
                c.added += 1;
                c.id
            }
            (list, _) => {
                let id = case_ids.next().ok_or_else(|| anyhow::anyhow!("BUG: fewer case ids than warnings"))?;
                let case = Case {
                    id,
                    opened_at: received,
                    last_warning_at: received,
                    grade: p.grade,
                    reasons: p.reasons.clone(),
                    added: 1,
                    fresh: Some(at),
                };
                match list {
                    Some(list) => list.push(case),
                    None => keyless.push(case),
                }
                candidates.extend(p.subject.candidates.iter().map(|r| vec![Value::from(id), Value::from(*r)]));
                id
            }
        };
        let warning_id = warning_ids.next().ok_or_else(|| anyhow::anyhow!("BUG: fewer warning ids than warnings"))?;
        let columns = intake::columns(p, received, settings.rules_version, case_id, true);
        let mut row = vec![Value::from(warning_id)];
        row.extend(columns.values());
        warnings.push(row);
        stored.insert(key, stored_form(warning_id, case_id, p));
        chunk.created += 1;
        touched.warnings.push(warning_id);
        touched.cases.push(case_id);
        chunk.results.push(ItemResult {
            index,
            status: "created",
            id: Some(warning_id),
            case_id: Some(case_id),
            grade: Some(p.grade),
            field: None,
            reason: None,
        });
    }
    if warnings.is_empty() {
        return Ok(());
    }
    let mut new_cases: Vec<Vec<Value>> = Vec::new();
    let mut grown: Vec<&Case> = Vec::new();
    for list in cases.values().chain([&keyless]) {
        for c in list {
            match c.fresh {
                Some(i) => new_cases.push(case_row(&prepared[i], c)),
                None if c.added > 0 => grown.push(c),
                None => {}
            }
        }
    }
    // Parents first: warnings and candidates name their case.
    db.insert_rows(tx, "fraud_cases", &CASE_COLUMNS, new_cases).await?;

    let grown: Vec<Vec<Value>> = grown
        .into_iter()
        .map(|c| {
            let reasons = rules::reasons_code(&c.reasons);
            vec![
                c.id.into(),
                c.added.into(),
                c.last_warning_at.into(),
                c.grade.code().into(),
                c.grade.rank().into(),
                reasons.into(),
            ]
        })
        .collect();
    store::grow_cases(db, tx, grown).await?;

    let mut columns = vec!["id"];
    columns.extend(WARNING_COLUMNS);
    db.insert_rows(tx, "fraud_warnings", &columns, warnings).await?;

    db.insert_rows(tx, "fraud_candidates", &["case_id", "resident_id"], candidates).await?;
    Ok(())
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

/// A case opened by the warning `p`, with what later warnings of the chunk added to it.
fn case_row(p: &Prepared, c: &Case) -> Vec<Value> {
    vec![
        c.id.into(),
        p.subject.resident_id.into(),
        p.subject.subject_hash.clone().into(),
        c.opened_at.into(),
        c.last_warning_at.into(),
        c.added.into(),
        c.grade.code().into(),
        c.grade.rank().into(),
        rules::reasons_code(&c.reasons).into(),
        p.w.kind.code().into(),
        "history".into(),
        p.subject.kind.code().into(),
        p.route.grid_id.into(),
        p.route.post_id.into(),
        p.route.station_id.into(),
        p.route.node_id.into(),
        p.route.officer_id.into(),
        Value::Int(None),
        Value::Int(None),
        1i64.into(),
    ]
}

/// A warning stored by this chunk, as the idempotency check of a later row sees it.
fn stored_form(id: i64, case_id: i64, p: &Prepared) -> StoredWarning {
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

/// The stored warnings of the chunk's (source, upstream_id) keys.
async fn existing(
    tx: &mut Tx,
    backend: Backend,
    prepared: &[Prepared],
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

/// The history cases about the chunk's people that a warning of the chunk could join: opened
/// no earlier than the window before its earliest warning. Each list is in id order.
async fn history_cases(
    tx: &mut Tx,
    backend: Backend,
    prepared: &[Prepared],
    window: i64,
) -> Result<HashMap<CaseKey, Vec<Case>>, sqlx::Error> {
    let Some(since) = prepared.iter().map(|p| p.w.event_at).min().map(|t| t - window) else {
        return Ok(HashMap::new());
    };
    let mut residents: Vec<i64> = Vec::new();
    let mut subjects: Vec<Vec<u8>> = Vec::new();
    for p in prepared {
        match case_key(&p.subject) {
            Some(CaseKey::Resident(r)) => residents.push(r),
            Some(CaseKey::Subject(h)) => subjects.push(h),
            None => {}
        }
    }
    residents.sort_unstable();
    residents.dedup();
    subjects.sort_unstable();
    subjects.dedup();
    let cols = "id, resident_id, subject_hash, opened_at, last_warning_at, grade_rank, reasons";
    let mut rows = Vec::new();
    for part in residents.chunks(500) {
        // Our own integer ids, written into the SQL: no text from outside.
        let list = part.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
        let sql = format!(
            "SELECT {cols} FROM fraud_cases WHERE resident_id IN ({list}) AND state = 'history' AND opened_at >= $1"
        );
        rows.extend(sqlx::query(&sql).bind(since).fetch_all(&mut **tx).await?);
    }
    for part in subjects.chunks(500) {
        let sql = format!(
            "SELECT {cols} FROM fraud_cases WHERE {} AND subject_hash IN ({}) AND state = 'history' \
             AND opened_at >= {}",
            store::UNMATCHED,
            marks(backend, 1, part.len()),
            marks(backend, part.len() + 1, 1),
        );
        let mut q = sqlx::query(&sql);
        for h in part {
            q = q.bind(h);
        }
        q = q.bind(since);
        rows.extend(q.fetch_all(&mut **tx).await?);
    }
    let mut out: HashMap<CaseKey, Vec<Case>> = HashMap::new();
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
            added: 0,
            fresh: None,
        });
    }
    for list in out.values_mut() {
        list.sort_by_key(|c| c.id);
    }
    Ok(out)
}
