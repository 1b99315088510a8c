//! The anti-fraud manager's settings: grading rules and deadlines (versioned, audited), and the
//! table that routes unmatched warnings by the region code of their ID number.

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::rules::{Deadlines, GradingRules, DEADLINES, GRADING};
use crate::app::AppState;
use crate::audit::{self, Entry};
use crate::auth::api::ErrorBody;
use crate::auth::{Caller, Permission};
use crate::web::error::{AppError, AppResult};
use crate::web::extract::ApiJson;
use crate::web::middleware::RequestMeta;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_rules, put_rules)).routes(routes!(get_regions, put_regions))
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    pub grading: GradingRules,
    pub deadlines: Deadlines,
}

/// The rules as read back: what was sent, with the version the grading rules are at. A type of
/// its own because a client never sends the version (it is the server's count of changes).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RulesInForce {
    // Not `#[serde(flatten)]`: the schema would become an allOf whose `Rules` half, closed to
    // unknown fields, refuses `version`.
    pub grading: GradingRules,
    pub deadlines: Deadlines,
    /// The grading rules' version (0: the defaults, never changed).
    #[schema(minimum = 0)]
    pub version: i64,
}

pub async fn load(state: &AppState) -> Result<RulesInForce, AppError> {
    let (grading, version) = crate::settings::get_versioned(&state.db, GRADING).await?;
    let deadlines = crate::settings::get(&state.db, DEADLINES).await?;
    Ok(RulesInForce { grading, deadlines, version })
}

/// The grading rules and deadlines now in force.
#[utoipa::path(get, path = "/api/v1/antifraud/rules", tag = "antifraud", security(("bearer" = [])),
    responses((status = 200, body = RulesInForce), (status = 401, body = ErrorBody)))]
async fn get_rules(State(state): State<AppState>, _caller: Caller) -> AppResult<Json<RulesInForce>> {
    Ok(Json(load(&state).await?))
}

/// Changes the rules and deadlines: a new version of each, audited. Warnings already graded
/// keep their grade; new warnings use the new rules.
#[utoipa::path(put, path = "/api/v1/antifraud/rules", tag = "antifraud", request_body = Rules, security(("bearer" = [])),
    responses((status = 200, body = RulesInForce), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn put_rules(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    ApiJson(b): ApiJson<Rules>,
) -> AppResult<Json<RulesInForce>> {
    save(&state, &meta, &caller, &b).await?;
    Ok(Json(load(&state).await?))
}

pub async fn save(state: &AppState, meta: &RequestMeta, caller: &Caller, b: &Rules) -> Result<(), AppError> {
    caller.require(Permission::AntifraudManage)?;
    b.grading.check().map_err(|(f, r)| AppError::invalid(format!("grading.{f}"), r))?;
    b.deadlines.check().map_err(|(f, r)| AppError::invalid(format!("deadlines.{f}"), r))?;
    let current = load(state).await?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let mut changed = Vec::new();
    if b.grading != current.grading {
        crate::settings::set(&mut tx, GRADING, &b.grading, caller.account_id, now).await?;
        changed.push("grading");
    }
    if b.deadlines != current.deadlines {
        crate::settings::set(&mut tx, DEADLINES, &b.deadlines, caller.account_id, now).await?;
        changed.push("deadlines");
    }
    let entry = Entry::new(meta, Some(caller), "antifraud.rules.set").detail(serde_json::json!({
        "changed": changed, "grading": b.grading, "deadlines": b.deadlines,
    }));
    audit::append(&mut tx, &state.db, &state.key, now, &entry).await.map_err(|e| audit::audit_failed(state, e))?;
    tx.commit().await?;
    state.antifraud_settings.clear();
    Ok(())
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
#[serde(deny_unknown_fields)]
pub struct RegionStation {
    /// The first six digits of an ID number (GB/T 2260), e.g. `410702`.
    #[schema(pattern = "^[0-9]{6}$")]
    pub region: String,
    /// The code of the station that takes unmatched warnings of that region.
    #[schema(min_length = 1, max_length = 32)]
    pub station_code: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Regions {
    #[schema(max_items = 5000)]
    pub regions: Vec<RegionStation>,
}

pub async fn regions(state: &AppState) -> Result<Vec<RegionStation>, AppError> {
    Ok(sqlx::query_as(
        "SELECT f.region, n.code AS station_code FROM fraud_region_stations f JOIN org_nodes n ON n.id = f.node_id ORDER BY f.region",
    )
    .fetch_all(state.db.reader())
    .await?)
}

/// Which station takes the warnings that match no resident, by the ID number's region.
#[utoipa::path(get, path = "/api/v1/antifraud/regions", tag = "antifraud", security(("bearer" = [])),
    responses((status = 200, body = Regions), (status = 401, body = ErrorBody)))]
async fn get_regions(State(state): State<AppState>, _caller: Caller) -> AppResult<Json<Regions>> {
    Ok(Json(Regions { regions: regions(&state).await? }))
}

/// Replaces the region table (all or nothing); audited.
#[utoipa::path(put, path = "/api/v1/antifraud/regions", tag = "antifraud", request_body = Regions, security(("bearer" = [])),
    responses((status = 200, body = Regions), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn put_regions(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    ApiJson(b): ApiJson<Regions>,
) -> AppResult<Json<Regions>> {
    save_regions(&state, &meta, &caller, &b.regions).await?;
    Ok(Json(Regions { regions: regions(&state).await? }))
}

pub async fn save_regions(
    state: &AppState,
    meta: &RequestMeta,
    caller: &Caller,
    rows: &[RegionStation],
) -> Result<(), AppError> {
    caller.require(Permission::AntifraudManage)?;
    if rows.len() > 5000 {
        return Err(AppError::invalid("regions", "at most 5000 rows"));
    }
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    sqlx::query("DELETE FROM fraud_region_stations").execute(&mut *tx).await?;
    for (i, r) in rows.iter().enumerate() {
        // The page trims what was typed; the API takes values exactly as its document describes.
        let region = r.region.as_str();
        if region.len() != 6 || !region.bytes().all(|b| b.is_ascii_digit()) {
            return Err(AppError::invalid(format!("regions[{i}].region"), "six digits of GB/T 2260, e.g. 410702"));
        }
        let node: Option<(i64, String)> =
            sqlx::query_as("SELECT id, kind FROM org_nodes WHERE code = $1 AND valid_to IS NULL")
                .bind(&r.station_code)
                .fetch_optional(&mut *tx)
                .await?;
        let node = match node {
            Some((id, kind)) if kind == "station" => id,
            _ => return Err(AppError::invalid(format!("regions[{i}].station_code"), "no live station has this code")),
        };
        let inserted = sqlx::query(
            "INSERT INTO fraud_region_stations (region, node_id, updated_at, updated_by) VALUES ($1, $2, $3, $4) ON CONFLICT (region) DO NOTHING",
        )
        .bind(region)
        .bind(node)
        .bind(now)
        .bind(caller.account_id)
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() == 0 {
            return Err(AppError::invalid(format!("regions[{i}].region"), "this region is listed twice"));
        }
    }
    let entry = Entry::new(meta, Some(caller), "antifraud.regions.set").detail(serde_json::json!({"rows": rows.len()}));
    audit::append(&mut tx, &state.db, &state.key, now, &entry).await.map_err(|e| audit::audit_failed(state, e))?;
    tx.commit().await?;
    Ok(())
}
