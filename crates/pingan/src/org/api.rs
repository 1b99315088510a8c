//! JSON routes for the organisation tree.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::import::{self, ImportReport};
use super::model::{Kind, Node};
use super::service::{self, NewNode};
use super::store::HistoryRow;
use crate::app::AppState;
use crate::audit::{self, Entry};
use crate::auth::api::ErrorBody;
use crate::auth::{Caller, Permission};
use crate::web::error::{AppError, AppResult};
use crate::web::extract::{ApiJson, PathId};
use crate::web::middleware::RequestMeta;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_nodes, create_node))
        .routes(routes!(get_node))
        .routes(routes!(rename_node))
        .routes(routes!(move_node))
        .routes(routes!(retire_node))
        .routes(routes!(import_nodes))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NodeOut {
    #[serde(flatten)]
    pub node: Node,
    /// Levels below the caller's own unit.
    pub depth: i64,
}

/// The caller's part of the organisation, root first.
#[utoipa::path(get, path = "/api/v1/org/nodes", tag = "org", security(("bearer" = [])),
    responses((status = 200, body = [NodeOut]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn list_nodes(State(state): State<AppState>, caller: Caller) -> AppResult<Json<Vec<NodeOut>>> {
    let nodes = service::tree(&state, &caller).await?;
    Ok(Json(nodes.into_iter().map(|(node, depth)| NodeOut { node, depth }).collect()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateNode {
    #[schema(min_length = 1, max_length = 32, pattern = "^[A-Za-z0-9_-]+$")]
    pub code: String,
    pub kind: Kind,
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    #[schema(minimum = 1)]
    pub parent_id: i64,
    /// Defaults to today (Beijing).
    #[schema(format = Date)]
    pub valid_from: Option<String>,
}

/// Creates a unit under one in the caller's jurisdiction.
#[utoipa::path(post, path = "/api/v1/org/nodes", tag = "org", request_body = CreateNode, security(("bearer" = [])),
    responses((status = 201, body = Node), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_node(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    ApiJson(body): ApiJson<CreateNode>,
) -> AppResult<(StatusCode, Json<Node>)> {
    let input = NewNode {
        code: body.code,
        kind: body.kind.code().to_string(),
        name: body.name,
        parent_id: Some(body.parent_id),
        valid_from: body.valid_from,
    };
    let node = service::create(&state, &meta, &caller, input).await?;
    Ok((StatusCode::CREATED, Json(node)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NodeDetail {
    pub node: Node,
    pub history: Vec<HistoryRow>,
}

/// One unit with its history.
#[utoipa::path(get, path = "/api/v1/org/nodes/{id}", tag = "org", security(("bearer" = [])),
    params(("id" = i64, Path, minimum = 1)),
    responses((status = 200, body = NodeDetail), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_node(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    PathId(id): PathId,
) -> AppResult<Json<NodeDetail>> {
    let (node, history) = service::get(&state, &meta, &caller, id).await?;
    Ok(Json(NodeDetail { node, history }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rename {
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
}

/// Renames a unit; the old name stays in its history.
#[utoipa::path(post, path = "/api/v1/org/nodes/{id}/rename", tag = "org", request_body = Rename, security(("bearer" = [])),
    params(("id" = i64, Path, minimum = 1)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn rename_node(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    PathId(id): PathId,
    ApiJson(body): ApiJson<Rename>,
) -> AppResult<StatusCode> {
    service::rename(&state, &meta, &caller, id, &body.name).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Move {
    #[schema(minimum = 1)]
    pub parent_id: i64,
}

/// Moves a unit and its subtree under another unit; the move is kept in its history.
#[utoipa::path(post, path = "/api/v1/org/nodes/{id}/move", tag = "org", request_body = Move, security(("bearer" = [])),
    params(("id" = i64, Path, minimum = 1)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn move_node(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    PathId(id): PathId,
    ApiJson(body): ApiJson<Move>,
) -> AppResult<StatusCode> {
    service::move_node(&state, &meta, &caller, id, body.parent_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Retire {
    /// Defaults to today (Beijing).
    #[schema(format = Date)]
    pub valid_to: Option<String>,
}

/// Retires a unit; refused while units or accounts remain under it.
#[utoipa::path(post, path = "/api/v1/org/nodes/{id}/retire", tag = "org", request_body = Retire, security(("bearer" = [])),
    params(("id" = i64, Path, minimum = 1)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn retire_node(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    PathId(id): PathId,
    ApiJson(body): ApiJson<Retire>,
) -> AppResult<StatusCode> {
    service::retire(&state, &meta, &caller, id, body.valid_to).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Imports units from CSV (`code,kind,name,parent_code,valid_from`); all rows or none.
#[utoipa::path(post, path = "/api/v1/org/import", tag = "org", request_body(content = String, content_type = "text/csv"), security(("bearer" = [])),
    responses((status = 200, body = ImportReport), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ImportReport)))]
async fn import_nodes(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> AppResult<(StatusCode, Json<ImportReport>)> {
    let is_csv =
        headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("text/csv"));
    if !is_csv {
        return Err(AppError::UnsupportedMediaType);
    }
    let report = import_org(&state, &meta, &caller, &body).await?;
    let status = if report.errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    Ok((status, Json(report)))
}

/// Runs an import for a signed-in caller: commits only when every row is good.
pub async fn import_org(
    state: &AppState,
    meta: &RequestMeta,
    caller: &Caller,
    bytes: &[u8],
) -> Result<ImportReport, AppError> {
    caller.require(Permission::OrgWrite)?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let report = import::apply(&mut tx, caller.account_id, Some(caller.node_id), bytes, now).await?;
    if !report.errors.is_empty() {
        tx.rollback().await?;
        return Ok(report);
    }
    let entry = Entry::new(meta, Some(caller), "org.import")
        .records(report.touched.iter().map(|id| format!("node:{id}")))
        .detail(serde_json::json!({"created": report.created, "updated": report.updated}));
    audit::append(&mut tx, &state.db, &state.key, now, &entry).await.map_err(|e| audit::audit_failed(state, e))?;
    for id in &report.touched {
        service::publish_change(&mut tx, state, *id, "org.import", now).await?;
    }
    tx.commit().await?;
    crate::events::wake(state);
    Ok(report)
}
