//! JSON routes of prevention pushes: the allowlist (system administrator), messages and their
//! delivery log (station), a dead letter sent again.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::service::{self, NewDestination, NewMessage, Queued};
use super::store::{DeliveryView, DestinationView, MessageRow};
use crate::app::AppState;
use crate::auth::api::ErrorBody;
use crate::auth::Caller;
use crate::web::error::AppResult;
use crate::web::extract::{ApiJson, ApiQuery, PathId};
use crate::web::middleware::RequestMeta;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_destinations, add_destination))
        .routes(routes!(disable_destination))
        .routes(routes!(list_messages, send_message))
        .routes(routes!(get_message))
        .routes(routes!(retry_delivery))
}

/// The chat groups on the allowlist in the caller's part of the organisation.
#[utoipa::path(get, path = "/api/v1/push/destinations", tag = "push", security(("bearer" = [])),
    responses((status = 200, body = Vec<DestinationView>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn list_destinations(State(state): State<AppState>, caller: Caller) -> AppResult<Json<Vec<DestinationView>>> {
    Ok(Json(service::destinations(&state, &caller).await?))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Created {
    pub id: i64,
}

/// Puts a chat group's webhook on the allowlist (`push:manage`); audited without its key.
#[utoipa::path(post, path = "/api/v1/push/destinations", tag = "push", request_body = NewDestination, security(("bearer" = [])),
    responses((status = 201, body = Created), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn add_destination(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    ApiJson(b): ApiJson<NewDestination>,
) -> AppResult<(StatusCode, Json<Created>)> {
    let id = service::add_destination(&state, &meta, &caller, &b).await?;
    Ok((StatusCode::CREATED, Json(Created { id })))
}

/// Takes a destination off the allowlist; its pending deliveries fail at their next attempt.
#[utoipa::path(post, path = "/api/v1/push/destinations/{id}/disable", tag = "push", params(("id" = i64, Path, minimum = 1)), security(("bearer" = [])),
    responses((status = 204, description = "disabled"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn disable_destination(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    PathId(id): PathId,
) -> AppResult<StatusCode> {
    service::disable_destination(&state, &meta, &caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MessagesQuery {
    #[param(minimum = 1, maximum = 100000)]
    pub page: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MessagePage {
    pub items: Vec<MessageRow>,
    pub total: i64,
    pub page: i64,
}

/// The outbox: messages sent from the caller's part of the organisation, newest first, 50 a page.
#[utoipa::path(get, path = "/api/v1/push/messages", tag = "push", params(MessagesQuery), security(("bearer" = [])),
    responses((status = 200, body = MessagePage), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn list_messages(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<MessagesQuery>,
) -> AppResult<Json<MessagePage>> {
    let page = q.page.unwrap_or(1);
    if !(1..=100_000).contains(&page) {
        return Err(crate::web::error::AppError::invalid("page", "between 1 and 100000"));
    }
    let (items, total) = service::messages(&state, &caller, page).await?;
    Ok(Json(MessagePage { items, total, page }))
}

/// Sends a prevention message (`push:send`) to the chat groups of the chosen grids: queued at
/// once, delivered by the server with retries for up to 24 hours.
#[utoipa::path(post, path = "/api/v1/push/messages", tag = "push", request_body = NewMessage, security(("bearer" = [])),
    responses((status = 201, body = Queued), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn send_message(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    ApiJson(b): ApiJson<NewMessage>,
) -> AppResult<(StatusCode, Json<Queued>)> {
    Ok((StatusCode::CREATED, Json(service::send(&state, &meta, &caller, &b).await?)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MessageDetail {
    pub message: MessageRow,
    /// Each chat group with its state and the log of every attempt.
    pub deliveries: Vec<DeliveryView>,
}

/// One message with its delivery log.
#[utoipa::path(get, path = "/api/v1/push/messages/{id}", tag = "push", params(("id" = i64, Path, minimum = 1)), security(("bearer" = [])),
    responses((status = 200, body = MessageDetail), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_message(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> AppResult<Json<MessageDetail>> {
    let (message, deliveries) = service::message(&state, &caller, id).await?;
    Ok(Json(MessageDetail { message, deliveries }))
}

/// Sends a dead letter again, with a fresh 24 hours of retries.
#[utoipa::path(post, path = "/api/v1/push/deliveries/{id}/retry", tag = "push", params(("id" = i64, Path, minimum = 1)), security(("bearer" = [])),
    responses((status = 204, description = "queued again"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn retry_delivery(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    PathId(id): PathId,
) -> AppResult<StatusCode> {
    service::retry(&state, &meta, &caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
