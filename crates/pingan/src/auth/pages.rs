//! Pages: sign-in (with the system-use notice), sign-out, language switch, the home page that
//! fits the role, and "my account" (password change, second-factor enrolment).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup};

use super::login::{self, Credentials};
use super::session::{self, Kind};
use super::{mfa, Caller, MaybeCaller, Permission};
use crate::app::AppState;
use crate::web::error::{AppError, AppResult};
use crate::web::extract::{check_csrf, parse_form, ApiQuery, CsrfForm};
use crate::web::i18n::Lang;
use crate::web::layout::{csrf, notice_for, render, trusted_svg, Page};
use crate::web::middleware::RequestMeta;

const LOGIN_CSRF: &str = "pingan_login_csrf";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/login", get(login_page).post(login_submit))
        .route("/logout", post(logout))
        .route("/lang", get(switch_lang))
        .route("/me", get(me_page))
        .route("/me/password", post(change_password))
        .route("/me/mfa/start", post(mfa_start))
        .route("/me/mfa/confirm", post(mfa_confirm))
}

fn cookie(state: &AppState, name: &str, value: &str, max_age: Option<i64>) -> HeaderValue {
    let secure = if state.config.server.secure_cookies { "; Secure" } else { "" };
    let age = max_age.map(|a| format!("; Max-Age={a}")).unwrap_or_default();
    HeaderValue::from_str(&format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict{secure}{age}"))
        .expect("BUG: cookie values are URL-safe base64")
}

#[derive(serde::Deserialize, Default)]
struct LoginQuery {
    next: Option<String>,
    failed: Option<String>,
}

async fn login_page(State(state): State<AppState>, meta: RequestMeta, ApiQuery(q): ApiQuery<LoginQuery>) -> Response {
    let (token, _) = session::new_token("");
    let page = login_markup(&state, &meta, &token, q.next.as_deref().unwrap_or("/"), q.failed.as_deref());
    let mut resp = Html(page.into_string()).into_response();
    resp.headers_mut().append(header::SET_COOKIE, cookie(&state, LOGIN_CSRF, &token, Some(3600)));
    resp
}

fn login_markup(state: &AppState, meta: &RequestMeta, csrf_token: &str, next: &str, failed: Option<&str>) -> Markup {
    let l = meta.lang;
    let body = html! {
        div.login.card {
            h1 { (l.t("login.title")) }
            div.notice role="note" { (l.t("login.notice")) }
            @match failed {
                Some("rate") => div.error role="alert" { (l.t("login.rate_limited")) },
                Some(_) => div.error role="alert" { (l.t("login.failed")) },
                None => {},
            }
            form.stack method="post" action="/login" {
                input type="hidden" name="csrf" value=(csrf_token);
                input type="hidden" name="next" value=(next);
                label for="username" { (l.t("login.username")) }
                input id="username" name="username" autocomplete="username" required autofocus;
                label for="password" { (l.t("login.password")) }
                input id="password" name="password" type="password" autocomplete="current-password" required;
                label for="totp" { (l.t("login.totp")) }
                input id="totp" name="totp" inputmode="numeric" autocomplete="one-time-code";
                button type="submit" id="sign-in" { (l.t("login.submit")) }
            }
        }
    };
    render(state, meta, None, Page { title: l.t("login.title"), active: "", body })
}

#[derive(serde::Deserialize)]
struct LoginForm {
    username: String,
    password: String,
    #[serde(default)]
    totp: String,
    #[serde(default)]
    next: String,
}

/// Only same-site paths: an open redirect after sign-in would hand a phishing page the session.
fn safe_next(next: &str) -> &str {
    if next.starts_with('/') && !next.starts_with("//") && !next.contains('\\') {
        next
    } else {
        "/"
    }
}

async fn login_submit(
    State(state): State<AppState>,
    meta: RequestMeta,
    headers: HeaderMap,
    body: Bytes,
) -> AppResult<Response> {
    let expected = super::caller::cookie(&headers, LOGIN_CSRF).unwrap_or("").to_string();
    if expected.is_empty() {
        return Err(AppError::Forbidden("the sign-in form has expired; reload the page".into()));
    }
    check_csrf(&body, &expected)?;
    let form: LoginForm = parse_form(&body)?;
    let creds = Credentials {
        username: form.username.trim(),
        password: &form.password,
        second_factor: Some(form.totp.as_str()).filter(|s| !s.trim().is_empty()),
    };
    let next = safe_next(&form.next).to_string();
    match login::sign_in(&state, &meta, creds, Kind::Web).await {
        Ok(signed) => {
            let to = if signed.restriction.is_some() { "/me".to_string() } else { next };
            let mut resp = Redirect::to(&to).into_response();
            resp.headers_mut().append(header::SET_COOKIE, cookie(&state, session::COOKIE, &signed.session.token, None));
            resp.headers_mut().append(header::SET_COOKIE, cookie(&state, LOGIN_CSRF, "", Some(0)));
            Ok(resp)
        }
        Err(AppError::InvalidCredentials) => {
            Ok(Redirect::to(&format!("/login?failed=1&next={}", crate::web::middleware::urlencode(&next)))
                .into_response())
        }
        Err(AppError::RateLimited) => Ok(Redirect::to("/login?failed=rate").into_response()),
        Err(e) => Err(e),
    }
}

async fn logout(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    CsrfForm(_): CsrfForm<serde_json::Value>,
) -> AppResult<Response> {
    login::sign_out(&state, &meta, &caller).await?;
    let mut resp = Redirect::to("/login").into_response();
    resp.headers_mut().append(header::SET_COOKIE, cookie(&state, session::COOKIE, "", Some(0)));
    Ok(resp)
}

#[derive(serde::Deserialize)]
struct LangQuery {
    to: String,
    back: Option<String>,
}

async fn switch_lang(State(state): State<AppState>, ApiQuery(q): ApiQuery<LangQuery>) -> Response {
    let value = if q.to == "en" { "en" } else { "zh" };
    let mut resp = Redirect::to(safe_next(q.back.as_deref().unwrap_or("/"))).into_response();
    // A preference, not a secret: a year, readable by no script all the same.
    resp.headers_mut().append(header::SET_COOKIE, cookie(&state, "lang", value, Some(31_536_000)));
    resp
}

async fn home(
    State(state): State<AppState>,
    meta: RequestMeta,
    MaybeCaller(caller): MaybeCaller,
) -> AppResult<Response> {
    let Some(caller) = caller else {
        return Ok(Redirect::to("/login").into_response());
    };
    let l = meta.lang;
    let node_name = crate::org::service::name_of(&state, caller.node_id).await?;
    let units: Option<i64> = if caller.has(Permission::OrgRead) {
        Some(sqlx::query_scalar("SELECT COUNT(*) FROM org_closure c JOIN org_nodes n ON n.id = c.descendant WHERE c.ancestor = $1 AND n.valid_to IS NULL")
            .bind(caller.node_id).fetch_one(state.db.reader()).await?)
    } else {
        None
    };
    let accounts: Option<i64> = if caller.has(Permission::AccountsRead) {
        let scope = crate::jurisdiction::staff_scope_of(&state, &caller).await?;
        Some(
            sqlx::query_scalar(&format!(
                "SELECT COUNT(*) FROM accounts WHERE node_id IN ({})",
                scope.nodes_sql(crate::jurisdiction::Level::Masked)
            ))
            .fetch_one(state.db.reader())
            .await?,
        )
    } else {
        None
    };
    let audit_today: Option<i64> = if caller.has(Permission::AuditRead) {
        let start = crate::clock::parse_beijing(&crate::clock::beijing_date(state.clock.now_ms())).unwrap_or(0);
        Some(
            sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE at >= $1")
                .bind(start)
                .fetch_one(state.db.reader())
                .await?,
        )
    } else {
        None
    };
    let role_names = role_labels(&state, l, &caller.roles).await?;
    let tasks: Vec<(&str, &str)> = [
        ("/org", "nav.org", Permission::OrgRead),
        ("/accounts", "nav.accounts", Permission::AccountsRead),
        ("/grants", "nav.grants", Permission::GrantsWrite),
        ("/security", "nav.security", Permission::SecurityPolicy),
        ("/tokens", "nav.tokens", Permission::TokensManage),
        ("/audit", "nav.audit", Permission::AuditRead),
    ]
    .into_iter()
    .filter(|(_, _, p)| caller.has(*p))
    .map(|(h, k, _)| (h, k))
    .collect();
    let body = html! {
        h1 id="home-title" { (l.t("home.title")) }
        div.card {
            p { (l.t("home.welcome")) strong { (caller.name) } }
            p { (l.t("home.node")) ": " (node_name) }
            p { (l.t("home.roles")) ": " (role_names.join("、")) }
        }
        div.grid {
            @if let Some(n) = units { div.stat { b { (n) } (l.t("home.subtree")) } }
            @if let Some(n) = accounts { div.stat { b { (n) } (l.t("home.accounts")) } }
            @if let Some(n) = audit_today { div.stat { b { (n) } (l.t("home.audit_today")) } }
        }
        h2 { (l.t("home.tasks")) }
        @if tasks.is_empty() {
            p { (l.t("home.no_tasks")) }
        } @else {
            ul { @for (href, key) in &tasks { li { a href=(href) { (l.t(key)) } } } }
        }
    };
    Ok(Html(render(&state, &meta, Some(&caller), Page { title: l.t("home.title"), active: "/", body }).into_string())
        .into_response())
}

pub async fn role_labels(state: &AppState, l: Lang, codes: &[String]) -> Result<Vec<String>, AppError> {
    let roles = crate::accounts::roles::all(&state.db).await?;
    Ok(codes
        .iter()
        .map(|c| {
            roles
                .iter()
                .find(|r| &r.code == c)
                .map(|r| if l == Lang::Zh { r.name_zh.clone() } else { r.name_en.clone() })
                .unwrap_or_else(|| c.clone())
        })
        .collect())
}

async fn me_page(State(state): State<AppState>, meta: RequestMeta, caller: Caller) -> AppResult<Html<String>> {
    Ok(Html(me_markup(&state, &meta, &caller, html! {}).await?.into_string()))
}

async fn me_markup(state: &AppState, meta: &RequestMeta, caller: &Caller, extra: Markup) -> AppResult<Markup> {
    let l = meta.lang;
    let id = caller.account_id_or_forbidden()?;
    let mfa_on: i64 = sqlx::query_scalar("SELECT totp_enabled FROM accounts WHERE id = $1")
        .bind(id)
        .fetch_one(state.db.reader())
        .await?;
    let body = html! {
        h1 { (l.t("me.title")) }
        @match caller.restriction.as_deref() {
            Some("mfa_enrol") => div.notice role="alert" { (l.t("me.must_enrol")) },
            Some("change_password") => div.notice role="alert" { (l.t("me.must_change")) },
            _ => {},
        }
        (extra)
        div.card {
            h2 { (l.t("me.mfa")) ": " @if mfa_on != 0 { (l.t("me.mfa_on")) } @else { (l.t("me.mfa_off")) } }
            @if mfa_on == 0 {
                form method="post" action="/me/mfa/start" { (csrf(caller)) button type="submit" id="mfa-start" { (l.t("me.mfa_start")) } }
            }
        }
        div.card {
            h2 { (l.t("me.change_password")) }
            form.stack method="post" action="/me/password" {
                (csrf(caller))
                label for="current_password" { (l.t("me.current_password")) }
                input id="current_password" name="current_password" type="password" autocomplete="current-password" required;
                label for="new_password" { (l.t("me.new_password")) }
                input id="new_password" name="new_password" type="password" autocomplete="new-password" minlength="12" required;
                button type="submit" { (l.t("common.save")) }
            }
        }
    };
    Ok(render(state, meta, Some(caller), Page { title: l.t("me.title"), active: "/me", body }))
}

#[derive(serde::Deserialize)]
struct PasswordForm {
    current_password: String,
    new_password: String,
}

async fn change_password(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    CsrfForm(f): CsrfForm<PasswordForm>,
) -> AppResult<Response> {
    let extra = match crate::accounts::service::change_own_password(
        &state,
        &meta,
        &caller,
        &f.current_password,
        &f.new_password,
    )
    .await
    {
        Ok(()) => return Ok(Redirect::to("/").into_response()),
        Err(e) => notice_for(e)?,
    };
    Ok(Html(me_markup(&state, &meta, &caller, extra).await?.into_string()).into_response())
}

async fn mfa_start(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    CsrfForm(_): CsrfForm<serde_json::Value>,
) -> AppResult<Html<String>> {
    let l = meta.lang;
    let e = mfa::start(&state, &caller).await?;
    let extra = html! {
        div.card {
            p { (l.t("me.mfa_scan")) }
            div.qr { (trusted_svg(&e.qr_svg)) }
            p.secret id="totp-secret" { (e.secret_base32) }
            form.stack method="post" action="/me/mfa/confirm" {
                (csrf(&caller))
                input name="code" inputmode="numeric" autocomplete="one-time-code" required;
                button type="submit" { (l.t("me.mfa_confirm")) }
            }
        }
    };
    Ok(Html(me_markup(&state, &meta, &caller, extra).await?.into_string()))
}

#[derive(serde::Deserialize)]
struct CodeForm {
    code: String,
}

async fn mfa_confirm(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    CsrfForm(f): CsrfForm<CodeForm>,
) -> AppResult<Html<String>> {
    let l = meta.lang;
    let extra = match mfa::confirm(&state, &meta, &caller, &f.code).await {
        Ok(codes) => html! {
            div.ok role="status" { (l.t("me.saved")) }
            div.card { p { (l.t("me.recovery")) } ul.secret { @for c in &codes { li { (c) } } } }
        },
        Err(AppError::Invalid { reason, .. }) => html! { div.error role="alert" { (reason) } },
        Err(e) => return Err(e),
    };
    let caller = Caller { restriction: None, ..caller };
    Ok(Html(me_markup(&state, &meta, &caller, extra).await?.into_string()))
}
