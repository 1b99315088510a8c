//! The officer's queue (反诈预警), live: open cases most urgent first with the time left, and
//! a new case appears without reloading (our script listens to the event stream and refetches
//! the list). The case page is in `case_page.rs`, the manager's settings in `rules_page.rs`.

use axum::extract::State;
use axum::response::Html;
use axum::routing::get;
use axum::Router;
use maud::{html, Markup};
use serde::Deserialize;

use super::cases::{self, CaseRow, QueueQuery, Which};
use super::model::Grade;
use crate::app::AppState;
use crate::auth::Caller;
use crate::clock::format_beijing;
use crate::web::error::AppResult;
use crate::web::extract::ApiQuery;
use crate::web::i18n::Lang;
use crate::web::layout::{render, Page};
use crate::web::middleware::RequestMeta;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/antifraud", get(queue_page))
        .route("/antifraud/queue-rows", get(queue_rows))
        .merge(super::case_page::routes())
        .merge(super::rules_page::routes())
        .merge(super::figures_page::routes())
        .merge(super::import_page::routes())
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct QueueParams {
    /// `mine` (default for officers responsible for grids), `all`, `closed`, `history`.
    view: Option<String>,
    page: Option<i64>,
}

impl QueueParams {
    fn view(&self) -> &str {
        match self.view.as_deref() {
            Some(v @ ("mine" | "all" | "closed" | "history")) => v,
            _ => "all",
        }
    }

    fn query(&self) -> QueueQuery {
        let (state, mine) = match self.view() {
            "mine" => (Which::Open, true),
            "closed" => (Which::Closed, false),
            "history" => (Which::History, false),
            _ => (Which::Open, false),
        };
        QueueQuery { state: Some(state), mine: Some(mine), page: self.page, per_page: Some(50) }
    }
}

pub fn grade_badge(l: Lang, g: Grade) -> Markup {
    html! { span class={ "grade " (g.code()) } { (g.label(l)) } }
}

/// "剩余 08:12" / "超时 02:03", kept current by our script from `data-due`.
pub fn time_left(l: Lang, due: Option<i64>, now: i64) -> Markup {
    match due {
        Some(d) => {
            let late = d < now;
            let secs = (d - now).abs() / 1000;
            let text =
                format!("{} {:02}:{:02}", if late { l.t("af.overdue") } else { l.t("af.left") }, secs / 60, secs % 60);
            html! {
                span class={ "due" @if late { " late" } } data-due=(d) data-left=(l.t("af.left")) data-late=(l.t("af.overdue")) { (text) }
            }
        }
        None => html! { span.due.none { "—" } },
    }
}

fn escalation_label(l: Lang, level: i64) -> Option<&'static str> {
    match level {
        1 => Some(l.t("af.escalated_station")),
        2 => Some(l.t("af.escalated_branch")),
        _ => None,
    }
}

fn case_card(l: Lang, c: &CaseRow, now: i64) -> Markup {
    html! {
        li.case data-case=(c.id) {
            a href={ "/antifraud/cases/" (c.id) } {
                (grade_badge(l, c.grade))
                " "
                strong { (c.name.clone().unwrap_or_else(|| l.t("af.no_name").to_string())) }
                " · " (c.kind.label(l))
                @if c.warnings > 1 { " · " (c.warnings) (l.t("af.warnings_n")) }
            }
            div.case-meta {
                @if c.state == "open" { (time_left(l, c.next_due_at, now)) " " }
                @if let Some(e) = escalation_label(l, c.escalation) { span.escalated { (e) } " " }
                @if let Some(o) = c.outcome { span.tag { (o.label(l)) } " " }
                span.muted {
                    (c.grid.clone().or_else(|| c.station.clone()).unwrap_or_else(|| l.t("af.city_queue").to_string()))
                    @if let Some(o) = &c.officer { " · " (o) }
                    " · " (format_beijing(c.opened_at))
                }
            }
        }
    }
}

fn list_markup(l: Lang, items: &[CaseRow], total: i64, now: i64) -> Markup {
    html! {
        p.muted { (l.t("common.total")) " " (total) }
        @if items.is_empty() {
            p #no-cases { (l.t("af.no_cases")) }
        } @else {
            ul.cases { @for c in items { (case_card(l, c, now)) } }
        }
    }
}

async fn queue_page(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    ApiQuery(p): ApiQuery<QueueParams>,
) -> AppResult<Html<String>> {
    let l = meta.lang;
    let now = state.clock.now_ms();
    let (items, total, _, _) = cases::queue(&state, &meta, &caller, &p.query()).await?;
    let view = p.view();
    let tabs = [
        ("mine", "af.view_mine"),
        ("all", "af.view_all"),
        ("closed", "af.view_closed"),
        ("history", "af.view_history"),
    ];
    let live = format!("/antifraud/queue-rows?view={view}");
    let body = html! {
        h1 { (l.t("af.title")) }
        nav.tabs {
            @for (v, key) in tabs {
                a href={ "/antifraud?view=" (v) } class=@if v == view { "on" } { (l.t(key)) }
            }
            a href="/antifraud/figures" { (l.t("fig.title")) }
            @if caller.has(crate::auth::Permission::AntifraudManage) { a href="/antifraud/rules" { (l.t("af.rules")) } }
            @if caller.has(crate::auth::Permission::WarningsWrite) { a href="/antifraud/import" { (l.t("afimp.title")) } }
        }
        div #case-queue data-live=(live) data-now=(now) { (list_markup(l, &items, total, now)) }
        p.muted #queue-status { (l.t("af.live_hint")) }
        script src="/static/antifraud.js" defer {}
    };
    Ok(Html(
        render(&state, &meta, Some(&caller), Page { title: l.t("af.title"), active: "/antifraud", body }).into_string(),
    ))
}

/// The list alone, for the script to swap in when an event says the queue changed.
async fn queue_rows(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    ApiQuery(p): ApiQuery<QueueParams>,
) -> AppResult<Html<String>> {
    let now = state.clock.now_ms();
    let (items, total, _, _) = cases::queue(&state, &meta, &caller, &p.query()).await?;
    Ok(Html(list_markup(meta.lang, &items, total, now).into_string()))
}
