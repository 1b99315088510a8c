//! JSON routes for a grid's team: list, add, remove.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::team::{self, Duty, Member};
use crate::app::AppState;
use crate::auth::api::ErrorBody;
use crate::auth::Caller;
use crate::web::error::{AppError, AppResult};
use crate::web::extract::{ApiJson, PathId};
use crate::web::middleware::RequestMeta;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_team, add_member)).routes(routes!(remove_member))
}

/// The grid's team: its responsible officer (一格一警), community officers, auxiliaries, grid
/// workers and volunteers.
#[utoipa::path(get, path = "/api/v1/grids/{id}/team", tag = "grids", params(("id" = i64, Path, minimum = 1)), security(("bearer" = [])),
    responses((status = 200, body = [Member]), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn list_team(State(state): State<AppState>, caller: Caller, PathId(id): PathId) -> AppResult<Json<Vec<Member>>> {
    Ok(Json(team::members(&state, &caller, id).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMember {
    /// An active account of the grid's station whose role fits the duty.
    #[schema(minimum = 1)]
    pub account_id: i64,
    pub duty: Duty,
}

/// Adds a member to the grid's team (needs `teams:assign` or `org:write`, for a grid of your
/// own subtree). A new responsible officer replaces the previous one. Answers the team as it
/// now stands.
#[utoipa::path(post, path = "/api/v1/grids/{id}/team", tag = "grids", request_body = NewMember,
    params(("id" = i64, Path, minimum = 1)), security(("bearer" = [])),
    responses((status = 201, body = [Member]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn add_member(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    PathId(id): PathId,
    ApiJson(b): ApiJson<NewMember>,
) -> AppResult<(StatusCode, Json<Vec<Member>>)> {
    team::add(&state, &meta, &caller, id, b.account_id, b.duty).await?;
    Ok((StatusCode::CREATED, Json(team::members(&state, &caller, id).await?)))
}

/// Takes a member out of the grid's team.
#[utoipa::path(delete, path = "/api/v1/grids/{id}/team/{account_id}", tag = "grids",
    params(("id" = i64, Path, minimum = 1), ("account_id" = i64, Path, minimum = 1)), security(("bearer" = [])),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn remove_member(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    Path((id, account)): Path<(String, String)>,
) -> AppResult<StatusCode> {
    let id_of = |raw: &str, field: &str| match raw.parse::<i64>() {
        Ok(v) if v >= 1 => Ok(v),
        _ => Err(AppError::invalid(field, "a positive whole number")),
    };
    team::remove(&state, &meta, &caller, id_of(&id, "id")?, id_of(&account, "account_id")?).await?;
    Ok(StatusCode::NO_CONTENT)
}
