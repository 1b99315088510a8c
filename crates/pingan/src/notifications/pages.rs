//! The inbox: `/notifications` and its API.

use axum::extract::State;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use maud::{html, Markup};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::Notification;
use crate::app::AppState;
use crate::auth::api::ErrorBody;
use crate::auth::Caller;
use crate::clock::format_beijing;
use crate::web::error::AppResult;
use crate::web::extract::{ApiJson, ApiQuery, CsrfFields};
use crate::web::i18n::Lang;
use crate::web::layout::{csrf, render, Page};
use crate::web::middleware::RequestMeta;

pub fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list)).routes(routes!(mark_read)).routes(routes!(unread))
}

pub fn routes() -> Router<AppState> {
    Router::new().route("/notifications", get(page)).route("/notifications/read", post(read_all))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Only those the caller has not read.
    pub unread: Option<bool>,
}

/// The caller's notifications, newest first (at most 200).
#[utoipa::path(get, path = "/api/v1/notifications", tag = "notifications", params(ListParams), security(("bearer" = [])),
    responses((status = 200, body = [Notification]), (status = 401, body = ErrorBody)))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(p): ApiQuery<ListParams>,
) -> AppResult<Json<Vec<Notification>>> {
    Ok(Json(super::list(&state, &caller, p.unread.unwrap_or(false), 200).await?))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UnreadCount {
    pub unread: i64,
}

/// How many notifications the caller has not read.
#[utoipa::path(get, path = "/api/v1/notifications/unread", tag = "notifications", security(("bearer" = [])),
    responses((status = 200, body = UnreadCount), (status = 401, body = ErrorBody)))]
async fn unread(State(state): State<AppState>, caller: Caller) -> AppResult<Json<UnreadCount>> {
    Ok(Json(UnreadCount { unread: super::unread_count(&state, &caller).await? }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MarkRead {
    /// Everything up to this notification id is marked read.
    #[schema(minimum = 1)]
    pub up_to: i64,
}

/// Marks the caller's notifications read, up to an id.
#[utoipa::path(post, path = "/api/v1/notifications/read", tag = "notifications", request_body = MarkRead, security(("bearer" = [])),
    responses((status = 200, body = UnreadCount), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn mark_read(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(b): ApiJson<MarkRead>,
) -> AppResult<Json<UnreadCount>> {
    if b.up_to < 1 {
        return Err(crate::web::error::AppError::invalid("up_to", "a notification id"));
    }
    super::mark_read(&state, &caller, b.up_to).await?;
    Ok(Json(UnreadCount { unread: super::unread_count(&state, &caller).await? }))
}

/// The sentence a notification says, in the viewer's language, from its kind and payload.
pub fn sentence(l: Lang, n: &Notification) -> String {
    let payload: serde_json::Value = serde_json::from_str(&n.payload).unwrap_or_default();
    let grade =
        payload["grade"].as_str().and_then(crate::antifraud::model::Grade::parse).map(|g| g.label(l)).unwrap_or("");
    match n.kind.as_str() {
        "antifraud.case_assigned" => format!("{} {grade}", l.t("notify.case_assigned")),
        "antifraud.escalated" => {
            let step = if payload["step"] == "visit" { l.t("notify.step_visit") } else { l.t("notify.step_contact") };
            let level = if payload["level"] == 2 { l.t("notify.level_branch") } else { l.t("notify.level_station") };
            format!("{grade} · {step} · {level}")
        }
        "antifraud.handed_over" => l.t("notify.handed_over").to_string(),
        "push.dead" => format!("{} {}", l.t("notify.push_dead"), payload["grid"].as_str().unwrap_or("")),
        other => other.to_string(),
    }
}

async fn page(State(state): State<AppState>, meta: RequestMeta, caller: Caller) -> AppResult<Html<String>> {
    let items = super::list(&state, &caller, false, 200).await?;
    Ok(Html(markup(&state, &meta, &caller, &items).into_string()))
}

fn markup(state: &AppState, meta: &RequestMeta, caller: &Caller, items: &[Notification]) -> Markup {
    let l = meta.lang;
    let newest = items.first().map(|n| n.id).unwrap_or(0);
    let body = html! {
        h1 { (l.t("notify.title")) }
        @if items.is_empty() {
            p.muted #no-notifications { (l.t("notify.none")) }
        } @else {
            @if items.iter().any(|n| !n.read) {
                form method="post" action="/notifications/read" {
                    (csrf(caller))
                    input type="hidden" name="up_to" value=(newest);
                    button type="submit" { (l.t("notify.mark_read")) }
                }
            }
            ul.notifications {
                @for n in items {
                    li class=@if n.read { "read" } @else { "unread" } {
                        span.muted { (format_beijing(n.created_at)) " " }
                        @if let Some(c) = n.case_id {
                            a href={ "/antifraud/cases/" (c) } { (sentence(l, n)) }
                        } @else {
                            (sentence(l, n))
                        }
                    }
                }
            }
        }
    };
    render(state, meta, Some(caller), Page { title: l.t("notify.title"), active: "/notifications", body })
}

async fn read_all(State(state): State<AppState>, caller: Caller, f: CsrfFields) -> AppResult<Response> {
    let up_to: i64 =
        f.get("up_to").parse().map_err(|_| crate::web::error::AppError::invalid("up_to", "a notification id"))?;
    super::mark_read(&state, &caller, up_to).await?;
    Ok(Redirect::to("/notifications").into_response())
}
