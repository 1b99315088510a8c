//! The doors other code uses: intake of one warning or a batch, with its audit entry.

use serde::Serialize;
use utoipa::ToSchema;

use super::intake::{self, Prepared, Receipt, Settings, Status, Touched};
use super::model::{self, Grade, MatchKind, Warning, WarningInput};
use crate::app::AppState;
use crate::audit::{self, Entry};
use crate::auth::{Caller, Permission};
use crate::web::error::AppError;
use crate::web::middleware::RequestMeta;

pub const MAX_BATCH: usize = 1000;

/// The answer for one warning.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Accepted {
    /// The stored warning.
    pub id: i64,
    pub case_id: i64,
    pub grade: Grade,
    /// `created`, or `duplicate` when the same warning was stored before (nothing changed).
    #[schema(example = "created")]
    pub status: &'static str,
    /// How the warning found its person.
    #[serde(rename = "match")]
    pub match_kind: MatchKind,
}

impl From<&Receipt> for Accepted {
    fn from(r: &Receipt) -> Self {
        Accepted {
            id: r.warning_id,
            case_id: r.case_id,
            grade: r.grade,
            status: if r.status == Status::Created { "created" } else { "duplicate" },
            match_kind: r.match_kind,
        }
    }
}

/// One item of a batch: accepted, or refused with the field and reason.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ItemResult {
    /// Position in the batch, from 0.
    pub index: usize,
    /// `created`, `duplicate`, `conflict` or `invalid`.
    pub status: &'static str,
    pub id: Option<i64>,
    pub case_id: Option<i64>,
    pub grade: Option<Grade>,
    pub field: Option<String>,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BatchReport {
    pub received: usize,
    pub created: usize,
    pub duplicates: usize,
    pub refused: usize,
    pub results: Vec<ItemResult>,
}

fn conflict_error(source: &str, upstream_id: &str, c: &intake::Conflict) -> AppError {
    AppError::conflict(
        c.field,
        format!(
            "warning {source}/{upstream_id} is already stored as warning {} with a different {}; the first one stands",
            c.warning_id, c.field
        ),
    )
}

/// One warning: stored (201), the same one again (200), or refused whole.
pub async fn ingest_one(
    state: &AppState,
    meta: &RequestMeta,
    caller: &Caller,
    input: &WarningInput,
    history: bool,
) -> Result<Accepted, AppError> {
    caller.require(Permission::WarningsWrite)?;
    let now = state.clock.now_ms();
    let w = model::parse(input, now).map_err(|(f, r)| AppError::invalid(f, r))?;
    let entry = Entry::new(meta, Some(caller), "antifraud.warnings.ingest")
        .detail(serde_json::json!({"created": 1, "duplicates": 0, "refused": 0, "history": history}));
    ingest_parsed(state, w, history, now, entry).await
}

/// One live warning raised by the server itself, with no caller (the demo's trickle): stored,
/// matched, routed and scheduled exactly as one from upstream, audited under `action`.
pub async fn ingest_system(state: &AppState, w: Warning, action: &str) -> Result<Accepted, AppError> {
    let now = state.clock.now_ms();
    let entry = Entry::cli(action).detail(serde_json::json!({"created": 1, "history": false}));
    ingest_parsed(state, w, false, now, entry).await
}

/// The one path a single parsed warning takes: prepared on the read pool, then applied and
/// audited (`entry`, with the records it touched) in one write. A live warning is written with
/// the others that arrived while the previous write committed (`live.rs`); a history one alone,
/// in a group commit. Subscribers are woken after the commit.
async fn ingest_parsed(
    state: &AppState,
    w: Warning,
    history: bool,
    now: i64,
    entry: Entry,
) -> Result<Accepted, AppError> {
    let settings = Settings::load(state).await?;
    let prepared = intake::prepare(state, w, &settings).await?;
    let (source, upstream_id) = (prepared.w.source.clone(), prepared.w.upstream_id.clone());
    let outcome = match history {
        false => {
            let item = super::live::Item { prepared, settings, now, entry };
            state.warning_writer.write(state, item).await?
        }
        true => {
            let st = state.clone();
            state
                .db
                .grouped_audited(move |tx| {
                    Box::pin(async move {
                        let mut touched = Touched::default();
                        let outcome = intake::apply(tx, &st, &prepared, &settings, now, true, &mut touched).await?;
                        // A duplicate or a conflict wrote nothing: nothing to audit.
                        let entry = outcome
                            .as_ref()
                            .is_ok_and(|r| r.status == Status::Created)
                            .then(|| audit::Pending { entry: entry.records(records(&touched)), at: now, state: st });
                        Ok((outcome, entry.into_iter().collect()))
                    })
                })
                .await?
        }
    };
    let receipt = outcome.map_err(|c| conflict_error(&source, &upstream_id, &c))?;
    Ok(Accepted::from(&receipt))
}

