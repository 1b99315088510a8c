//! A large history load on SQLite, one that brings more warnings than the database holds (a
//! city's nine months, handed over when pingan is set up): one transaction, all or nothing, that
//! holds the writer for its length. What makes it faster than a transaction per
//! [`bulk::TRANSACTION_ROWS`]:
//! - the secondary indexes of the warnings and cases are built once at the end
//!   ([`crate::db::Db::defer_indexes`]); per transaction, a chunked load rewrote the index pages
//!   its cases touched all over `fraud_cases`, and the later in the load, the more of them;
//! - nothing is read back while writing: every case a row could join and every key it could
//!   repeat is read once at the start or written by the load, and held in memory. Deciding what
//!   each row does ([`bulk::assign`]) therefore runs beside the writer, one chunk ahead, and the
//!   writer only writes;
//! - each case is written once, in its final form, when the rows still to come are all too late
//!   to join it (a file comes in time order, give or take): never inserted and then updated by
//!   each later chunk that joins it. The rows naming it are written at once, before it: the
//!   load checks no foreign key ([`crate::db::Db::begin_load`]);
//! - a row repeating a key stores nothing and is answered (duplicate or conflict) at the end,
//!   from the database, exactly as a later load would answer it.
//!
//! `tests/api/antifraud_bulk.rs` loads one file this way and as API batches and compares every
//! stored row.

use std::ops::{Range, RangeFrom};
use std::time::{Duration, Instant};

use super::bulk::{self, Assigned, Ids, Known, Lookup, Memory};
use super::intake::{Prepared, Settings, Touched};
use super::model::Warning;
use super::routes::Routes;
use super::service::{Chunk, MAX_BATCH};
use super::together;
use crate::app::AppState;
use crate::audit::Entry;
use crate::db::bulk::DeferredIndexes;
use crate::db::{Backend, Tx};
use crate::web::error::AppError;

/// From this many rows, a load that brings more warnings than the database holds is a whole load.
pub const WHOLE_FROM: usize = 2 * MAX_BATCH;

/// Indexes a whole load keeps up as it writes, instead of building them at the end:
/// - history cases have no deadline and are not closed: they fall outside these partial indexes;
/// - the load writes cases about when they open and warnings in the file's (time) order, so
///   keys by opening, receipt and case arrive nearly in order, each insert on one of the last
///   pages;
/// - the queue's key is (state, node): every history case has one state, and each node's
///   entries grow at their own end, a few thousand pages in all.
///
/// Only the indexes by resident and by subject hash take keys all over the index: built at the
/// end. Measured on the nine-month file: all built at the end, 9.1 s of building; these kept,
/// 2–4 s of building for 4–5 s more writing, which runs beside the matching; all kept, the
/// writer 10 s slower.
const KEPT_INDEXES: &[&str] = &[
    "fraud_cases_closed",
    "fraud_cases_contact_due",
    "fraud_cases_opened",
    "fraud_cases_queue",
    "fraud_warnings_case",
    "fraud_warnings_received",
];

/// A whole load under way: its transaction and what it holds in memory.
pub struct WholeLoad {
    tx: Tx,
    deferred: DeferredIndexes,
    work: Work,
}

/// What deciding the rows needs, apart from the transaction (so the two run side by side).
struct Work {
    /// Every case a row could join, read at the start or opened by the load and not yet
    /// written, and every key stored.
    memory: Memory,
    case_ids: RangeFrom<i64>,
    warning_ids: RangeFrom<i64>,
    /// One per [`MAX_BATCH`] rows of the whole load: audited at the end.
    subs: Vec<(Touched, Chunk)>,
    /// Rows repeating a key this load stored, by index in the load.
    repeats: Vec<(usize, Prepared)>,
}

