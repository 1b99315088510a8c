//! Warnings from a CSV or XLSX file, as upstream centres often hand them over. Each row is read
//! into the JSON intake's input and takes the batch path ([`service::ingest_chunk`]), so
//! idempotency, matching, grading, merging and deadlines are those of `POST /api/v1/warnings`.
//!
//! Invariant: by default a file with any invalid row stores nothing; with `skip_invalid` the good
//! rows are stored and the bad ones reported. A conflict (a stored key with other content) is
//! found only while storing; like in a JSON batch, it is reported and the other rows stand.
//! Invariant: every [`service::MAX_BATCH`] rows get one audit entry naming their records, so no
//! entry grows to megabytes. Live rows are stored a batch per transaction; history takes the
//! bulk path ([`bulk`]), [`bulk::TRANSACTION_ROWS`] per transaction, so neither holds the SQLite
//! writer for more than a moment at a time. The exception is a large history load on
//! SQLite: one transaction, all or nothing, that holds the writer for its length.

use std::ops::Range;

use serde::Serialize;
use utoipa::ToSchema;

use super::bulk;
use super::import_template::{self, WARNINGS};
use super::intake::Settings;
use super::model;
use super::service::{self, Parsed, MAX_BATCH};
use crate::app::AppState;
use crate::audit::Entry;
use crate::auth::{Caller, Permission};
use crate::tabular::{self, Limits};
use crate::web::error::{AppError, RowError};

#[derive(Debug, Default, Serialize, ToSchema)]
pub struct WarningImportReport {
    /// Data rows read (blank rows not counted).
    pub received: u64,
    pub created: u64,
    /// Rows that were a warning already stored with the same content (nothing changed).
    pub duplicates: u64,
    /// Rows whose source and upstream id are stored with other content: the first one stands.
    pub conflicts: u64,
    /// Invalid rows: left out with skip_invalid, else the reason nothing was stored.
    pub refused: u64,
    /// Whether the rows were stored (false: the file or a row was refused and nothing changed).
    pub written: bool,
    /// Every problem: invalid rows and conflicts, by line, field and reason.
    pub errors: Vec<RowError>,
}

/// Options of one import.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    pub history: bool,
    pub skip_invalid: bool,
}

/// Imports warnings from CSV or XLSX bytes. `entry` is the audit entry each stored chunk gets
/// (caller, request, action); `Err` only for failures that are not about the file.
pub async fn import_warnings(
    state: &AppState,
    entry: Entry,
    caller: &Caller,
    bytes: &[u8],
    limits: &Limits,
    opts: Options,
) -> Result<WarningImportReport, AppError> {
    caller.require(Permission::WarningsWrite)?;
    let mut report = WarningImportReport::default();
    let sheet = match tabular::open(bytes, &WARNINGS, limits) {
        Ok(s) => s,
        Err(errors) => {
            report.errors = errors;
            return Ok(report);
        }
    };
    let now = state.clock.now_ms();
    let started = std::time::Instant::now();
    // History is matched against the residents: for a large file they are read while it parses.
    // A CSV line is a row (a field with a line break in it only makes the guess larger).
    let lookup = opts.history.then(|| bulk::Prefetch::start(&state.db, bytes.iter().filter(|&&b| b == b'\n').count()));
    // (line, warning): only good rows are kept, so a rejected file costs no database work.
    let mut good: Vec<(u64, model::Warning)> = Vec::new();
    let mut bad_lines = 0;
    for record in sheet.records() {
        report.received += 1;
        let row = record.map_err(|e| vec![e]).and_then(|r| {
            let input = import_template::input(&r)?;
            let w = model::parse(&input, now)
                .map_err(|(field, reason)| vec![RowError { line: r.line, field: field.into(), reason }])?;
            Ok((r.line, w))
        });
        match row {
            Ok(line_and_warning) => good.push(line_and_warning),
            Err(errors) => {
                bad_lines += 1;
                report.errors.extend(errors);
            }
        }
    }
    report.refused = bad_lines;
    let parse_ms = started.elapsed().as_millis() as u64;
    tracing::info!(rows = report.received, refused = bad_lines, parse_ms, "warning file read");
    if !report.errors.is_empty() && (!opts.skip_invalid || good.is_empty()) {
        return Ok(report);
    }
    let settings = Settings::load(state).await?;
    let (lines, items): (Vec<u64>, Vec<model::Warning>) = good.into_iter().unzip();
    // An audit entry per batch of rows, naming the file lines it covers.
    let entry = |touched: &_, c: &_, rows: Range<usize>| {
        let mut e = service::audit_entry(entry.clone(), touched, opts.history, c);
        e.detail["lines"] = serde_json::json!([lines[rows.start], lines[rows.end - 1]]);
        e
    };
    let chunks = if let Some(lookup) = lookup {
        // History takes the bulk path: the same rules, a few statements per thousand rows.
        vec![bulk::ingest_history(state, &settings, now, items, lookup, entry).await?]
    } else {
        let mut chunks = Vec::new();
        let mut rest = items.into_iter().peekable();
        let mut offset = 0;
        while rest.peek().is_some() {
            let batch: Vec<Parsed> = rest.by_ref().take(MAX_BATCH).map(Ok).collect();
            let n = batch.len();
            let mut chunk =
                service::ingest_chunk(state, &settings, now, batch, false, |t, c| entry(t, c, offset..offset + n))
                    .await?;
            chunk.results.iter_mut().for_each(|r| r.index += offset);
            offset += n;
            chunks.push(chunk);
        }
        chunks
    };
    for chunk in chunks {
        report.created += chunk.created as u64;
        report.duplicates += chunk.duplicates as u64;
        report.conflicts += chunk.conflicts as u64;
        for r in chunk.results.iter().filter(|r| r.status == "conflict") {
            report.errors.push(RowError {
                line: lines.get(r.index).copied().unwrap_or_default(),
                field: r.field.clone().unwrap_or_default(),
                reason: r.reason.clone().unwrap_or_default(),
            });
        }
    }
    report.errors.sort_by_key(|e| e.line);
    report.written = true;
    Ok(report)
}
