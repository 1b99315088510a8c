//! Warnings loaded as history from a file, in bulk: a city's nine months (1.7 million warnings)
//! load in about a minute (bench/warning_batch.sh), not hours. The rules are those of
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

use std::collections::{HashMap, HashSet};
use std::ops::Range;

use sqlx::Row as _;

use super::intake::{self, Prepared, Settings, Touched};
use super::matching;
use super::model::{Grade, Warning};
use super::routes::Routes;
use super::rules;
use super::service::{Chunk, ItemResult, MAX_BATCH};
use super::store::WARNING_COLUMNS;
use super::together::{self, Case, CaseKey};
use crate::app::AppState;
use crate::audit::{self, Entry};
use crate::db::bulk::{fetch_in, DeferredIndexes, Value};
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
/// 1–1.6 s at a time (measured); 10,000 made the 1.7-million-row load 25 % slower. A large first
/// load is one transaction instead ([`Mode::Whole`]).
pub const TRANSACTION_ROWS: usize = 25 * MAX_BATCH;

/// From this many rows, a load that brings more warnings than the database holds is a large
/// first load ([`Mode::Whole`]).
pub const WHOLE_FROM: usize = 2 * MAX_BATCH;

/// How a load is written.
enum Mode {
    /// A transaction per [`TRANSACTION_ROWS`]: the SQLite writer is never held for long, and
    /// each transaction reads the cases its warnings could join.
    Chunked,
    /// A large first load on SQLite (a city's nine months, handed over when pingan is set up):
    /// one transaction, all or nothing, with the secondary indexes of the warnings and cases
    /// built once at the end ([`crate::db::Db::defer_indexes`]). Every case a row could join is
    /// held here: those stored before the load (read once at its start) and those it writes.
    /// Per transaction, a chunked load rewrote the index pages its cases touched all over
    /// `fraud_cases`, and the later in the load, the more of them.
    Whole { tx: Tx, cases: HashMap<CaseKey, Vec<Case>>, deferred: DeferredIndexes },
}

impl Mode {
    async fn start(state: &AppState, settings: &Settings, items: &[Warning]) -> Result<Mode, AppError> {
        let db = &state.db;
        if db.backend != Backend::Sqlite || items.len() < WHOLE_FROM {
            return Ok(Mode::Chunked);
        }
        let mut tx = db.begin().await?;
        let held: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM fraud_warnings").fetch_one(&mut *tx).await?;
        if items.len() as i64 <= held {
            tx.rollback().await?;
            return Ok(Mode::Chunked);
        }
        let since = items.iter().map(|w| w.event_at).min().unwrap_or(0) - settings.rules.merge_window_ms();
        let cases = together::cases_since(&mut tx, db.backend, since, "history").await?;
        let n = items.len();
        let loads = [("fraud_cases", n), ("fraud_warnings", n), ("fraud_candidates", n)];
        let deferred = db.defer_indexes(&mut tx, &loads).await?;
        Ok(Mode::Whole { tx, cases, deferred })
    }

    /// Rows matched and written at a time, while the next ones are matched: a transaction's
    /// when chunked; for a whole load an eighth of it in whole batches (at most
    /// [`TRANSACTION_ROWS`]), so that even a load of a few thousand rows overlaps the two.
    fn chunk_rows(&self, rows: usize) -> usize {
        match self {
            Mode::Chunked => TRANSACTION_ROWS,
            Mode::Whole { .. } => (rows / 8 / MAX_BATCH).clamp(1, TRANSACTION_ROWS / MAX_BATCH) * MAX_BATCH,
        }
    }

    async fn finish(self, state: &AppState, created: usize) -> Result<(), AppError> {
        if let Mode::Whole { mut tx, deferred, .. } = self {
            if created == 0 {
                // The dropped indexes come back with the rollback.
                tx.rollback().await?;
                return Ok(());
            }
            state.db.rebuild_indexes(&mut tx, deferred).await?;
            tx.commit().await?;
        }
        Ok(())
    }
}