/// A whole load for `items` when they are one: SQLite, at least [`WHOLE_FROM`] rows, and more
/// than the database holds. Its transaction starts here, with what it reads once.
pub async fn start(state: &AppState, settings: &Settings, items: &[Warning]) -> Result<Option<WholeLoad>, AppError> {
    let db = &state.db;
    if db.backend != Backend::Sqlite || items.len() < WHOLE_FROM {
        return Ok(None);
    }
    // Every reference a row of the load makes is read from the database or written by the load
    // (see `Db::begin_load`).
    let mut tx = db.begin_load().await?;
    let keys: Vec<(String, String)> =
        sqlx::query_as("SELECT source, upstream_id FROM fraud_warnings").fetch_all(&mut *tx).await?;
    if keys.len() >= items.len() {
        tx.rollback().await?;
        return Ok(None);
    }
    let keys = keys.iter().map(|(source, upstream)| bulk::key_text(source, upstream)).collect();
    let since = items.iter().map(|w| w.event_at).min().unwrap_or(0) - settings.rules.merge_window_ms();
    let cases = together::cases_since(&mut tx, db.backend, since, "history").await?;
    let n = items.len();
    let loads = [("fraud_cases", n), ("fraud_warnings", n), ("fraud_candidates", n)];
    let deferred = db.defer_indexes(&mut tx, &loads, KEPT_INDEXES).await?;
    // The writer is ours until the commit: every id after the largest is this load's.
    let first_case = db.reserve_ids(&mut tx, "fraud_cases", 1).await?[0];
    let first_warning = db.reserve_ids(&mut tx, "fraud_warnings", 1).await?[0];
    let work = Work {
        memory: Memory::new(cases, Known::Loaded(keys)),
        case_ids: first_case..,
        warning_ids: first_warning..,
        subs: bulk::batches(n),
        repeats: Vec::new(),
    };
    db.widen_cache(&mut tx).await?;
    Ok(Some(WholeLoad { tx, deferred, work }))
}

impl WholeLoad {
    /// Loads `items` (the ones [`start`] was given): while the writer writes one chunk, the next
    /// is matched, graded and assigned.
    pub async fn ingest(
        self,
        state: &AppState,
        (routes, lookup): (&Routes, &Lookup),
        settings: &Settings,
        now: i64,
        items: Vec<Warning>,
        entry: &impl Fn(&Touched, &Chunk, Range<usize>) -> Entry,
    ) -> Result<Chunk, AppError> {
        let WholeLoad { tx, deferred, mut work } = self;
        let (total, per_chunk) = (items.len(), chunk_rows(items.len()));
        // The writer on a task of its own: matching and assigning the next chunk keep this one
        // busy without an await, and would otherwise hold back each statement of the writer's.
        // One chunk waits at most, which bounds the memory.
        let (send, mut written) = tokio::sync::mpsc::channel::<Assigned>(1);
        let db = state.db.clone();
        let writer = tokio::spawn(async move {
            let (mut tx, mut busy, mut idle) = (tx, Duration::ZERO, Duration::ZERO);
            loop {
                let waited = Instant::now();
                let Some(rows) = written.recv().await else { break };
                let started = Instant::now();
                idle += started - waited;
                bulk::insert(&mut tx, &db, rows).await?;
                busy += started.elapsed();
            }
            Ok::<_, AppError>((tx, busy, idle))
        });
        // The earliest event time from each chunk on: a case opened more than the window before
        // that of the chunks after one is a case no later row can join.
        let mut earliest: Vec<Option<i64>> =
            items.chunks(per_chunk).map(|c| c.iter().map(|w| w.event_at).min()).collect();
        for at in (0..earliest.len()).rev() {
            earliest[at] = earliest.get(at + 1).copied().flatten().into_iter().chain(earliest[at]).min();
        }
        let mut rest = items.into_iter();
        let (mut offset, mut times) = (0, Times::default());
        for later in earliest.iter().skip(1).copied().chain([None]) {
            let next: Vec<Warning> = rest.by_ref().take(per_chunk).collect();
            let started = Instant::now();
            let prepared = bulk::prepare(state, routes, lookup, settings, next).await?;
            times.prepare += started.elapsed();
            let started = Instant::now();
            let (rows, n) = work.assign(settings, prepared, (offset, later))?;
            times.assign += started.elapsed();
            offset += n;
            let started = Instant::now();
            if send.send(rows).await.is_err() {
                // The writer stopped on an error: its result says which.
                break;
            }
            times.waiting += started.elapsed();
        }
        drop(send);
        let (mut tx, busy, idle) = writer.await.map_err(|e| anyhow::anyhow!("the bulk writer task failed: {e}"))??;
        let started = Instant::now();
        let Work { mut subs, repeats, .. } = work;
        answer_repeats(&mut tx, state, &mut subs, repeats).await?;
        let all = bulk::audit_entries(&mut tx, state, now, subs, total, 0, entry).await?;
        let answered = started.elapsed();
        if all.created == 0 {
            // The dropped indexes come back with the rollback.
            tx.rollback().await?;
            return Ok(all);
        }
        let started = Instant::now();
        state.db.rebuild_indexes(&mut tx, deferred).await?;
        let rebuilt = started.elapsed();
        let started = Instant::now();
        state.db.commit_bulk(tx).await?;
        // Where a large load's time went: what an operator (and the benchmark) reads to see
        // whether matching or the writer bounds it.
        tracing::info!(
            rows = total,
            prepare_ms = times.prepare.as_millis() as u64,
            assign_ms = times.assign.as_millis() as u64,
            waiting_for_writer_ms = times.waiting.as_millis() as u64,
            writer_busy_ms = busy.as_millis() as u64,
            writer_idle_ms = idle.as_millis() as u64,
            repeats_and_audit_ms = answered.as_millis() as u64,
            index_builds_ms = rebuilt.as_millis() as u64,
            commit_ms = started.elapsed().as_millis() as u64,
            "warning history loaded in one transaction"
        );
        Ok(all)
    }
}

