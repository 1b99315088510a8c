//! Warnings loaded as history from a file, in bulk: a city's nine months (1.7 million warnings)
//! load in well under a minute (bench/warning_batch.sh), not hours. The rules are those of
//! one warning at a time ([`super::intake`]): matched by ID number, else by a phone exactly one
//! resident holds; routed through the resident's grid; graded by the rules in force; merged into
//! the newest history case about the same person opened within the window; stored once per
//! (source, upstream_id). Only the way the database is asked changes: what a chunk of rows does
//! is decided in memory ([`assign`]) from a few statements of hundreds of keys each (or, for a
//! file that names a large share of the residents, from all of them read once: [`Directory`]),
//! and written with a statement per table, instead of some twenty statements per warning.
//! `tests/api/antifraud_bulk.rs` loads files both ways and compares every stored row.
//!
//! History schedules no deadline, sends no event and writes no timeline, so a transaction's
//! writes are its new cases, the cases it joined, its warnings and candidates, and one audit
//! entry per 1,000 rows.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::ops::Range;

use foldhash::{HashMap as FastMap, HashMapExt as _, HashSet as FastSet};
use sqlx::Row as _;

use super::bulk_whole;
use super::directory::{Directory, Found, Row, MAX_HOLDERS};
use super::intake::{self, Prepared, Settings, Touched};
use super::matching;
use super::model::{Grade, Warning};
use super::routes::Routes;
use super::rules;
use super::service::{Chunk, ItemResult, MAX_BATCH};
use super::store::{StoredWarning, WARNING_COLUMNS};
use super::together::{self, Case, CaseKey, CaseLists};
use crate::app::AppState;
use crate::audit::{self, Entry};
use crate::db::bulk::{fetch_in, Value};
use crate::db::{Db, Tx};
use crate::web::error::AppError;

/// Rows per transaction: the commit (an fsync, and the WAL pages of every index leaf the rows
/// touched) is paid once for this many warnings. At city scale that holds the SQLite writer for
/// 1–1.6 s at a time (measured); 10,000 made the 1.7-million-row load 25 % slower. A load larger
/// than what the database holds is one transaction instead ([`super::bulk_whole`]).
pub const TRANSACTION_ROWS: usize = 25 * MAX_BATCH;

