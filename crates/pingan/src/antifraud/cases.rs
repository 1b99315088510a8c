//! Reading cases: the queue by urgency and one case with its warnings and timeline, cut to the
//! caller's jurisdiction and masked for the viewer. Every read names the cases it showed in the
//! audit log.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::model::{Grade, Kind, MatchKind, Outcome};
use crate::app::AppState;
use crate::audit::{self, Entry, Outcome as AuditOutcome};
use crate::auth::{Caller, Permission};
use crate::basedata::resident::{masked_id, shown_name};
use crate::jurisdiction::{scope_of, Level};
use crate::web::error::AppError;
use crate::web::middleware::RequestMeta;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Which {
    /// Cases still being worked (the default).
    #[default]
    Open,
    Closed,
    /// Loaded as history: no deadlines, not in the live queue.
    History,
}

impl Which {
    fn code(self) -> &'static str {
        match self {
            Which::Open => "open",
            Which::Closed => "closed",
            Which::History => "history",
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct QueueQuery {
    pub state: Option<Which>,
    /// Only the cases the caller is the responsible officer of.
    pub mine: Option<bool>,
    #[param(minimum = 1, maximum = 100000)]
    pub page: Option<i64>,
    #[param(minimum = 1, maximum = 200)]
    pub per_page: Option<i64>,
}

/// One case as a queue shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CaseRow {
    pub id: i64,
    pub grade: Grade,
    pub kind: Kind,
    pub state: String,
    #[serde(rename = "match")]
    pub match_kind: MatchKind,
    /// The person's name, masked for non-police viewers.
    pub name: Option<String>,
    pub phone: Option<String>,
    pub id_number: Option<String>,
    pub warnings: i64,
    pub opened_at: i64,
    pub contact_due_at: Option<i64>,
    pub visit_due_at: Option<i64>,
    pub first_contact_at: Option<i64>,
    pub visited_at: Option<i64>,
    /// The earliest deadline still open, if any.
    pub next_due_at: Option<i64>,
    /// 0 none, 1 station head alerted, 2 branch alerted.
    pub escalation: i64,
    pub outcome: Option<Outcome>,
    pub officer: Option<String>,
    pub grid: Option<String>,
    pub station: Option<String>,
    pub node_id: i64,
}

#[derive(Debug, sqlx::FromRow)]
struct Row {
    id: i64,
    grade: String,
    kind: String,
    state: String,
    match_state: String,
    name: Option<String>,
    phone_masked: Option<String>,
    id_head: Option<String>,
    id_tail: Option<String>,
    warnings: i64,
    opened_at: i64,
    contact_due_at: Option<i64>,
    visit_due_at: Option<i64>,
    first_contact_at: Option<i64>,
    visited_at: Option<i64>,
    next_due_at: Option<i64>,
    escalation: i64,
    outcome: Option<String>,
    officer: Option<String>,
    grid: Option<String>,
    station: Option<String>,
    node_id: i64,
}

const SELECT: &str =
    "SELECT c.id, c.grade, c.grade_rank, c.kind, c.state, c.match_state, COALESCE(r.name, w.name) AS name, \
    w.phone_masked, w.id_head, w.id_tail, c.warnings, c.opened_at, c.contact_due_at, c.visit_due_at, \
    c.first_contact_at, c.visited_at, \
    COALESCE(CASE WHEN c.first_contact_at IS NULL THEN c.contact_due_at END, \
             CASE WHEN c.visited_at IS NULL THEN c.visit_due_at END) AS next_due_at, \
    c.escalation, c.outcome, a.name AS officer, g.name AS grid, s.name AS station, c.node_id \
    FROM fraud_cases c \
    LEFT JOIN residents r ON r.id = c.resident_id \
    LEFT JOIN fraud_warnings w ON w.id = (SELECT MAX(x.id) FROM fraud_warnings x WHERE x.case_id = c.id) \
    LEFT JOIN accounts a ON a.id = c.officer_id \
    LEFT JOIN org_nodes g ON g.id = c.grid_id \
    LEFT JOIN org_nodes s ON s.id = c.station_id";

fn row(r: Row, viewer: crate::pii::mask::Viewer) -> CaseRow {
    CaseRow {
        id: r.id,
        grade: Grade::parse(&r.grade).unwrap_or(Grade::Blue),
        kind: Kind::parse(&r.kind).unwrap_or(Kind::Other),
        state: r.state,
        match_kind: MatchKind::parse(&r.match_state).unwrap_or(MatchKind::Unmatched),
        name: r.name.map(|n| shown_name(&n, viewer)),
        phone: r.phone_masked,
        id_number: masked_id(r.id_head.as_deref(), r.id_tail.as_deref(), viewer),
        warnings: r.warnings,
        opened_at: r.opened_at,
        contact_due_at: r.contact_due_at,
        visit_due_at: r.visit_due_at,
        first_contact_at: r.first_contact_at,
        visited_at: r.visited_at,
        next_due_at: r.next_due_at,
        escalation: r.escalation,
        outcome: r.outcome.as_deref().and_then(Outcome::parse),
        officer: r.officer,
        grid: r.grid,
        station: r.station,
        node_id: r.node_id,
    }
}

/// Open cases most urgent first (the nearest deadline, then the grade); closed ones newest first.
pub async fn queue(
    state: &AppState,
    meta: &RequestMeta,
    caller: &Caller,
    q: &QueueQuery,
) -> Result<(Vec<CaseRow>, i64, i64, i64), AppError> {
    require_reader(caller)?;
    let (page, per_page) = crate::basedata::paging(q.page, q.per_page)?;
    let scope = scope_of(state, caller).await?;
    let which = q.state.unwrap_or_default();
    let mine = match (q.mine, caller.account_id) {
        (Some(true), Some(a)) => format!(" AND c.officer_id = {a}"),
        (Some(true), None) => " AND 1 = 0".to_string(),
        _ => String::new(),
    };
    let filter = format!("c.state = $1 AND c.node_id IN ({}){mine}", scope.nodes_sql(Level::Masked));
    let total: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM fraud_cases c WHERE {filter}"))
        .bind(which.code())
        .fetch_one(state.db.reader())
        .await?;
    // PostgreSQL orders by an output name only when it stands alone, so the query is wrapped.
    let order = match which {
        Which::Open => "(q.next_due_at IS NULL), q.next_due_at, q.grade_rank DESC, q.id",
        _ => "q.id DESC",
    };
    let sql = format!(
        "SELECT * FROM ({SELECT} WHERE {filter}) q ORDER BY {order} LIMIT {per_page} OFFSET {}",
        (page - 1) * per_page
    );
    let rows: Vec<Row> = sqlx::query_as(&sql).bind(which.code()).fetch_all(state.db.reader()).await?;
    let viewer = caller.viewer();
    let items: Vec<CaseRow> = rows.into_iter().map(|r| row(r, viewer)).collect();
    if !items.is_empty() {
        let entry = Entry::new(meta, Some(caller), "antifraud.case.list")
            .records(items.iter().map(|c| format!("fraud_case:{}", c.id)))
            .detail(serde_json::json!({"state": which.code(), "mine": q.mine, "page": page}));
        audit::write(state, entry).await?;
    }
    Ok((items, total, page, per_page))
}

fn require_reader(caller: &Caller) -> Result<(), AppError> {
    if caller.has(Permission::PeopleRead) || caller.has(Permission::PeopleReadMasked) {
        Ok(())
    } else {
        Err(AppError::Forbidden("this needs the permission people:read or people:read_masked".into()))
    }
}

/// The case's owning node and the level the caller sees it at; 404 (audited) outside the scope.
pub async fn visible(
    state: &AppState,
    meta: &RequestMeta,
    caller: &Caller,
    id: i64,
    action: &str,
) -> Result<(i64, Level), AppError> {
    let node: Option<i64> = sqlx::query_scalar("SELECT node_id FROM fraud_cases WHERE id = $1")
        .bind(id)
        .fetch_optional(state.db.reader())
        .await?;
    if let Some(node) = node {
        let scope = scope_of(state, caller).await?;
        if let Some(level) = scope.level_at(state, node).await?.filter(|l| *l >= Level::Masked) {
            return Ok((node, level));
        }
    }
    let entry = Entry::new(meta, Some(caller), action)
        .record(format!("fraud_case:{id}"))
        .outcome(AuditOutcome::Denied)
        .detail(serde_json::json!({"reason": "outside_scope_or_missing"}));
    audit::write(state, entry).await?;
    Err(AppError::NotFound)
}

/// One warning of a case, masked.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct WarningRow {
    pub id: i64,
    pub source: String,
    pub upstream_id: String,
    pub event_at: i64,
    pub received_at: i64,
    pub kind: String,
    pub grade: String,
    pub reasons: String,
    pub contacts_count: Option<i64>,
    pub longest_call_s: Option<i64>,
    pub app_installed: Option<i64>,
    pub app_name: Option<String>,
    pub amount_fen: Option<i64>,
    pub flagged_account: Option<String>,
    pub phone_masked: Option<String>,
    #[serde(skip)]
    pub id_head: Option<String>,
    #[serde(skip)]
    pub id_tail: Option<String>,
}