/// Up to [`MAX_BATCH`] warnings: each refused item is reported, the rest stored together.
pub async fn ingest_batch(
    state: &AppState,
    meta: &RequestMeta,
    caller: &Caller,
    items: Vec<serde_json::Value>,
    history: bool,
) -> Result<BatchReport, AppError> {
    caller.require(Permission::WarningsWrite)?;
    if items.is_empty() {
        return Err(AppError::invalid("body", "an empty batch; send at least one warning"));
    }
    if items.len() > MAX_BATCH {
        return Err(AppError::invalid("body", format!("at most {MAX_BATCH} warnings per request")));
    }
    let now = state.clock.now_ms();
    let settings = Settings::load(state).await?;
    let mut parsed = Vec::with_capacity(items.len());
    for item in items {
        let one = crate::web::extract::from_value::<WarningInput>(item)
            .and_then(|input| model::parse(&input, now).map_err(|(f, r)| AppError::invalid(f, r)));
        parsed.push(match one {
            Ok(w) => Ok(w),
            Err(AppError::Invalid { field, reason }) => Err((field, reason)),
            Err(other) => return Err(other),
        });
    }
    let received = parsed.len();
    let chunk = ingest_chunk(state, &settings, now, parsed, history, |touched, c| {
        audit_entry(Entry::new(meta, Some(caller), "antifraud.warnings.ingest"), touched, history, c)
    })
    .await?;
    Ok(BatchReport {
        received,
        created: chunk.created,
        duplicates: chunk.duplicates,
        refused: received - chunk.created - chunk.duplicates,
        results: chunk.results,
    })
}

/// A batch item after parsing: the warning, or the (field, reason) it was refused for.
pub type Parsed = Result<Warning, (String, String)>;

/// What one chunk did. `results` is indexed like the chunk's items.
#[derive(Debug, Default)]
pub struct Chunk {
    pub created: usize,
    pub duplicates: usize,
    pub conflicts: usize,
    pub invalid: usize,
    pub results: Vec<ItemResult>,
}

impl Chunk {
    /// Adds what a later chunk of the same batch did.
    pub fn absorb(&mut self, later: Chunk) {
        self.created += later.created;
        self.duplicates += later.duplicates;
        self.conflicts += later.conflicts;
        self.invalid += later.invalid;
        self.results.extend(later.results);
    }
}

/// The one path a batch takes, from a JSON array or a file's rows: each warning prepared on the
/// read pool, then all applied, audited by `entry` and committed in one transaction. Callers
/// keep a chunk to [`MAX_BATCH`] items, which bounds the transaction and the audit entry's list.
pub async fn ingest_chunk(
    state: &AppState,
    settings: &Settings,
    now: i64,
    items: Vec<Parsed>,
    history: bool,
    entry: impl FnOnce(&Touched, &Chunk) -> Entry,
) -> Result<Chunk, AppError> {
    let mut results: Vec<Option<ItemResult>> = vec![None; items.len()];
    let mut ready: Vec<(usize, Prepared)> = Vec::with_capacity(items.len());
    let mut chunk = Chunk::default();
    for (index, item) in items.into_iter().enumerate() {
        match item {
            Ok(w) => ready.push((index, intake::prepare(state, w, settings).await?)),
            Err((field, reason)) => {
                chunk.invalid += 1;
                results[index] = Some(refused(index, "invalid", field, reason));
            }
        }
    }
    let mut touched = Touched::default();
    let mut tx = state.db.begin().await?;
    for (index, p) in &ready {
        let item = match intake::apply(&mut tx, state, p, settings, now, history, &mut touched).await? {
            Ok(r) => {
                if r.status == Status::Created {
                    chunk.created += 1;
                } else {
                    chunk.duplicates += 1;
                }
                let a = Accepted::from(&r);
                ItemResult {
                    index: *index,
                    status: a.status,
                    id: Some(a.id),
                    case_id: Some(a.case_id),
                    grade: Some(a.grade),
                    field: None,
                    reason: None,
                }
            }
            Err(c) => {
                chunk.conflicts += 1;
                let reason = match conflict_error(&p.w.source, &p.w.upstream_id, &c) {
                    AppError::Conflict { reason, .. } => reason,
                    _ => String::new(),
                };
                ItemResult { id: Some(c.warning_id), ..refused(*index, "conflict", c.field.to_string(), reason) }
            }
        };
        results[*index] = Some(item);
    }
    if chunk.created > 0 {
        let entry = entry(&touched, &chunk);
        audit::append(&mut tx, &state.db, &state.key, now, &entry).await.map_err(|e| audit::audit_failed(state, e))?;
        tx.commit().await?;
        crate::events::wake(state);
    } else {
        tx.rollback().await?;
    }
    chunk.results = results.into_iter().flatten().collect();
    Ok(chunk)
}

fn refused(index: usize, status: &'static str, field: String, reason: String) -> ItemResult {
    ItemResult { index, status, id: None, case_id: None, grade: None, field: Some(field), reason: Some(reason) }
}

/// The entry for a chunk that stored something: `base` names the caller and the action.
pub fn audit_entry(base: Entry, touched: &Touched, history: bool, c: &Chunk) -> Entry {
    base.records(records(touched)).detail(serde_json::json!({
        "created": c.created, "duplicates": c.duplicates, "refused": c.conflicts + c.invalid, "history": history,
    }))
}

/// Named one by one (a batch holds at most 1,000), so a search by record finds each.
pub(super) fn records(touched: &Touched) -> Vec<String> {
    touched
        .warnings
        .iter()
        .map(|id| format!("fraud_warning:{id}"))
        .chain(touched.cases.iter().map(|id| format!("fraud_case:{id}")))
        .collect()
}
