//! Recording visits, and the duties done on 挂钩 links (the links themselves are in `links.rs`).

use serde::{Deserialize, Serialize};
use sqlx::FromRow;
use utoipa::ToSchema;

use super::cadence::DutyKind;
use crate::app::AppState;
use crate::audit::{self, Entry};
use crate::auth::{Caller, Permission};
use crate::basedata::{model::check_text, visible, Table};
use crate::jurisdiction::{scope_of, Level};
use crate::web::error::AppError;
use crate::web::middleware::RequestMeta;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum VisitKind {
    /// 入户走访, at a house.
    Household,
    /// 单位检查, at an establishment.
    Inspection,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Finding {
    /// 无异常.
    Nothing,
    /// 安全隐患.
    Hazard,
    /// 矛盾纠纷.
    Dispute,
    /// 需要帮扶.
    NeedsHelp,
}

impl Finding {
    pub const ALL: [Finding; 4] = [Finding::Nothing, Finding::Hazard, Finding::Dispute, Finding::NeedsHelp];

    pub fn code(self) -> &'static str {
        match self {
            Finding::Nothing => "nothing",
            Finding::Hazard => "hazard",
            Finding::Dispute => "dispute",
            Finding::NeedsHelp => "needs_help",
        }
    }

    pub fn parse(s: &str) -> Option<Finding> {
        Finding::ALL.into_iter().find(|f| f.code() == s)
    }

    pub fn label(self, zh: bool) -> &'static str {
        match (self, zh) {
            (Finding::Nothing, true) => "无异常",
            (Finding::Hazard, true) => "安全隐患",
            (Finding::Dispute, true) => "矛盾纠纷",
            (Finding::NeedsHelp, true) => "需要帮扶",
            (Finding::Nothing, false) => "Nothing to note",
            (Finding::Hazard, false) => "Safety hazard",
            (Finding::Dispute, false) => "Dispute",
            (Finding::NeedsHelp, false) => "Needs help",
        }
    }
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VisitInput {
    pub kind: VisitKind,
    /// The house visited (household visits); taken from `resident_id` when only that is given.
    pub house_id: Option<i64>,
    /// The establishment inspected (inspections).
    pub establishment_id: Option<i64>,
    /// The resident met, if the visit was about one person.
    pub resident_id: Option<i64>,
    pub finding: Finding,
    #[serde(default)]
    #[schema(max_length = 500)]
    pub note: String,
}

/// Records a visit made now by the signed-in officer, at the place's current grid.
pub async fn record_visit(
    state: &AppState,
    meta: &RequestMeta,
    caller: &Caller,
    v: &VisitInput,
) -> Result<i64, AppError> {
    caller.require(Permission::BaseDataWrite)?;
    let officer = caller.account_id_or_forbidden()?;
    let note = crate::basedata::model::check_multiline(&v.note, 500).map_err(|r| AppError::invalid("note", r))?;
    let mut house = v.house_id;
    if let Some(r) = v.resident_id {
        visible(state, meta, caller, Table::Resident, r, "resident.view")
            .await
            .map_err(|_| AppError::invalid("resident_id", "no such resident in your jurisdiction"))?;
        let of: Option<i64> = sqlx::query_scalar("SELECT house_id FROM residents WHERE id = $1")
            .bind(r)
            .fetch_one(state.db.reader())
            .await?;
        match (house, of) {
            (None, h) => house = h,
            (Some(a), Some(b)) if a != b => {
                return Err(AppError::invalid("resident_id", "the resident lives in another house"))
            }
            _ => {}
        }
    }
    let (address, grid, node): (i64, Option<i64>, i64) = match (v.kind, house, v.establishment_id) {
        (VisitKind::Household, Some(h), None) => {
            visible(state, meta, caller, Table::House, h, "house.view")
                .await
                .map_err(|_| AppError::invalid("house_id", "no such house in your jurisdiction"))?;
            sqlx::query_as("SELECT a.id, a.grid_id, h.node_id FROM houses h JOIN addresses a ON a.id = h.address_id WHERE h.id = $1")
                .bind(h)
                .fetch_one(state.db.reader())
                .await?
        }
        (VisitKind::Inspection, _, Some(e)) => {
            visible(state, meta, caller, Table::Establishment, e, "establishment.view")
                .await
                .map_err(|_| AppError::invalid("establishment_id", "no such establishment in your jurisdiction"))?;
            sqlx::query_as("SELECT address_id, grid_id, node_id FROM establishments WHERE id = $1")
                .bind(e)
                .fetch_one(state.db.reader())
                .await?
        }
        (VisitKind::Household, _, _) => {
            return Err(AppError::invalid("house_id", "a household visit names the house (or a resident who has one)"))
        }
        (VisitKind::Inspection, _, None) => {
            return Err(AppError::invalid("establishment_id", "an inspection names the establishment"))
        }
    };
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO visits (kind, address_id, house_id, establishment_id, resident_id, officer_id, visited_at, finding, \
         note, grid_id, node_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $7) RETURNING id",
    )
    .bind(if v.kind == VisitKind::Household { "household" } else { "inspection" })
    .bind(address)
    .bind(if v.kind == VisitKind::Household { house } else { None })
    .bind(if v.kind == VisitKind::Inspection { v.establishment_id } else { None })
    .bind(v.resident_id)
    .bind(officer)
    .bind(now)
    .bind(v.finding.code())
    .bind(&note)
    .bind(grid)
    .bind(node)
    .fetch_one(&mut *tx)
    .await?;
    let mut entry = Entry::new(meta, Some(caller), "visit.record").record(format!("visit:{id}"));
    if let Some(h) = house.filter(|_| v.kind == VisitKind::Household) {
        entry = entry.record(Table::House.record(h));
    }
    if let Some(r) = v.resident_id {
        entry = entry.record(Table::Resident.record(r));
    }
    audit::append(&mut tx, &state.db, &state.key, now, &entry).await.map_err(|e| audit::audit_failed(state, e))?;
    tx.commit().await?;
    Ok(id)
}

