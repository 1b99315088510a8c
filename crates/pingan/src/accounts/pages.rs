//! Pages for accounts: the list in one's jurisdiction, creation, and one account's actions.

use axum::extract::State;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup};

use super::service::{self, Change, ListQuery, NewAccount};
use crate::app::AppState;
use crate::auth::{Caller, Permission};
use crate::web::error::{AppError, AppResult};
use crate::web::extract::{ApiQuery, CsrfFields, CsrfForm, PathId};
use crate::web::layout::{csrf, csv_import_card, notice_for, render, row_errors, CsvForm, Page};
use crate::web::middleware::RequestMeta;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/accounts", get(list_page).post(create))
        .route("/accounts/import", post(import))
        .route("/accounts/{id}", get(detail))
        .route("/accounts/{id}/change", post(change))
        .route("/accounts/{id}/unmask", post(unmask))
}

#[derive(serde::Deserialize, Default)]
struct ListParams {
    q: Option<String>,
    page: Option<i64>,
}

const PER_PAGE: i64 = 50;

async fn list_page(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    ApiQuery(p): ApiQuery<ListParams>,
) -> AppResult<Html<String>> {
    list_markup(&state, &meta, &caller, p, html! {}).await.map(|m| Html(m.into_string()))
}

async fn list_markup(
    state: &AppState,
    meta: &RequestMeta,
    caller: &Caller,
    p: ListParams,
    notice: Markup,
) -> AppResult<Markup> {
    let l = meta.lang;
    let page = p.page.unwrap_or(1).clamp(1, 100_000);
    let (rows, total) =
        service::list(state, meta, caller, ListQuery { q: p.q.clone(), page, per_page: PER_PAGE }).await?;
    let q = p.q.clone().unwrap_or_default();
    let tree = if caller.has(Permission::AccountsWrite) {
        crate::org::service::tree(state, caller).await?
    } else {
        Vec::new()
    };
    let body = html! {
        h1 { (l.t("acc.title")) }
        (notice)
        form.filters method="get" action="/accounts" {
            label { (l.t("common.search")) input name="q" value=(q); }
            button type="submit" { (l.t("common.search")) }
        }
        p.muted { (l.t("common.total")) " " (total) }
        @if rows.is_empty() { p { (l.t("acc.empty")) } } @else {
            div.table-wrap { table.responsive {
                thead { tr { th { (l.t("acc.username")) } th { (l.t("acc.name")) } th { (l.t("acc.police_number")) } th { (l.t("acc.phone")) } th { (l.t("acc.node")) } th { (l.t("acc.status")) } } }
                tbody { @for a in &rows { tr {
                    td data-label=(l.t("acc.username")) { a href={ "/accounts/" (a.id) } { (a.username) } }
                    td data-label=(l.t("acc.name")) { (a.name) }
                    td data-label=(l.t("acc.police_number")) { (a.police_number.clone().unwrap_or_default()) }
                    td data-label=(l.t("acc.phone")) { (a.phone.clone().unwrap_or_default()) }
                    td data-label=(l.t("acc.node")) { (a.node_name) }
                    td data-label=(l.t("acc.status")) { (status(l, a.disabled, a.locked)) }
                } } }
            } }
            div.pager {
                @if page > 1 { a href={ "/accounts?q=" (q) "&page=" (page - 1) } { (l.t("common.prev")) } }
                @if page * PER_PAGE < total { a href={ "/accounts?q=" (q) "&page=" (page + 1) } { (l.t("common.next")) } }
            }
        }
        @if caller.has(Permission::AccountsWrite) {
            div.card {
                h2 { (l.t("acc.create")) }
                form.stack method="post" action="/accounts" {
                    (csrf(caller))
                    label { (l.t("acc.username")) input name="username" required maxlength="32"; }
                    label { (l.t("acc.name")) input name="name" required maxlength="50"; }
                    label { (l.t("acc.police_number")) input name="police_number" maxlength="16"; }
                    label { (l.t("acc.phone")) input name="phone" inputmode="tel" maxlength="20"; }
                    label { (l.t("acc.node")) select name="node_id" { @for (n, _) in tree.iter().filter(|(n, _)| !n.is_retired()) { option value=(n.id) { (n.name) } } } }
                    button type="submit" { (l.t("acc.create")) }
                }
            }
            (csv_import_card(caller, l.t("acc.import"), "username,name,police_number,phone,node_code,roles", "/accounts/import", "accounts-csv"))
        }
    };
    Ok(render(state, meta, Some(caller), Page { title: l.t("acc.title"), active: "/accounts", body }))
}

fn status(l: crate::web::i18n::Lang, disabled: bool, locked: bool) -> &'static str {
    if disabled {
        l.t("acc.disabled")
    } else if locked {
        l.t("acc.locked")
    } else {
        l.t("acc.active")
    }
}

#[derive(serde::Deserialize)]
struct CreateForm {
    username: String,
    name: String,
    #[serde(default)]
    police_number: String,
    #[serde(default)]
    phone: String,
    node_id: i64,
}

async fn create(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    CsrfForm(f): CsrfForm<CreateForm>,
) -> AppResult<Response> {
    let l = meta.lang;
    let input = NewAccount {
        username: f.username.trim().to_string(),
        name: f.name,
        police_number: Some(f.police_number),
        phone: Some(f.phone),
        node_id: f.node_id,
        password: None,
        roles: Vec::new(),
    };
    let notice = match service::create(&state, &meta, &caller, input).await {
        Ok((_, temp)) => {
            html! { div.ok role="status" { (l.t("acc.temp_password")) ": " span.secret { (temp.unwrap_or_default()) } } }
        }
        Err(e) => notice_for(e)?,
    };
    Ok(Html(list_markup(&state, &meta, &caller, ListParams::default(), notice).await?.into_string()).into_response())
}

