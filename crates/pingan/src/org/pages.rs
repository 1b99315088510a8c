//! Pages for the organisation tree: the tree, create, rename, move, retire, import.

use axum::extract::State;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup};

use super::service::{self, NewNode};
use crate::app::AppState;
use crate::auth::{Caller, Permission};
use crate::web::error::{AppError, AppResult};
use crate::web::extract::{CsrfForm, PathId};
use crate::web::layout::{csrf, csv_import_card, notice_for, render, row_errors, CsvForm, Page};
use crate::web::middleware::RequestMeta;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/org", get(tree_page).post(create))
        .route("/org/import", post(import))
        .route("/org/{id}", get(node_page))
        .route("/org/{id}/rename", post(rename))
        .route("/org/{id}/move", post(move_node))
        .route("/org/{id}/retire", post(retire))
}

async fn tree_page(State(state): State<AppState>, meta: RequestMeta, caller: Caller) -> AppResult<Html<String>> {
    tree_markup(&state, &meta, &caller, html! {}).await.map(|m| Html(m.into_string()))
}

async fn tree_markup(state: &AppState, meta: &RequestMeta, caller: &Caller, notice: Markup) -> AppResult<Markup> {
    let l = meta.lang;
    let nodes = service::tree(state, caller).await?;
    let can_write = caller.has(Permission::OrgWrite);
    let body = html! {
        h1 { (l.t("org.title")) }
        (notice)
        @if nodes.is_empty() { p { (l.t("org.empty")) } } @else {
            div.table-wrap { table.responsive {
                thead { tr { th { (l.t("org.name")) } th { (l.t("org.code")) } th { (l.t("org.kind")) } th { (l.t("org.valid_from")) } } }
                tbody { @for (n, depth) in &nodes { tr {
                    td data-label=(l.t("org.name")) class={ "tree-depth-" ((*depth).min(4)) } {
                        a href={ "/org/" (n.id) } { (n.name) }
                        @if n.is_retired() { " " span.muted { "(" (l.t("org.retired")) ")" } }
                    }
                    td data-label=(l.t("org.code")) { code { (n.code) } }
                    td data-label=(l.t("org.kind")) { (l.t(&format!("kind.{}", n.kind))) }
                    td data-label=(l.t("org.valid_from")) { (n.valid_from) }
                } } }
            } }
        }
        @if can_write {
            div.card {
                h2 { (l.t("org.create")) }
                form.stack method="post" action="/org" {
                    (csrf(caller))
                    label { (l.t("org.code")) input name="code" required maxlength="32"; }
                    label { (l.t("org.name")) input name="name" required maxlength="100"; }
                    label { (l.t("org.kind")) select name="kind" { @for k in super::Kind::ALL.iter().skip(1) { option value=(k.code()) { (l.t(&format!("kind.{}", k.code()))) } } } }
                    label { (l.t("org.parent")) select name="parent_id" { @for (n, _) in nodes.iter().filter(|(n, _)| !n.is_retired()) { option value=(n.id) { (n.name) " (" (n.code) ")" } } } }
                    button type="submit" { (l.t("org.create")) }
                }
            }
            (csv_import_card(caller, l.t("org.import"), "code,kind,name,parent_code,valid_from", "/org/import", "org-csv"))
        }
    };
    Ok(render(state, meta, Some(caller), Page { title: l.t("org.title"), active: "/org", body }))
}

#[derive(serde::Deserialize)]
struct CreateForm {
    code: String,
    name: String,
    kind: String,
    parent_id: i64,
}

async fn create(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    CsrfForm(f): CsrfForm<CreateForm>,
) -> AppResult<Response> {
    let input = NewNode { code: f.code, kind: f.kind, name: f.name, parent_id: Some(f.parent_id), valid_from: None };
    match service::create(&state, &meta, &caller, input).await {
        Ok(n) => Ok(Redirect::to(&format!("/org/{}", n.id)).into_response()),
        Err(e) => show_error(&state, &meta, &caller, e).await,
    }
}