/// Loads `items` (parsed warnings, in file order) as history: see [`Mode`] for the
/// transactions. Every [`MAX_BATCH`] items get their own audit entry, made by `entry` from what
/// they stored and their index range in `items`, so an entry names at most a batch's records.
/// While one chunk is written, the next one's items are matched and graded: the SQLite writer
/// works on its own thread, so the two overlap on two cores.
pub async fn ingest_history(
    state: &AppState,
    settings: &Settings,
    now: i64,
    items: Vec<Warning>,
    entry: impl Fn(&Touched, &Chunk, Range<usize>) -> Entry,
) -> Result<Chunk, AppError> {
    let routes = Routes::load(&mut *state.db.reader().acquire().await?).await?;
    let mut mode = Mode::start(state, settings, &items).await?;
    let per_chunk = mode.chunk_rows(items.len());
    let mut all = Chunk::default();
    let mut rest = items.into_iter().peekable();
    let mut offset = 0;
    let mut ready: Option<Vec<Prepared>> = None;
    loop {
        let next: Vec<Warning> = rest.by_ref().take(per_chunk).collect();
        let (prepared, stored) = tokio::join!(
            async {
                match next.is_empty() {
                    true => Ok(None),
                    false => prepare(state, &routes, settings, next).await.map(Some),
                }
            },
            async {
                match ready.take() {
                    Some(p) => {
                        let chunk = store(state, settings, now, &p, offset, &entry, &mut mode).await?;
                        Ok::<_, AppError>(Some((chunk, p.len())))
                    }
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
            None => break,
        }
    }
    mode.finish(state, all.created).await?;
    Ok(all)
}

/// One chunk: `prepared` are the items from `offset` on.
async fn store(
    state: &AppState,
    settings: &Settings,
    now: i64,
    prepared: &[Prepared],
    offset: usize,
    entry: &impl Fn(&Touched, &Chunk, Range<usize>) -> Entry,
    mode: &mut Mode,
) -> Result<Chunk, AppError> {
    let mut subs: Vec<(Touched, Chunk)> = (0..prepared.len().div_ceil(MAX_BATCH)).map(|_| Default::default()).collect();
    match mode {
        Mode::Chunked => {
            let mut tx = state.db.begin().await?;
            let since = prepared.iter().map(|p| p.w.event_at).min().unwrap_or(0) - settings.rules.merge_window_ms();
            let subjects = prepared.iter().map(|p| &p.subject);
            let mut cases = together::cases_about(&mut tx, state.db.backend, subjects, since, "history").await?;
            write(&mut tx, state, settings, prepared, offset, &mut subs, &mut cases).await?;
            let all = audit_entries(&mut tx, state, now, subs, prepared.len(), offset, entry).await?;
            if all.created > 0 {
                tx.commit().await?;
            } else {
                tx.rollback().await?;
            }
            Ok(all)
        }
        Mode::Whole { tx, cases, .. } => {
            let touched = write(tx, state, settings, prepared, offset, &mut subs, cases).await?;
            // What these rows wrote is stored now: a later row that joins a case grows it.
            for k in &touched {
                for c in cases.get_mut(k).into_iter().flatten() {
                    (c.fresh, c.added) = (None, 0);
                }
            }
            audit_entries(tx, state, now, subs, prepared.len(), offset, entry).await
        }
    }
}

/// An audit entry for each batch of the chunk that stored something; the chunk's counts.
async fn audit_entries(
    tx: &mut Tx,
    state: &AppState,
    now: i64,
    subs: Vec<(Touched, Chunk)>,
    len: usize,
    offset: usize,
    entry: &impl Fn(&Touched, &Chunk, Range<usize>) -> Entry,
) -> Result<Chunk, AppError> {
    let mut all = Chunk::default();
    for (n, (mut touched, sub)) in subs.into_iter().enumerate() {
        if sub.created > 0 {
            touched.cases.sort_unstable();
            touched.cases.dedup();
            let range = offset + n * MAX_BATCH..offset + ((n + 1) * MAX_BATCH).min(len);
            let entry = entry(&touched, &sub, range);
            audit::append(tx, &state.db, &state.key, now, &entry).await.map_err(|e| audit::audit_failed(state, e))?;
        }
        all.absorb(sub);
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

/// Applies the items in `tx`, counting each in its batch of `subs`; `cases` holds every case
/// (in id order, by whom it is about) that one of them could join, and gains the ones they open.
/// Returns the keys of the lists they touched.
async fn write(
    tx: &mut Tx,
    state: &AppState,
    settings: &Settings,
    prepared: &[Prepared],
    offset: usize,
    subs: &mut [(Touched, Chunk)],
    cases: &mut HashMap<CaseKey, Vec<Case>>,
) -> Result<HashSet<CaseKey>, AppError> {
    let db = &state.db;
    let window = settings.rules.merge_window_ms();
    let mut stored = together::existing(tx, db.backend, prepared).await?;

    let case_ids = db.reserve_ids(tx, "fraud_cases", prepared.len()).await?.into_iter();
    let mut case_ids = case_ids.peekable();
    let warning_ids = db.reserve_ids(tx, "fraud_warnings", prepared.len()).await?;
    let mut warning_ids = warning_ids.into_iter();
    // Cases about nobody in particular (a warning with neither ID number nor phone) never merge.
    let mut keyless: Vec<Case> = Vec::new();
    let mut warnings: Vec<Vec<Value>> = Vec::with_capacity(prepared.len());
    let mut candidates: Vec<Vec<Value>> = Vec::new();
    let mut touched_keys: HashSet<CaseKey> = HashSet::new();
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
        let case_key = together::case_key(&p.subject);
        if let Some(k) = &case_key {
            if !touched_keys.contains(k) {
                touched_keys.insert(k.clone());
            }
        }
        let key_cases = case_key.map(|k| cases.entry(k).or_default());
        let existing_case = key_cases.as_ref().and_then(|list| Case::joinable(list, received, window));
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
                let case = Case::opened(id, p, at, received, (None, None));
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
        stored.insert(key, together::stored_form(warning_id, case_id, p));
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
        return Ok(touched_keys);
    }
    // Only the lists these rows touched: a large first load holds every case it wrote.
    let all = touched_keys.iter().filter_map(|k| cases.get(k)).chain([&keyless]).flatten();
    let rows = together::CaseRows::of(all, |i| &prepared[i], "history");
    together::write_cases(tx, db, rows).await?;
    let mut columns = vec!["id"];
    columns.extend(WARNING_COLUMNS);
    db.insert_rows(tx, "fraud_warnings", &columns, warnings).await?;

    db.insert_rows(tx, "fraud_candidates", &["case_id", "resident_id"], candidates).await?;
    Ok(touched_keys)
}