async fn detail(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    PathId(id): PathId,
) -> AppResult<Html<String>> {
    detail_markup(&state, &meta, &caller, id, html! {}).await.map(|m| Html(m.into_string()))
}

async fn detail_markup(
    state: &AppState,
    meta: &RequestMeta,
    caller: &Caller,
    id: i64,
    notice: Markup,
) -> AppResult<Markup> {
    let l = meta.lang;
    let a = service::get(state, meta, caller, id).await?;
    let roles = crate::accounts::roles::all(&state.db).await?;
    let role_names = crate::auth::pages::role_labels(state, l, &a.roles).await?;
    let zh = l == crate::web::i18n::Lang::Zh;
    let body = html! {
        h1 { (a.name) " " span.muted { (a.username) } }
        (notice)
        div.card {
            p { (l.t("acc.police_number")) ": " (a.police_number.clone().unwrap_or_default()) }
            p { (l.t("acc.phone")) ": " span id="phone" { (a.phone.clone().unwrap_or_default()) } }
            p { (l.t("acc.node")) ": " (a.node_name) }
            p { (l.t("acc.roles")) ": " (role_names.join("、")) }
            p { (l.t("acc.status")) ": " (status(l, a.disabled, a.locked)) }
        }
        @if caller.has(Permission::PiiUnmask) && a.phone.is_some() {
            form.stack.card method="post" action={ "/accounts/" (id) "/unmask" } {
                (csrf(caller))
                label { (l.t("acc.reason")) input name="reason" required minlength="4" maxlength="200"; }
                button type="submit" { (l.t("acc.unmask")) }
            }
        }
        @if caller.has(Permission::RolesAssign) && caller.account_id != Some(id) {
            form.stack.card method="post" action={ "/accounts/" (id) "/change" } {
                (csrf(caller))
                input type="hidden" name="action" value="set_roles";
                h2 { (l.t("acc.set_roles")) }
                @for r in &roles {
                    label { input type="checkbox" name="roles" value=(r.code) checked[a.roles.contains(&r.code)]; " " (if zh { &r.name_zh } else { &r.name_en }) }
                }
                button type="submit" { (l.t("acc.set_roles")) }
            }
        }
        @if caller.has(Permission::AccountsWrite) && caller.account_id != Some(id) {
            div.card {
                @for (action, key) in [(if a.disabled { "enable" } else { "disable" }, if a.disabled { "acc.enable" } else { "acc.disable" }), ("unlock", "acc.unlock"), ("reset_password", "me.change_password")] {
                    form.inline method="post" action={ "/accounts/" (id) "/change" } {
                        (csrf(caller)) input type="hidden" name="action" value=(action);
                        button.secondary type="submit" { (l.t(key)) } " "
                    }
                }
            }
        }
        p { a href="/accounts" { (l.t("common.back")) } }
    };
    Ok(render(state, meta, Some(caller), Page { title: &a.name, active: "/accounts", body }))
}

async fn change(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    PathId(id): PathId,
    form: CsrfFields,
) -> AppResult<Response> {
    let c = match form.get("action") {
        "set_roles" => Change::Roles(form.all("roles").into_iter().map(String::from).collect()),
        "disable" => Change::Disabled(true),
        "enable" => Change::Disabled(false),
        "unlock" => Change::Unlock,
        "reset_password" => Change::ResetPassword,
        _ => return Err(AppError::invalid("action", "unknown action")),
    };
    let l = meta.lang;
    let notice = match service::change(&state, &meta, &caller, id, c).await {
        Ok(Some(temp)) => html! { div.ok role="status" { (l.t("acc.temp_password")) ": " span.secret { (temp) } } },
        Ok(None) => return Ok(Redirect::to(&format!("/accounts/{id}")).into_response()),
        Err(e) => notice_for(e)?,
    };
    Ok(Html(detail_markup(&state, &meta, &caller, id, notice).await?.into_string()).into_response())
}

#[derive(serde::Deserialize)]
struct ReasonForm {
    reason: String,
}

async fn unmask(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    PathId(id): PathId,
    CsrfForm(f): CsrfForm<ReasonForm>,
) -> AppResult<Html<String>> {
    let l = meta.lang;
    let notice = match service::unmask_phone(&state, &meta, &caller, id, &f.reason).await {
        Ok(phone) => {
            html! { div.ok role="status" { (l.t("acc.phone")) ": " strong id="phone-full" { (phone.unwrap_or_default()) } } }
        }
        Err(e) => notice_for(e)?,
    };
    Ok(Html(detail_markup(&state, &meta, &caller, id, notice).await?.into_string()))
}

async fn import(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    CsrfForm(f): CsrfForm<CsvForm>,
) -> AppResult<Response> {
    let l = meta.lang;
    let report = super::import::import(&state, &meta, &caller, f.csv.as_bytes()).await?;
    let notice = if report.errors.is_empty() {
        html! { div.ok role="status" {
            p { (l.t("acc.temp_password")) }
            table { @for (u, p) in &report.temporary_passwords { tr { td { (u) } td.secret { (p) } } } }
        } }
    } else {
        row_errors(&report.errors)
    };
    Ok(Html(list_markup(&state, &meta, &caller, ListParams::default(), notice).await?.into_string()).into_response())
}
