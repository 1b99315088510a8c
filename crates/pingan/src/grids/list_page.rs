//! The grids page (网格管理): the caller's grids with their responsible officer and team size,
//! the 一格一警 gaps on their own, pages, and the list as a file. Each grid links to its page,
//! where its team is formed.

use axum::extract::State;
use axum::response::{Html, Response};
use axum::routing::get;
use axum::Router;
use maud::html;

use super::list::{self, PER_PAGE};
use crate::app::AppState;
use crate::auth::Caller;
use crate::web::error::AppResult;
use crate::web::extract::ApiQuery;
use crate::web::layout::{render, Page};
use crate::web::middleware::RequestMeta;

pub fn routes() -> Router<AppState> {
    Router::new().route("/grids", get(grids_page)).route("/grids/export", get(export))
}

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ListParams {
    /// "1": only grids without a responsible officer (the form's checkbox).
    unassigned: Option<String>,
    page: Option<i64>,
}

async fn grids_page(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    ApiQuery(p): ApiQuery<ListParams>,
) -> AppResult<Html<String>> {
    let l = meta.lang;
    let only_gaps = p.unassigned.as_deref().is_some_and(|v| !v.is_empty() && v != "0" && v != "false");
    let page = p.page.unwrap_or(1).max(1);
    let found = list::find(&state, &caller, only_gaps, Some(page)).await?;
    let query = if only_gaps { "unassigned=1&" } else { "" };
    let body = html! {
        h1 { (l.t("grids.title")) }
        p.muted { (l.t("grids.explain")) }
        form.filters method="get" action="/grids" {
            label.check { input type="checkbox" name="unassigned" value="1" checked[only_gaps]; " " (l.t("grids.only_gaps")) }
            button type="submit" { (l.t("common.search")) }
        }
        p #grids-summary {
            (l.t("common.total")) " " (found.total) " · " (l.t("grids.no_responsible")) " "
            a href="/grids?unassigned=1" #gap-count { (found.without_responsible) }
        }
        p { a href={ "/grids/export?" (query) "format=xlsx" } { (l.t("exp.xlsx")) } " · " a href={ "/grids/export?" (query) "format=csv" } { (l.t("exp.csv")) } }
        @if found.items.is_empty() { p { (l.t("grids.empty")) } } @else {
            div.table-wrap { table.responsive #grids {
                thead { tr { th { (l.t("org.code")) } th { (l.t("org.name")) } th { (l.t("org.parent")) } th { (l.t("team.duty.responsible")) } th { (l.t("grids.team_size")) } } }
                tbody { @for g in &found.items { tr {
                    td data-label=(l.t("org.code")) { (g.code) }
                    td data-label=(l.t("org.name")) { a href={ "/grids/" (g.node_id) } { (g.name) } }
                    td data-label=(l.t("org.parent")) { (g.parent.clone().unwrap_or_default()) }
                    td data-label=(l.t("team.duty.responsible")) {
                        @match &g.responsible { Some(n) => { (n) }, None => { span.standing.overdue { (l.t("grids.no_responsible")) } } }
                    }
                    td data-label=(l.t("grids.team_size")) { (g.team_size) }
                } } }
            } }
            div.pager {
                @if page > 1 { a href={ "/grids?" (query) "page=" (page - 1) } rel="prev" { (l.t("common.prev")) } }
                span.muted { (page) " / " (((found.total + PER_PAGE - 1) / PER_PAGE).max(1)) }
                @if page * PER_PAGE < found.total { a href={ "/grids?" (query) "page=" (page + 1) } rel="next" { (l.t("common.next")) } }
            }
        }
    };
    Ok(Html(
        render(&state, &meta, Some(&caller), Page { title: l.t("grids.title"), active: "/grids", body }).into_string(),
    ))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ExportParams {
    format: crate::tabular::Format,
    unassigned: Option<String>,
}

async fn export(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    ApiQuery(p): ApiQuery<ExportParams>,
) -> AppResult<Response> {
    let only_gaps = p.unassigned.as_deref().is_some_and(|v| !v.is_empty() && v != "0" && v != "false");
    list::export(&state, &meta, &caller, p.format, only_gaps).await
}