/// Our thread's time in a whole load, summed over its chunks.
#[derive(Default)]
struct Times {
    prepare: Duration,
    assign: Duration,
    /// Waiting for the writer to take a chunk: the writer is the bound.
    waiting: Duration,
}

impl Work {
    /// Assigns the prepared items from `offset` on; sets aside those repeating a key. Returns the
    /// rows to write and how many items there were.
    fn assign(
        &mut self,
        settings: &Settings,
        prepared: Vec<Prepared>,
        (offset, later): (usize, Option<i64>),
    ) -> Result<(Assigned, usize), AppError> {
        let n = prepared.len();
        let subs = &mut self.subs[offset / MAX_BATCH..];
        let ids = Ids { cases: &mut self.case_ids, warnings: &mut self.warning_ids };
        let rows = bulk::assign(settings, &prepared, (offset, later), subs, &mut self.memory, ids)?;
        let mut repeats = rows.repeats.iter().copied().peekable();
        for (at, p) in prepared.into_iter().enumerate() {
            if repeats.next_if_eq(&at).is_some() {
                self.repeats.push((offset + at, p));
            }
        }
        Ok((rows, n))
    }
}

/// Rows matched and written at a time, while the next ones are matched: an eighth of the load in
/// whole batches of [`MAX_BATCH`] (at most [`bulk::TRANSACTION_ROWS`]), so that even a load of a
/// few thousand rows overlaps the two. A whole number of batches keeps each batch's audit entry
/// in one chunk.
fn chunk_rows(rows: usize) -> usize {
    (rows / 8 / MAX_BATCH).clamp(1, bulk::TRANSACTION_ROWS / MAX_BATCH) * MAX_BATCH
}

/// Answers the rows that repeated a key, now that every first one is written:
/// duplicate or conflict, counted in their batch, each batch's answers back in row order.
async fn answer_repeats(
    tx: &mut Tx,
    state: &AppState,
    subs: &mut [(Touched, Chunk)],
    repeats: Vec<(usize, Prepared)>,
) -> Result<(), AppError> {
    if repeats.is_empty() {
        return Ok(());
    }
    let stored = together::existing(tx, state.db.backend, repeats.iter().map(|(_, p)| p)).await?;
    for (index, p) in &repeats {
        let key = (p.w.source.clone(), p.w.upstream_id.clone());
        let s = stored.get(&key).ok_or_else(|| anyhow::anyhow!("BUG: a key held as stored is not in the database"))?;
        let (_, chunk) = &mut subs[index / MAX_BATCH];
        bulk::answer_known(*index, s, p, chunk);
    }
    for (_, chunk) in subs.iter_mut() {
        chunk.results.sort_by_key(|r| r.index);
    }
    Ok(())
}