/// Loads `items` (parsed warnings, in file order) as history, its residents found through
/// `lookup`: a transaction per [`TRANSACTION_ROWS`], or a large load as one
/// ([`super::bulk_whole`]). Every
/// [`MAX_BATCH`] items get their own audit entry, made by `entry` from what they stored and their
/// index range in `items`, so an entry names at most a batch's records. While one chunk is
/// written, the next one's items are matched and graded: the SQLite writer works on its own
/// thread, so the two overlap on two cores.
pub async fn ingest_history(
    state: &AppState,
    settings: &Settings,
    now: i64,
    items: Vec<Warning>,
    lookup: Prefetch,
    entry: impl Fn(&Touched, &Chunk, Range<usize>) -> Entry,
) -> Result<Chunk, AppError> {
    let routes = Routes::load(&mut *state.db.reader().acquire().await?).await?;
    let started = std::time::Instant::now();
    let lookup = lookup.get().await?;
    let directory = matches!(lookup, Lookup::Directory(_));
    tracing::info!(directory, waited_ms = started.elapsed().as_millis() as u64, "residents for the history load read");
    if let Some(whole) = bulk_whole::start(state, settings, &items).await? {
        return whole.ingest(state, (&routes, &lookup), settings, now, items, &entry).await;
    }
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
                    false => prepare(state, &routes, &lookup, settings, next).await.map(Some),
                }
            },
            async {
                match ready.take() {
                    Some(p) => {
                        let chunk = store(state, settings, now, &p, offset, &entry).await?;
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
    Ok(all)
}

/// One chunk in its own transaction: `prepared` are the items from `offset` on.
async fn store(
    state: &AppState,
    settings: &Settings,
    now: i64,
    prepared: &[Prepared],
    offset: usize,
    entry: &impl Fn(&Touched, &Chunk, Range<usize>) -> Entry,
) -> Result<Chunk, AppError> {
    let db = &state.db;
    let mut subs = batches(prepared.len());
    let mut tx = db.begin().await?;
    let since = prepared.iter().map(|p| p.w.event_at).min().unwrap_or(0) - settings.rules.merge_window_ms();
    let subjects = prepared.iter().map(|p| &p.subject);
    let cases = together::cases_about(&mut tx, db.backend, subjects, since, "history").await?;
    let known = Known::Stored(together::existing(&mut tx, db.backend, prepared).await?);
    let mut memory = Memory::new(cases, known);
    let mut case_ids = db.reserve_ids(&mut tx, "fraud_cases", prepared.len()).await?.into_iter();
    let mut warning_ids = db.reserve_ids(&mut tx, "fraud_warnings", prepared.len()).await?.into_iter();
    let ids = Ids { cases: &mut case_ids, warnings: &mut warning_ids };
    // Nothing after this chunk can join its cases: the next one reads them back.
    let rows = assign(settings, prepared, (offset, None), &mut subs, &mut memory, ids)?;
    insert(&mut tx, db, rows).await?;
    let all = audit_entries(&mut tx, state, now, subs, prepared.len(), offset, entry).await?;
    if all.created > 0 {
        tx.commit().await?;
    } else {
        tx.rollback().await?;
    }
    Ok(all)
}

/// A (touched records, counts) per [`MAX_BATCH`] of `n` items: each gets its audit entry.
pub(super) fn batches(n: usize) -> Vec<(Touched, Chunk)> {
    (0..n.div_ceil(MAX_BATCH)).map(|_| Default::default()).collect()
}

/// The (source, upstream_id) keys stored before the items being assigned.
pub(super) enum Known {
    /// As read for a chunk from the database, and those its items store.
    Stored(HashMap<(String, String), StoredWarning>),
    /// For a whole load ([`super::bulk_whole`]): those stored before it and those it stored, as
    /// [`key_text`]. An item repeating one is set aside, and answered from the database once
    /// every row is written.
    Loaded(FastSet<Box<str>>),
}

/// A (source, upstream_id) key as one string, unambiguous whatever either part holds.
pub(super) fn key_text(source: &str, upstream_id: &str) -> Box<str> {
    format!("{}:{source}{upstream_id}", source.len()).into_boxed_str()
}

/// What assigning rows holds in memory between them.
pub(super) struct Memory {
    /// Every case a row could join (read from the database, or opened by the rows), by whom it
    /// is about, each list in id order.
    pub cases: CaseLists,
    /// (opened at, whom) of each case not yet written: opened by these rows, or read and then
    /// joined. Earliest first, so that those no row can join any more are found without a look
    /// at the others.
    unsettled: BinaryHeap<Reverse<(i64, CaseKey)>>,
    pub known: Known,
}

impl Memory {
    pub(super) fn new(cases: CaseLists, known: Known) -> Memory {
        Memory { cases, unsettled: BinaryHeap::new(), known }
    }
}

/// Where the ids of the rows an assignment writes come from.
pub(super) struct Ids<'a> {
    pub cases: &'a mut dyn Iterator<Item = i64>,
    pub warnings: &'a mut dyn Iterator<Item = i64>,
}

/// What the items of a chunk come to: the rows to write, in the order [`insert`] writes them.
pub(super) struct Assigned {
    cases: together::CaseRows,
    warnings: Vec<Vec<Value>>,
    candidates: Vec<Vec<Value>>,
    /// Items (by position in the chunk) repeating a key of a whole load: see [`Known`].
    pub repeats: Vec<usize>,
}

/// Decides, in memory, what each item (the `offset`th on) does: a repeat of a stored key, or a
/// new warning that joins a case of `memory` or opens one, counted in its batch of `subs`.
///
/// A case is written once no later row can join it: `later` is the earliest event time of the
/// rows still to come (`None`: none). Until then it stays in `memory` with its changes: written
/// once, in its final form, instead of inserted and then updated by every later chunk that
/// joins it. The rows naming it go out at once: a whole load checks no foreign key
/// (`Db::begin_load`), and a chunked one settles every case of its chunk (`later` is `None`).
/// A case read from the database is written as its growth.
pub(super) fn assign(
    settings: &Settings,
    prepared: &[Prepared],
    (offset, later): (usize, Option<i64>),
    subs: &mut [(Touched, Chunk)],
    memory: &mut Memory,
    ids: Ids<'_>,
) -> Result<Assigned, AppError> {
    let Memory { cases, unsettled, known } = memory;
    let window = settings.rules.merge_window_ms();
    // Cases about nobody in particular (a warning with neither ID number nor phone) never merge.
    let mut keyless: Vec<Case> = Vec::new();
    let mut warnings: Vec<Vec<Value>> = Vec::with_capacity(prepared.len());
    let mut candidates: Vec<Vec<Value>> = Vec::new();
    let mut repeats = Vec::new();
    for (at, p) in prepared.iter().enumerate() {
        let (touched, chunk) = &mut subs[at / MAX_BATCH];
        let index = offset + at;
        let w = &p.w;
        match &mut *known {
            Known::Stored(stored) => {
                if let Some(s) = stored.get(&(w.source.clone(), w.upstream_id.clone())) {
                    answer_known(index, s, p, chunk);
                    continue;
                }
            }
            Known::Loaded(keys) => {
                // Recorded here: past this point the row is stored, or the whole load fails.
                if !keys.insert(key_text(&w.source, &w.upstream_id)) {
                    repeats.push(at);
                    continue;
                }
            }
        }
        let received = w.event_at;
        let case_key = together::case_key(&p.subject);
        if let Some(k) = case_key.as_ref().filter(|k| !cases.contains_key(*k)) {
            cases.insert(k.clone(), Vec::new());
        }
        let key_cases = case_key.as_ref().and_then(|k| Some((k, cases.get_mut(k)?)));
        let existing_case = key_cases.as_ref().and_then(|(_, list)| Case::joinable(list, received, window));
        let case_id = match (key_cases, existing_case) {
            (Some((key, list)), Some(at)) => {
                let c = &mut list[at];
                if c.opener.is_none() && c.added == 0 {
                    // Read from the database: written as its growth once no row can join it.
                    unsettled.push(Reverse((c.opened_at, key.clone())));
                }
                c.grade = c.grade.max(p.grade);
                c.reasons = intake::merge_reasons(std::mem::take(&mut c.reasons), &p.reasons);
                c.last_warning_at = received;
                c.added += 1;
                c.id
            }
            (list, _) => {
                let id = ids.cases.next().ok_or_else(|| anyhow::anyhow!("BUG: fewer case ids than warnings"))?;
                let case = Case::opened(id, p, received, (None, None));
                match list {
                    Some((key, list)) => {
                        unsettled.push(Reverse((received, key.clone())));
                        list.push(case);
                    }
                    None => keyless.push(case),
                }
                candidates.extend(p.subject.candidates.iter().map(|r| vec![Value::from(id), Value::from(*r)]));
                id
            }
        };
        let warning_id = ids.warnings.next().ok_or_else(|| anyhow::anyhow!("BUG: fewer warning ids than warnings"))?;
        let columns = intake::columns(p, received, settings.rules_version, case_id, true);
        let mut row = Vec::with_capacity(1 + WARNING_COLUMNS.len());
        row.push(Value::from(warning_id));
        row.extend(columns.values());
        warnings.push(row);
        if let Known::Stored(stored) = known {
            stored.insert((w.source.clone(), w.upstream_id.clone()), together::stored_form(warning_id, case_id, p));
        }
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
    // Cases about nobody in particular are done at once; the others once no later row can
    // join them (opened before the earliest later row's time minus the window). Those done are
    // written and forgotten.
    let done_before = later.map(|t| t - window);
    let mut done = keyless;
    while let Some(Reverse((opened, _))) = unsettled.peek() {
        if done_before.is_some_and(|t| *opened >= t) {
            break;
        }
        let Some(Reverse((_, key))) = unsettled.pop() else { break };
        // A list may come up once per case in it: the first time settles all it can.
        let Some(list) = cases.get_mut(&key) else { continue };
        let (finished, open): (Vec<Case>, Vec<Case>) =
            std::mem::take(list).into_iter().partition(|c| done_before.is_none_or(|t| c.opened_at < t));
        if open.is_empty() {
            cases.remove(&key);
        } else {
            *list = open;
        }
        done.extend(finished);
    }
    let rows = together::CaseRows::of(done.iter(), "history");
    Ok(Assigned { cases: rows, warnings, candidates, repeats })
}

/// Answers, in `chunk`, an item whose key is stored as `s`: a duplicate when every field is the
/// same, else a conflict naming the first field that differs (the first one stands).
pub(super) fn answer_known(index: usize, s: &StoredWarning, p: &Prepared, chunk: &mut Chunk) {
    let w = &p.w;
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
}

/// Writes what [`assign`] decided: the cases first (the warnings name them), then the warnings
/// and the candidates of cases matched by a shared phone.
pub(super) async fn insert(tx: &mut Tx, db: &Db, rows: Assigned) -> Result<(), AppError> {
    together::write_cases(tx, db, rows.cases).await?;
    let mut columns = vec!["id"];
    columns.extend(WARNING_COLUMNS);
    db.insert_rows(tx, "fraud_warnings", &columns, rows.warnings).await?;
    db.insert_rows(tx, "fraud_candidates", &["case_id", "resident_id"], rows.candidates).await?;
    Ok(())
}

/// An audit entry for each batch of `subs` that stored something (the items from `offset` on,
/// `len` of them); their counts added up.
pub(super) async fn audit_entries(
    tx: &mut Tx,
    state: &AppState,
    now: i64,
    subs: Vec<(Touched, Chunk)>,
    len: usize,
    offset: usize,
    entry: &impl Fn(&Touched, &Chunk, Range<usize>) -> Entry,
) -> Result<Chunk, AppError> {
    let mut all = Chunk::default();
    let mut entries = Vec::new();
    for (n, (mut touched, sub)) in subs.into_iter().enumerate() {
        if sub.created > 0 {
            touched.cases.sort_unstable();
            touched.cases.dedup();
            let range = offset + n * MAX_BATCH..offset + ((n + 1) * MAX_BATCH).min(len);
            entries.push(entry(&touched, &sub, range));
        }
        all.absorb(sub);
    }
    // One append for them all: the chain's head is locked, read and written once, not once per
    // batch (a history load has 1,700 batches).
    if !entries.is_empty() {
        let timed: Vec<(i64, &Entry)> = entries.iter().map(|e| (now, e)).collect();
        audit::append_all(tx, state.db.backend, &state.key, &timed).await.map_err(|e| audit::audit_failed(state, e))?;
    }
    Ok(all)
}

/// How a load finds the residents its warnings name.
pub enum Lookup {
    /// 500 keys a statement, on the read pool.
    Keyed,
    /// From every resident, read once ([`Directory`]).
    Directory(Directory),
}

impl Lookup {
    /// The directory for a load of `rows` when it names a large share of the residents: at least
    /// one row for every [`DIRECTORY_RESIDENTS_PER_ROW`] of them.
    pub async fn for_load(db: &Db, rows: usize) -> Result<Lookup, sqlx::Error> {
        let residents: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM residents").fetch_one(db.reader()).await?;
        if (rows as i64).saturating_mul(DIRECTORY_RESIDENTS_PER_ROW) < residents {
            return Ok(Lookup::Keyed);
        }
        Ok(Lookup::Directory(Directory::read(db).await?))
    }

    async fn find(&self, db: &Db, hashes: &[intake::Hashes]) -> Result<Found, sqlx::Error> {
        match self {
            Lookup::Keyed => find_keyed(db, hashes).await,
            Lookup::Directory(d) => Ok(d.find(hashes.iter().map(|(id, phone)| (id.as_deref(), phone.as_deref())))),
        }
    }
}

/// A [`Lookup`] chosen and read on a task of its own, while the file is parsed: the directory
/// of a city takes seconds to read, and parsing keeps one core busy, the read the other. Dropped
/// unused (a refused file), it stops.
pub struct Prefetch(tokio::task::JoinHandle<Result<Lookup, sqlx::Error>>);

impl Prefetch {
    /// Starts choosing the lookup for a load of about `rows` rows.
    pub fn start(db: &Db, rows: usize) -> Prefetch {
        let db = db.clone();
        Prefetch(tokio::spawn(async move { Lookup::for_load(&db, rows).await }))
    }

    pub async fn get(mut self) -> Result<Lookup, AppError> {
        let read = (&mut self.0).await.map_err(|e| anyhow::anyhow!("reading the residents failed: {e}"))?;
        Ok(read?)
    }
}

impl Drop for Prefetch {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Reading every resident costs about as much as looking up one in ten by key (measured on the
/// city demo: 1.4 million residents).
const DIRECTORY_RESIDENTS_PER_ROW: i64 = 10;

/// Matching, routing and grading of every item.
pub(super) async fn prepare(
    state: &AppState,
    routes: &Routes,
    lookup: &Lookup,
    settings: &Settings,
    items: Vec<Warning>,
) -> Result<Vec<Prepared>, sqlx::Error> {
    let hashes: Vec<intake::Hashes> = items.iter().map(|w| matching::hashes(&state.key, w)).collect();
    let found = lookup.find(&state.db, &hashes).await?;
    let facts = |r: &Row| matching::Resident {
        id: r.id,
        id_hash: r.id_hash.clone(),
        birth_date: r.birth_date.clone(),
        living_alone: found.alone.contains(&r.id),
        route: routes.resident(r.grid_id, r.node_id),
    };
    let mut out = Vec::with_capacity(items.len());
    for (at, (w, (id_hash, phone_hash))) in items.into_iter().zip(hashes).enumerate() {
        if at % MAX_BATCH == MAX_BATCH - 1 {
            // With the directory nothing here waits: let the writer's statements go out meanwhile.
            tokio::task::yield_now().await;
        }
        let by_id = id_hash.as_ref().and_then(|h| found.by_id.get(h)).map(facts);
        let holders: Vec<matching::Resident> = match (&by_id, &phone_hash) {
            (None, Some(p)) => found.holders.get(p).map(|list| list.iter().map(facts).collect()).unwrap_or_default(),
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

/// The residents these warnings name, looked up by key on the read pool.
async fn find_keyed(db: &Db, hashes: &[intake::Hashes]) -> Result<Found, sqlx::Error> {
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
    let by_id: FastMap<Vec<u8>, Row> = fetch_in(
        db,
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
    let mut holders: FastMap<Vec<u8>, Vec<Row>> = FastMap::new();
    let rows = fetch_in(
        db,
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
        if list.len() < MAX_HOLDERS {
            list.push(r);
        }
    }
    let mut people: Vec<i64> = by_id.values().map(|r| r.id).chain(holders.values().flatten().map(|r| r.id)).collect();
    people.sort_unstable();
    people.dedup();
    let alone: FastSet<i64> = fetch_in(
        db,
        &people,
        |m| format!("SELECT resident_id FROM resident_tags WHERE tag = 'elderly_alone' AND resident_id IN ({m})"),
        |r| Ok((r.try_get::<i64, _>(0)?, ())),
    )
    .await?
    .into_iter()
    .map(|(id, ())| id)
    .collect();
    Ok(Found { by_id, holders, alone })
}
