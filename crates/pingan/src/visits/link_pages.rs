//! 挂钩安排: the station head's page for the links of 全警挂钩村居. Link an officer to a village
//! or community (a grid or post), see every live link with where it stands, end one.

use axum::extract::State;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup};

use super::cadence::{DutyKind, Standing};
use super::links::{self, LinkInput};
use crate::app::AppState;
use crate::auth::{Caller, Permission};
use crate::clock::beijing_date;
use crate::web::error::{AppError, AppResult};
use crate::web::extract::{ApiQuery, CsrfFields, PathId};
use crate::web::i18n::Lang;
use crate::web::layout::{csrf, notice_for, render, Page};
use crate::web::middleware::RequestMeta;

pub fn routes() -> Router<AppState> {
    Router::new().route("/duty-links", get(links_page).post(create)).route("/duty-links/{id}/end", post(end))
}

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Shown {
    saved: Option<u8>,
}

async fn links_page(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    ApiQuery(q): ApiQuery<Shown>,
) -> AppResult<Html<String>> {
    let notice = match q.saved {
        Some(_) => html! { p.notice role="status" { (meta.lang.t("me.saved")) } },
        None => html! {},
    };
    Ok(Html(markup(&state, &meta, &caller, notice).await?.into_string()))
}

fn standing(l: Lang, s: Standing) -> Markup {
    let (key, class) = match s {
        Standing::Done => ("duty.done", "ok"),
        Standing::Due => ("duty.due", "due"),
        Standing::Overdue => ("duty.overdue", "overdue"),
    };
    html! { span class={ "standing " (class) } { (l.t(key)) } }
}

async fn markup(state: &AppState, meta: &RequestMeta, caller: &Caller, notice: Markup) -> AppResult<Markup> {
    caller.require(Permission::DutiesAssign)?;
    let l = meta.lang;
    let zh = l == Lang::Zh;
    let officers = links::officers(state, caller).await?;
    let villages = links::villages(state, caller).await?;
    let live = links::links(state, caller, false).await?;
    let body = html! {
        h1 { (l.t("links.title")) }
        (notice)
        p.muted { (l.t("duty.cadence")) }
        form.stack.card #new-link method="post" action="/duty-links" {
            h2 { (l.t("links.new")) }
            (csrf(caller))
            label { (l.t("duty.officer"))
                select name="account_id" required {
                    @for (id, name, number, unit) in &officers {
                        option value=(id) { (name) @if let Some(n) = number.as_deref().filter(|n| !n.is_empty()) { "（" (n) "）" } " · " (unit) }
                    }
                }
            }
            label { (l.t("duty.village"))
                select name="node_id" required {
                    @for (id, code, name) in &villages { option value=(id) { (name) " · " (code) } }
                }
            }
            button type="submit" { (l.t("links.create")) }
        }
        h2 { (l.t("links.live")) " (" (live.len()) ")" }
        @if live.is_empty() { p.muted { (l.t("links.none")) } } @else {
            div.table-wrap { table.responsive #links {
                thead { tr {
                    th { (l.t("duty.officer")) } th { (l.t("duty.village")) } th { (l.t("links.since")) }
                    @for k in DutyKind::ALL { th { (k.label(zh)) } }
                    th { (l.t("common.actions")) }
                } }
                tbody { @for k in &live { tr {
                    td data-label=(l.t("duty.officer")) { (k.officer) }
                    td data-label=(l.t("duty.village")) { (k.village) }
                    td data-label=(l.t("links.since")) { (beijing_date(k.since)) }
                    td data-label=(DutyKind::Contact.label(zh)) { (standing(l, k.contact)) }
                    td data-label=(DutyKind::OnSite.label(zh)) { (standing(l, k.on_site)) }
                    td data-label=(DutyKind::Deed.label(zh)) { (standing(l, k.deed)) }
                    td data-label=(l.t("common.actions")) {
                        form.inline method="post" action={ "/duty-links/" (k.id) "/end" } data-confirm=(l.t("links.end_confirm")) {
                            (csrf(caller))
                            button.secondary type="submit" { (l.t("links.end")) }
                        }
                    }
                } } }
            } }
        }
    };
    Ok(render(state, meta, Some(caller), Page { title: l.t("links.title"), active: "/duty-links", body }))
}

fn id_field(f: &CsrfFields, name: &str) -> Result<i64, AppError> {
    f.get(name).parse::<i64>().ok().filter(|v| *v >= 1).ok_or_else(|| AppError::invalid(name, "choose one"))
}

async fn create(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    f: CsrfFields,
) -> AppResult<Response> {
    let result = match (id_field(&f, "account_id"), id_field(&f, "node_id")) {
        (Ok(account_id), Ok(node_id)) => {
            links::create_link(&state, &meta, &caller, &LinkInput { account_id, node_id }).await.map(|_| ())
        }
        (Err(e), _) | (_, Err(e)) => Err(e),
    };
    after(&state, &meta, &caller, result).await
}

async fn end(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    PathId(id): PathId,
    _: CsrfFields,
) -> AppResult<Response> {
    let result = links::end_link(&state, &meta, &caller, id).await;
    after(&state, &meta, &caller, result).await
}

async fn after(
    state: &AppState,
    meta: &RequestMeta,
    caller: &Caller,
    result: Result<(), AppError>,
) -> AppResult<Response> {
    match result {
        Ok(()) => Ok(Redirect::to("/duty-links?saved=1").into_response()),
        Err(e) => Ok(Html(markup(state, meta, caller, notice_for(e)?).await?.into_string()).into_response()),
    }
}
