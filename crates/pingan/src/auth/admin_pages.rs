//! Pages for the security policy and for integration tokens.

use axum::extract::State;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup};

use super::integration::{self, NewToken, INGEST_PERMISSIONS};
use super::{policy, Caller, Permission};
use crate::app::AppState;
use crate::clock::format_beijing;
use crate::settings::SecurityPolicy;
use crate::web::error::{AppError, AppResult};
use crate::web::extract::{CsrfFields, PathId};
use crate::web::i18n::Lang;
use crate::web::layout::{csrf, notice_for, render, Page};
use crate::web::middleware::RequestMeta;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/security", get(policy_page).post(policy_save))
        .route("/tokens", get(tokens_page).post(token_create))
        .route("/tokens/{id}/revoke", post(token_revoke))
}

async fn policy_page(State(state): State<AppState>, meta: RequestMeta, caller: Caller) -> AppResult<Html<String>> {
    Ok(Html(policy_markup(&state, &meta, &caller, html! {}).await?.into_string()))
}

async fn policy_markup(state: &AppState, meta: &RequestMeta, caller: &Caller, notice: Markup) -> AppResult<Markup> {
    caller.require(Permission::SecurityPolicy)?;
    let l = meta.lang;
    let p = state.security_policy().await?;
    let roles = crate::accounts::roles::all(&state.db).await?;
    let number = |name: &'static str, value: i64| html! { label { code { (name) } input type="number" name=(name) value=(value) required; } };
    let body = html! {
        h1 { (l.t("sec.title")) }
        (notice)
        form.stack.card method="post" action="/security" {
            (csrf(caller))
            h2 { (l.t("sec.mfa")) }
            @for r in &roles {
                label { input type="checkbox" name="mfa_required" value=(r.code) checked[!p.mfa_exempt_roles.contains(&r.code)]; " " (if l == Lang::Zh { &r.name_zh } else { &r.name_en }) }
            }
            (number("lockout_failures", p.lockout_failures))
            (number("lockout_window_minutes", p.lockout_window_minutes))
            (number("lockout_minutes", p.lockout_minutes))
            (number("address_failures", p.address_failures))
            (number("idle_minutes", p.idle_minutes))
            (number("absolute_hours", p.absolute_hours))
            button type="submit" { (l.t("sec.save")) }
        }
    };
    Ok(render(state, meta, Some(caller), Page { title: l.t("sec.title"), active: "/security", body }))
}

async fn policy_save(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    form: CsrfFields,
) -> AppResult<Response> {
    let num = |k: &'static str| form.get(k).parse::<i64>().map_err(|_| AppError::invalid(k, "a whole number"));
    let required = form.all("mfa_required");
    let roles = crate::accounts::roles::all(&state.db).await?;
    let parsed = (|| -> Result<SecurityPolicy, AppError> {
        Ok(SecurityPolicy {
            mfa_exempt_roles: roles
                .iter()
                .filter(|r| !required.contains(&r.code.as_str()))
                .map(|r| r.code.clone())
                .collect(),
            lockout_failures: num("lockout_failures")?,
            lockout_window_minutes: num("lockout_window_minutes")?,
            lockout_minutes: num("lockout_minutes")?,
            address_failures: num("address_failures")?,
            idle_minutes: num("idle_minutes")?,
            absolute_hours: num("absolute_hours")?,
        })
    })();
    let result = match parsed {
        Ok(p) => policy::update(&state, &meta, &caller, p).await.map(|_| ()),
        Err(e) => Err(e),
    };
    let notice = match result {
        Ok(()) => html! { div.ok role="status" { (meta.lang.t("me.saved")) } },
        Err(e) => notice_for(e)?,
    };
    Ok(Html(policy_markup(&state, &meta, &caller, notice).await?.into_string()).into_response())
}

async fn tokens_page(State(state): State<AppState>, meta: RequestMeta, caller: Caller) -> AppResult<Html<String>> {
    Ok(Html(tokens_markup(&state, &meta, &caller, html! {}).await?.into_string()))
}

async fn tokens_markup(state: &AppState, meta: &RequestMeta, caller: &Caller, notice: Markup) -> AppResult<Markup> {
    let l = meta.lang;
    let rows = integration::list(state, caller).await?;
    let body = html! {
        h1 { (l.t("tok.title")) }
        (notice)
        @if rows.is_empty() { p { (l.t("tok.empty")) } } @else {
            div.table-wrap { table.responsive {
                thead { tr { th { (l.t("tok.name")) } th { (l.t("tok.permissions")) } th { (l.t("tok.allow_ips")) } th { (l.t("tok.expires")) } th { (l.t("common.actions")) } } }
                tbody { @for t in &rows { tr {
                    td data-label=(l.t("tok.name")) { (t.name) }
                    td data-label=(l.t("tok.permissions")) { code { (t.permissions) } }
                    td data-label=(l.t("tok.allow_ips")) { (t.allow_ips) }
                    td data-label=(l.t("tok.expires")) { (format_beijing(t.expires_at)) }
                    td data-label=(l.t("common.actions")) {
                        @if t.revoked_at.is_some() { (l.t("tok.revoked")) } @else {
                            form.inline method="post" action={ "/tokens/" (t.id) "/revoke" } data-confirm=(l.t("tok.revoke")) {
                                (csrf(caller)) button.danger type="submit" { (l.t("tok.revoke")) }
                            }
                        }
                    }
                } } }
            } }
        }
        form.stack.card method="post" action="/tokens" {
            (csrf(caller))
            h2 { (l.t("tok.create")) }
            label { (l.t("tok.name")) input name="name" required maxlength="100"; }
            @for p in INGEST_PERMISSIONS { label { input type="checkbox" name="permissions" value=(p.code()); " " code { (p.code()) } } }
            label { (l.t("tok.expires")) input type="date" name="expires" required; }
            label { (l.t("tok.allow_ips")) input name="allow_ips" placeholder="10.1.2.3, 10.1.2.4"; }
            button type="submit" { (l.t("tok.create")) }
        }
    };
    Ok(render(state, meta, Some(caller), Page { title: l.t("tok.title"), active: "/tokens", body }))
}

async fn token_create(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    form: CsrfFields,
) -> AppResult<Response> {
    let l = meta.lang;
    let expires = form.get("expires");
    let result = match crate::clock::parse_beijing(expires) {
        // A date means the end of that day, Beijing time.
        Some(ms) => {
            let input = NewToken {
                name: form.get("name").to_string(),
                permissions: form.all("permissions").into_iter().map(String::from).collect(),
                expires_at: ms + 86_400_000 - 1,
                allow_ips: form
                    .get("allow_ips")
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect(),
            };
            integration::create(&state, &meta, &caller, input).await
        }
        None => Err(AppError::invalid("expires", "a date as YYYY-MM-DD")),
    };
    let notice = match result {
        Ok((_, token)) => {
            html! { div.ok role="status" { p { (l.t("tok.shown_once")) } p.secret id="new-token" { (token) } } }
        }
        Err(e) => notice_for(e)?,
    };
    Ok(Html(tokens_markup(&state, &meta, &caller, notice).await?.into_string()).into_response())
}

async fn token_revoke(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    PathId(id): PathId,
    _: CsrfFields,
) -> AppResult<Response> {
    integration::revoke(&state, &meta, &caller, id).await?;
    Ok(Redirect::to("/tokens").into_response())
}