/// A line of the case's timeline.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct TimelineRow {
    pub at: i64,
    pub kind: String,
    pub result: Option<String>,
    pub note: String,
    pub amount_fen: Option<i64>,
    pub who: Option<String>,
}

/// A resident who holds the warning's phone, for a person to choose from.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Candidate {
    pub resident_id: i64,
    pub name: String,
    pub id_number: Option<String>,
    pub grid: Option<String>,
}

/// (resident id, name, ID head, ID tail, grid name)
type CandidateRow = (i64, String, Option<String>, Option<String>, Option<String>);

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CaseDetail {
    pub case: CaseRow,
    pub reasons: Vec<String>,
    pub resident_id: Option<i64>,
    pub amount_protected_fen: Option<i64>,
    pub amount_lost_fen: Option<i64>,
    pub warnings: Vec<WarningRow>,
    pub timeline: Vec<TimelineRow>,
    pub candidates: Vec<Candidate>,
    /// The caller may unmask identifiers (full access and `pii:unmask`).
    pub can_unmask: bool,
    pub can_work: bool,
}

pub async fn detail(state: &AppState, meta: &RequestMeta, caller: &Caller, id: i64) -> Result<CaseDetail, AppError> {
    require_reader(caller)?;
    let (_, level) = visible(state, meta, caller, id, "antifraud.case.read").await?;
    let viewer = caller.viewer();
    let r: Row = sqlx::query_as(&format!("{SELECT} WHERE c.id = $1")).bind(id).fetch_one(state.db.reader()).await?;
    let extra: (String, Option<i64>, Option<i64>, Option<i64>) = sqlx::query_as(
        "SELECT reasons, resident_id, amount_protected_fen, amount_lost_fen FROM fraud_cases WHERE id = $1",
    )
    .bind(id)
    .fetch_one(state.db.reader())
    .await?;
    let warnings: Vec<WarningRow> = sqlx::query_as(
        "SELECT id, source, upstream_id, event_at, received_at, kind, grade, reasons, contacts_count, longest_call_s, \
         app_installed, app_name, amount_fen, flagged_account, phone_masked, id_head, id_tail \
         FROM fraud_warnings WHERE case_id = $1 ORDER BY id",
    )
    .bind(id)
    .fetch_all(state.db.reader())
    .await?;
    let timeline: Vec<TimelineRow> = sqlx::query_as(
        "SELECT e.at, e.kind, e.result, e.note, e.amount_fen, a.name AS who FROM fraud_case_events e \
         LEFT JOIN accounts a ON a.id = e.account_id WHERE e.case_id = $1 ORDER BY e.at, e.id",
    )
    .bind(id)
    .fetch_all(state.db.reader())
    .await?;
    let cands: Vec<CandidateRow> = sqlx::query_as(
        "SELECT r.id, r.name, r.id_head, r.id_tail, g.name FROM fraud_candidates f JOIN residents r ON r.id = f.resident_id \
         LEFT JOIN org_nodes g ON g.id = r.grid_id WHERE f.case_id = $1 ORDER BY r.id",
    )
    .bind(id)
    .fetch_all(state.db.reader())
    .await?;
    let candidates = if r.match_state == MatchKind::Pending.code() {
        cands
            .into_iter()
            .map(|(rid, name, h, t, g)| Candidate {
                resident_id: rid,
                name: shown_name(&name, viewer),
                id_number: masked_id(h.as_deref(), t.as_deref(), viewer),
                grid: g,
            })
            .collect()
    } else {
        Vec::new()
    };
    let entry = Entry::new(meta, Some(caller), "antifraud.case.read")
        .record(format!("fraud_case:{id}"))
        .records(extra.1.map(|r| format!("resident:{r}")));
    audit::write(state, entry).await?;
    let reasons = super::rules::parse_reasons(&extra.0).into_iter().map(|r| r.label(meta.lang).to_string()).collect();
    Ok(CaseDetail {
        case: row(r, viewer),
        reasons,
        resident_id: extra.1,
        amount_protected_fen: extra.2,
        amount_lost_fen: extra.3,
        warnings,
        timeline,
        candidates,
        can_unmask: level == Level::Full && caller.has(Permission::PiiUnmask),
        can_work: caller.has(Permission::WarningsWork),
    })
}
