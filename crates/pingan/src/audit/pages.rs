//! The auditor's search page, its CSV export, and the JSON search route.

use axum::extract::State;
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use maud::html;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::search::{self, Filter, Row, PAGE_SIZE};
use crate::app::AppState;
use crate::auth::api::ErrorBody;
use crate::auth::Caller;
use crate::clock::format_beijing;
use crate::web::error::AppResult;
use crate::web::extract::ApiQuery;
use crate::web::layout::{render, Page};
use crate::web::middleware::RequestMeta;

pub fn routes() -> Router<AppState> {
    Router::new().route("/audit", get(page)).route("/audit/export.csv", get(export))
}

pub fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(search_api))
}

#[derive(serde::Serialize, utoipa::ToSchema)]
struct AuditPage {
    items: Vec<Row>,
    total: i64,
}

/// Searches the audit log (auditors only; the search is itself audited).
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(Filter), security(("bearer" = [])),
    responses((status = 200, body = AuditPage), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn search_api(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    ApiQuery(f): ApiQuery<Filter>,
) -> AppResult<Json<AuditPage>> {
    let (items, total) = search::search(&state, &meta, &caller, &f, PAGE_SIZE).await?;
    Ok(Json(AuditPage { items, total }))
}

async fn page(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    ApiQuery(f): ApiQuery<Filter>,
) -> AppResult<Html<String>> {
    let (rows, total) = search::search(&state, &meta, &caller, &f, PAGE_SIZE).await?;
    let l = meta.lang;
    let v = |o: &Option<String>| o.clone().unwrap_or_default();
    let page_no = f.page.unwrap_or(1);
    let query_without_page = serde_urlencoded::to_string([
        ("actor", v(&f.actor)),
        ("action", v(&f.action)),
        ("record", v(&f.record)),
        ("from", v(&f.from)),
        ("to", v(&f.to)),
    ])
    .unwrap_or_default();
    let body = html! {
        h1 { (l.t("audit.title")) }
        form.filters method="get" action="/audit" {
            label { (l.t("audit.actor")) input name="actor" value=(v(&f.actor)); }
            label { (l.t("audit.action")) input name="action" value=(v(&f.action)) placeholder="auth."; }
            label { (l.t("audit.records")) input name="record" value=(v(&f.record)) placeholder="account:12"; }
            label { (l.t("audit.from")) input type="date" name="from" value=(v(&f.from)); }
            label { (l.t("audit.to")) input type="date" name="to" value=(v(&f.to)); }
            button type="submit" { (l.t("audit.search")) }
            a.button href={ "/audit/export.csv?" (query_without_page) } { (l.t("audit.export")) }
        }
        p.muted { (l.t("common.total")) " " (total) }
        @if rows.is_empty() {
            p { (l.t("audit.empty")) }
        } @else {
            div.table-wrap { table.responsive {
                thead { tr { th { "#" } th { (l.t("audit.at")) } th { (l.t("audit.actor")) } th { (l.t("audit.ip")) } th { (l.t("audit.action")) } th { (l.t("audit.records")) } th { (l.t("audit.outcome")) } th { (l.t("audit.request")) } } }
                tbody { @for r in &rows { tr {
                    td data-label="#" { (r.seq) }
                    td data-label=(l.t("audit.at")) { (format_beijing(r.at)) }
                    td data-label=(l.t("audit.actor")) { (r.actor) }
                    td data-label=(l.t("audit.ip")) { (r.ip) }
                    td data-label=(l.t("audit.action")) { code { (r.action) } }
                    td data-label=(l.t("audit.records")) { (r.records.trim_matches(',')) }
                    td data-label=(l.t("audit.outcome")) { (r.outcome) }
                    td data-label=(l.t("audit.request")) { code { (r.request_id) } }
                } } }
            } }
            div.pager {
                @if page_no > 1 { a href={ "/audit?" (query_without_page) "&page=" (page_no - 1) } { (l.t("common.prev")) } }
                @if page_no * PAGE_SIZE < total { a href={ "/audit?" (query_without_page) "&page=" (page_no + 1) } { (l.t("common.next")) } }
            }
        }
    };
    Ok(Html(
        render(&state, &meta, Some(&caller), Page { title: l.t("audit.title"), active: "/audit", body }).into_string(),
    ))
}

async fn export(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    ApiQuery(f): ApiQuery<Filter>,
) -> AppResult<Response> {
    let (rows, _) = search::search(&state, &meta, &caller, &Filter { page: Some(1), ..f }, 100_000).await?;
    let csv = search::to_csv(&rows, &caller.label, state.clock.now_ms())?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"audit.csv\""),
        ],
        csv,
    )
        .into_response())
}
