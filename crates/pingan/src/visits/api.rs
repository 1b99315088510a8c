//! JSON routes for visits, 挂钩 duties and per-grid figures.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::links::{self, LinkInput, LinkStanding};
use super::service::{self, DutyInput, Visit, VisitInput};
use super::stats::{self, GridCard, GridStats};
use crate::app::AppState;
use crate::auth::api::ErrorBody;
use crate::auth::{Caller, Permission};
use crate::basedata::api::Created;
use crate::web::error::{AppError, AppResult};
use crate::web::extract::{ApiJson, ApiQuery, PathId};
use crate::web::middleware::RequestMeta;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_visits, record_visit))
        .routes(routes!(grid_stats))
        .routes(routes!(grid_card))
        .routes(routes!(list_links, create_link))
        .routes(routes!(end_link))
        .routes(routes!(record_duty))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct VisitParams {
    #[param(minimum = 1)]
    pub house_id: Option<i64>,
    #[param(minimum = 1)]
    pub establishment_id: Option<i64>,
    #[param(minimum = 1)]
    pub grid_id: Option<i64>,
}

/// The newest 50 visits at a house, an establishment or in a grid.
#[utoipa::path(get, path = "/api/v1/visits", tag = "visits", params(VisitParams), security(("bearer" = [])),
    responses((status = 200, body = [Visit]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn list_visits(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(p): ApiQuery<VisitParams>,
) -> AppResult<Json<Vec<Visit>>> {
    if !(caller.has(Permission::PeopleRead) || caller.has(Permission::PeopleReadMasked)) {
        return Err(AppError::Forbidden("this needs the permission people:read or people:read_masked".into()));
    }
    for (field, v) in [("house_id", p.house_id), ("establishment_id", p.establishment_id), ("grid_id", p.grid_id)] {
        if v.is_some_and(|v| v < 1) {
            return Err(AppError::invalid(field, "must be at least 1"));
        }
    }
    Ok(Json(service::recent(&state, &caller, p.house_id, p.establishment_id, p.grid_id).await?))
}

/// Records a household visit or an establishment inspection made now by the signed-in officer.
#[utoipa::path(post, path = "/api/v1/visits", tag = "visits", request_body = VisitInput, security(("bearer" = [])),
    responses((status = 201, body = Created), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn record_visit(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    ApiJson(b): ApiJson<VisitInput>,
) -> AppResult<(StatusCode, Json<Created>)> {
    let id = service::record_visit(&state, &meta, &caller, &b).await?;
    Ok((StatusCode::CREATED, Json(Created { id })))
}

/// Population, households, visit coverage (90 days), last visit and overdue links per grid.
#[utoipa::path(get, path = "/api/v1/grids/stats", tag = "visits", security(("bearer" = [])),
    responses((status = 200, body = [GridStats]), (status = 401, body = ErrorBody)))]
async fn grid_stats(State(state): State<AppState>, caller: Caller) -> AppResult<Json<Vec<GridStats>>> {
    Ok(Json(stats::by_grid(&state, &caller, None).await?))
}

/// What the map shows for one grid: its responsible officer (phone masked) and its figures.
#[utoipa::path(get, path = "/api/v1/grids/{id}/card", tag = "visits", params(("id" = i64, Path, minimum = 1)), security(("bearer" = [])),
    responses((status = 200, body = GridCard), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn grid_card(State(state): State<AppState>, caller: Caller, PathId(id): PathId) -> AppResult<Json<GridCard>> {
    Ok(Json(stats::card(&state, &caller, id).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LinkParams {
    /// Only the caller's own links.
    pub mine: Option<bool>,
}

/// 挂钩 links with where each stands on contact (weekly), on-site work (monthly) and deeds
/// (quarterly).
#[utoipa::path(get, path = "/api/v1/duty-links", tag = "visits", params(LinkParams), security(("bearer" = [])),
    responses((status = 200, body = [LinkStanding]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn list_links(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(p): ApiQuery<LinkParams>,
) -> AppResult<Json<Vec<LinkStanding>>> {
    Ok(Json(links::links(&state, &caller, p.mine.unwrap_or(false)).await?))
}

/// Links an officer to a village or community (grid or post).
#[utoipa::path(post, path = "/api/v1/duty-links", tag = "visits", request_body = LinkInput, security(("bearer" = [])),
    responses((status = 201, body = Created), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_link(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    ApiJson(b): ApiJson<LinkInput>,
) -> AppResult<(StatusCode, Json<Created>)> {
    let id = links::create_link(&state, &meta, &caller, &b).await?;
    Ok((StatusCode::CREATED, Json(Created { id })))
}

/// Ends a 挂钩 link; its duties stay recorded.
#[utoipa::path(post, path = "/api/v1/duty-links/{id}/end", tag = "visits", params(("id" = i64, Path, minimum = 1)), security(("bearer" = [])),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn end_link(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    PathId(id): PathId,
) -> AppResult<StatusCode> {
    links::end_link(&state, &meta, &caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Records a duty done now on one of the caller's own links.
#[utoipa::path(post, path = "/api/v1/duty-links/{id}/duties", tag = "visits", request_body = DutyInput, params(("id" = i64, Path, minimum = 1)), security(("bearer" = [])),
    responses((status = 201, body = Created), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn record_duty(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    PathId(id): PathId,
    ApiJson(b): ApiJson<DutyInput>,
) -> AppResult<(StatusCode, Json<Created>)> {
    let id = service::record_duty(&state, &meta, &caller, id, &b).await?;
    Ok((StatusCode::CREATED, Json(Created { id })))
}