#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct Visit {
    pub id: i64,
    pub kind: String,
    pub address: String,
    pub house_unit: Option<String>,
    pub establishment: Option<String>,
    pub officer: String,
    pub visited_at: i64,
    pub finding: String,
    pub note: String,
}

/// The newest visits at a house, an establishment or in a grid, within the caller's scope.
pub async fn recent(
    state: &AppState,
    caller: &Caller,
    house: Option<i64>,
    establishment: Option<i64>,
    grid: Option<i64>,
) -> Result<Vec<Visit>, AppError> {
    let scope = scope_of(state, caller).await?;
    let sql = format!(
        "SELECT v.id, v.kind, a.text AS address, h.unit AS house_unit, e.name AS establishment, o.name AS officer, \
         v.visited_at, v.finding, v.note FROM visits v JOIN addresses a ON a.id = v.address_id \
         LEFT JOIN houses h ON h.id = v.house_id LEFT JOIN establishments e ON e.id = v.establishment_id \
         JOIN accounts o ON o.id = v.officer_id WHERE v.node_id IN ({}) AND ($1 = 0 OR v.house_id = $1) \
         AND ($2 = 0 OR v.establishment_id = $2) AND ($3 = 0 OR v.grid_id = $3) ORDER BY v.visited_at DESC, v.id DESC LIMIT 50",
        scope.nodes_sql(Level::Masked)
    );
    Ok(sqlx::query_as(&sql)
        .bind(house.unwrap_or(0))
        .bind(establishment.unwrap_or(0))
        .bind(grid.unwrap_or(0))
        .fetch_all(state.db.reader())
        .await?)
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DutyInput {
    pub kind: DutyKind,
    #[serde(default)]
    #[schema(max_length = 500)]
    pub note: String,
}

/// Records a duty done now on one of the caller's own links.
pub async fn record_duty(
    state: &AppState,
    meta: &RequestMeta,
    caller: &Caller,
    link: i64,
    d: &DutyInput,
) -> Result<i64, AppError> {
    let me = caller.account_id_or_forbidden()?;
    let note = check_text(&d.note, 0, 500).map_err(|r| AppError::invalid("note", r))?;
    let row: Option<(i64, i64)> =
        sqlx::query_as("SELECT account_id, node_id FROM duty_links WHERE id = $1 AND until IS NULL")
            .bind(link)
            .fetch_optional(state.db.reader())
            .await?;
    // Someone else's link answers like a missing one.
    let Some((_, node)) = row.filter(|(owner, _)| *owner == me) else {
        return Err(AppError::NotFound);
    };
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO duties (link_id, kind, done_at, note, node_id, created_at) VALUES ($1, $2, $3, $4, $5, $3) RETURNING id",
    )
    .bind(link)
    .bind(d.kind.code())
    .bind(now)
    .bind(&note)
    .bind(node)
    .fetch_one(&mut *tx)
    .await?;
    let entry =
        Entry::new(meta, Some(caller), "duty.record").record(format!("duty:{id}")).record(format!("duty_link:{link}"));
    audit::append(&mut tx, &state.db, &state.key, now, &entry).await.map_err(|e| audit::audit_failed(state, e))?;
    tx.commit().await?;
    Ok(id)
}