async fn show_error(state: &AppState, meta: &RequestMeta, caller: &Caller, e: AppError) -> AppResult<Response> {
    let notice = notice_for(e)?;
    Ok(Html(tree_markup(state, meta, caller, notice).await?.into_string()).into_response())
}

async fn import(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    CsrfForm(f): CsrfForm<CsvForm>,
) -> AppResult<Response> {
    let report = super::api::import_org(&state, &meta, &caller, f.csv.as_bytes()).await?;
    let notice = if report.errors.is_empty() {
        html! { div.ok role="status" { "+" (report.created) " / ~" (report.updated) } }
    } else {
        row_errors(&report.errors)
    };
    Ok(Html(tree_markup(&state, &meta, &caller, notice).await?.into_string()).into_response())
}

async fn node_page(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    PathId(id): PathId,
) -> AppResult<Html<String>> {
    let l = meta.lang;
    let (node, history) = service::get(&state, &meta, &caller, id).await?;
    let nodes = service::tree(&state, &caller).await?;
    let body = html! {
        h1 { (node.name) " " code { (node.code) } }
        div.card {
            p { (l.t("org.kind")) ": " (l.t(&format!("kind.{}", node.kind))) }
            p { (l.t("org.valid_from")) ": " (node.valid_from) }
            @if let Some(t) = &node.valid_to { p { (l.t("org.valid_to")) ": " (t) } }
        }
        @if caller.has(Permission::OrgWrite) && !node.is_retired() {
            div.card {
                form.stack method="post" action={ "/org/" (id) "/rename" } {
                    (csrf(&caller)) label { (l.t("org.rename")) input name="name" value=(node.name) required maxlength="100"; }
                    button type="submit" { (l.t("org.rename")) }
                }
                form.stack method="post" action={ "/org/" (id) "/move" } {
                    (csrf(&caller)) label { (l.t("org.move")) select name="parent_id" { @for (n, _) in nodes.iter().filter(|(n, _)| n.id != id && !n.is_retired()) { option value=(n.id) selected[Some(n.id) == node.parent_id] { (n.name) } } } }
                    button type="submit" { (l.t("org.move")) }
                }
                form method="post" action={ "/org/" (id) "/retire" } data-confirm=(l.t("org.retire")) {
                    (csrf(&caller)) button.danger type="submit" { (l.t("org.retire")) }
                }
            }
        }
        h2 { (l.t("org.history")) }
        ul { @for h in &history { li { (crate::clock::format_beijing(h.at)) " " (h.change) " " (h.old_value.clone().unwrap_or_default()) " → " (h.new_value.clone().unwrap_or_default()) } } }
        p { a href="/org" { (l.t("common.back")) } }
    };
    Ok(Html(render(&state, &meta, Some(&caller), Page { title: &node.name, active: "/org", body }).into_string()))
}

#[derive(serde::Deserialize)]
struct NameForm {
    name: String,
}
#[derive(serde::Deserialize)]
struct ParentForm {
    parent_id: i64,
}

async fn rename(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    PathId(id): PathId,
    CsrfForm(f): CsrfForm<NameForm>,
) -> AppResult<Response> {
    after(&state, &meta, &caller, id, service::rename(&state, &meta, &caller, id, &f.name).await).await
}

async fn move_node(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    PathId(id): PathId,
    CsrfForm(f): CsrfForm<ParentForm>,
) -> AppResult<Response> {
    after(&state, &meta, &caller, id, service::move_node(&state, &meta, &caller, id, f.parent_id).await).await
}

async fn retire(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    PathId(id): PathId,
    CsrfForm(_): CsrfForm<serde_json::Value>,
) -> AppResult<Response> {
    after(&state, &meta, &caller, id, service::retire(&state, &meta, &caller, id, None).await).await
}

async fn after(
    state: &AppState,
    meta: &RequestMeta,
    caller: &Caller,
    id: i64,
    r: Result<(), AppError>,
) -> AppResult<Response> {
    match r {
        Ok(()) => Ok(Redirect::to(&format!("/org/{id}")).into_response()),
        Err(e) => show_error(state, meta, caller, e).await,
    }
}
