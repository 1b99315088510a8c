//! One grid's page: where it sits, its team (一格一警 and the rest), the officers linked to it
//! (挂钩), and for whoever manages the grid the forms that add and remove team members.

use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup};

use super::team::{self, Duty, Member};
use crate::app::AppState;
use crate::auth::{Caller, Permission};
use crate::clock::beijing_date;
use crate::web::error::{AppError, AppResult};
use crate::web::extract::{ApiQuery, CsrfFields, PathId};
use crate::web::i18n::Lang;
use crate::web::layout::{csrf, notice_for, render, Page};
use crate::web::middleware::RequestMeta;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/grids/{id}", get(grid_page))
        .route("/grids/{id}/team", post(add_member))
        .route("/grids/{id}/team/{account}/remove", post(remove_member))
}

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Shown {
    saved: Option<u8>,
}

async fn grid_page(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    PathId(id): PathId,
    ApiQuery(q): ApiQuery<Shown>,
) -> AppResult<Html<String>> {
    let notice = match q.saved {
        Some(_) => html! { p.notice role="status" { (meta.lang.t("me.saved")) } },
        None => html! {},
    };
    Ok(Html(markup(&state, &meta, &caller, id, notice).await?.into_string()))
}

/// (code, name, parent's name) of a live grid.
async fn head(state: &AppState, id: i64) -> Result<(String, String, String), AppError> {
    let row: Option<(String, String, Option<String>)> = sqlx::query_as(
        "SELECT n.code, n.name, p.name FROM org_nodes n LEFT JOIN org_nodes p ON p.id = n.parent_id \
         WHERE n.id = $1 AND n.kind = 'grid' AND n.valid_to IS NULL",
    )
    .bind(id)
    .fetch_optional(state.db.reader())
    .await?;
    let (code, name, parent) = row.ok_or(AppError::NotFound)?;
    Ok((code, name, parent.unwrap_or_default()))
}

async fn markup(state: &AppState, meta: &RequestMeta, caller: &Caller, id: i64, notice: Markup) -> AppResult<Markup> {
    caller.require(Permission::OrgRead)?;
    let l = meta.lang;
    // The team first: it is the check that the grid is in the caller's scope (404 otherwise).
    let members = team::members(state, caller, id).await?;
    let (code, name, parent) = head(state, id).await?;
    let manage = team::may_manage(state, caller, id).await?;
    let candidates = if manage { team::candidates(state, caller, id).await? } else { Vec::new() };
    let links: Vec<_> =
        crate::visits::links::links(state, caller, false).await?.into_iter().filter(|k| k.node_id == id).collect();
    let responsible = members.iter().find(|m| m.duty == Duty::Responsible);
    let body = html! {
        h1 #grid-title { (name) }
        (notice)
        dl.facts {
            dt { (l.t("org.code")) } dd { (code) }
            dt { (l.t("org.parent")) } dd { (parent) }
            dt { (l.t("team.duty.responsible")) }
            dd #grid-responsible { @match responsible { Some(m) => { (m.name) }, None => { span.standing.overdue { (l.t("grids.no_responsible")) } } } }
            dt { (l.t("grids.team_size")) } dd #team-size { (members.len()) }
        }
        h2 { (l.t("team.title")) }
        (team_table(l, caller, id, &members, manage))
        @if manage {
            form.stack.card #add-member method="post" action={ "/grids/" (id) "/team" } {
                h3 { (l.t("team.add")) }
                (csrf(caller))
                label { (l.t("team.account"))
                    select name="account_id" required {
                        @for c in &candidates {
                            option value=(c.account_id) {
                                (c.name) @if let Some(p) = &c.police_number { "（" (p) "）" }
                                " · " (c.duties.iter().map(|d| d.label(l)).collect::<Vec<_>>().join("/"))
                            }
                        }
                    }
                }
                label { (l.t("team.duty"))
                    select name="duty" { @for d in Duty::ALL { option value=(d.code()) { (d.label(l)) } } }
                }
                p.muted { (l.t("team.rules")) }
                button type="submit" { (l.t("team.add")) }
            }
        }
        h2 { (l.t("grids.linked")) }
        @if links.is_empty() { p.muted { (l.t("common.none")) } } @else {
            ul #grid-links { @for k in &links { li { (k.officer) } } }
        }
        p {
            a href="/grids" { (l.t("grids.title")) } " · " a href="/map" { (l.t("nav.map")) }
            @if caller.has(Permission::PeopleRead) || caller.has(Permission::PeopleReadMasked) {
                " · " a href={ "/residents?grid_id=" (id) } { (l.t("cov.residents_of")) }
            }
        }
    };
    Ok(render(state, meta, Some(caller), Page { title: l.t("team.title"), active: "/grids", body }))
}

fn team_table(l: Lang, caller: &Caller, grid: i64, members: &[Member], manage: bool) -> Markup {
    html! {
        @if members.is_empty() { p.muted #team-empty { (l.t("team.empty")) } } @else {
            div.table-wrap { table.responsive #team {
                thead { tr { th { (l.t("team.duty")) } th { (l.t("acc.name")) } th { (l.t("acc.police_number")) } th { (l.t("team.since")) } @if manage { th { (l.t("common.actions")) } } } }
                tbody { @for m in members { tr {
                    td data-label=(l.t("team.duty")) { (m.duty.label(l)) }
                    td data-label=(l.t("acc.name")) { (m.name) }
                    td data-label=(l.t("acc.police_number")) { (m.police_number.clone().unwrap_or_default()) }
                    td data-label=(l.t("team.since")) { (beijing_date(m.since)) }
                    @if manage { td data-label=(l.t("common.actions")) {
                        form.inline method="post" action={ "/grids/" (grid) "/team/" (m.account_id) "/remove" } data-confirm=(l.t("team.remove")) {
                            (csrf(caller))
                            button.secondary type="submit" { (l.t("team.remove")) }
                        }
                    } }
                } } }
            } }
        }
    }
}

async fn add_member(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    PathId(id): PathId,
    f: CsrfFields,
) -> AppResult<Response> {
    let account = f.get("account_id").parse::<i64>().ok().filter(|a| *a >= 1);
    let result = match (account, Duty::parse(f.get("duty"))) {
        (None, _) => Err(AppError::invalid("account_id", "choose an account")),
        (_, None) => Err(AppError::invalid("duty", "choose a duty")),
        (Some(a), Some(d)) => team::add(&state, &meta, &caller, id, a, d).await.map(|_| ()),
    };
    after(&state, &meta, &caller, id, result).await
}

async fn remove_member(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    Path((id, account)): Path<(String, String)>,
    _: CsrfFields,
) -> AppResult<Response> {
    let number = |raw: &str, field: &str| {
        raw.parse::<i64>().ok().filter(|v| *v >= 1).ok_or_else(|| AppError::invalid(field, "a positive whole number"))
    };
    let id = number(&id, "id")?;
    let result = team::remove(&state, &meta, &caller, id, number(&account, "account")?).await;
    after(&state, &meta, &caller, id, result).await
}

/// Back to the grid's page: with a notice that it was saved, or the refusal shown above the forms.
async fn after(
    state: &AppState,
    meta: &RequestMeta,
    caller: &Caller,
    id: i64,
    result: Result<(), AppError>,
) -> AppResult<Response> {
    match result {
        Ok(()) => Ok(Redirect::to(&format!("/grids/{id}?saved=1")).into_response()),
        Err(e) => Ok(Html(markup(state, meta, caller, id, notice_for(e)?).await?.into_string()).into_response()),
    }
}
