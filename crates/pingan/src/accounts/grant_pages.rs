//! The security administrator's page of data grants.

use axum::extract::State;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup};

use super::grants::{self, NewGrant};
use crate::app::AppState;
use crate::auth::Caller;
use crate::clock::format_beijing;
use crate::web::error::{AppError, AppResult};
use crate::web::extract::{CsrfForm, PathId};
use crate::web::layout::{csrf, notice_for, render, Page};
use crate::web::middleware::RequestMeta;

pub fn routes() -> Router<AppState> {
    Router::new().route("/grants", get(page).post(create)).route("/grants/{id}/revoke", post(revoke))
}

async fn page(State(state): State<AppState>, meta: RequestMeta, caller: Caller) -> AppResult<Html<String>> {
    Ok(Html(markup(&state, &meta, &caller, html! {}).await?.into_string()))
}

async fn markup(state: &AppState, meta: &RequestMeta, caller: &Caller, notice: Markup) -> AppResult<Markup> {
    let l = meta.lang;
    let rows = grants::list(state, caller).await?;
    let units: Vec<(i64, String, String)> =
        sqlx::query_as("SELECT id, code, name FROM org_nodes WHERE valid_to IS NULL ORDER BY code")
            .fetch_all(state.db.reader())
            .await?;
    let body = html! {
        h1 { (l.t("grants.title")) }
        (notice)
        @if rows.is_empty() { p { (l.t("grants.empty")) } } @else {
            div.table-wrap { table.responsive {
                thead { tr { th { (l.t("acc.username")) } th { (l.t("acc.node")) } th { (l.t("grants.level")) } th { (l.t("grants.reason")) } th { (l.t("grants.expires")) } th { (l.t("common.actions")) } } }
                tbody { @for g in &rows { tr {
                    td data-label=(l.t("acc.username")) { (g.username) }
                    td data-label=(l.t("acc.node")) { (g.node_name) }
                    td data-label=(l.t("grants.level")) { (l.t(&format!("level.{}", g.level))) }
                    td data-label=(l.t("grants.reason")) { (g.reason) }
                    td data-label=(l.t("grants.expires")) { (g.expires_at.map(format_beijing).unwrap_or_else(|| "—".into())) }
                    td data-label=(l.t("common.actions")) {
                        @if g.revoked_at.is_some() { (l.t("grants.revoked")) } @else {
                            form.inline method="post" action={ "/grants/" (g.id) "/revoke" } { (csrf(caller)) button.danger type="submit" { (l.t("grants.revoke")) } }
                        }
                    }
                } } }
            } }
        }
        form.stack.card method="post" action="/grants" {
            (csrf(caller))
            h2 { (l.t("grants.create")) }
            label { (l.t("acc.username")) input name="username" required maxlength="32"; }
            label { (l.t("acc.node")) select name="node_id" { @for (id, code, name) in &units { option value=(id) { (name) " (" (code) ")" } } } }
            label { (l.t("grants.level")) select name="level" { @for lv in ["full", "masked", "counts_only"] { option value=(lv) { (l.t(&format!("level.{lv}"))) } } } }
            label { (l.t("grants.reason")) input name="reason" required minlength="4" maxlength="200"; }
            label { (l.t("grants.expires")) input type="date" name="expires"; }
            button type="submit" { (l.t("grants.create")) }
        }
    };
    Ok(render(state, meta, Some(caller), Page { title: l.t("grants.title"), active: "/grants", body }))
}

#[derive(serde::Deserialize)]
struct GrantForm {
    username: String,
    node_id: i64,
    level: String,
    reason: String,
    #[serde(default)]
    expires: String,
}

async fn create(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    CsrfForm(f): CsrfForm<GrantForm>,
) -> AppResult<Response> {
    let account: Option<i64> = sqlx::query_scalar("SELECT id FROM accounts WHERE username = $1")
        .bind(f.username.trim())
        .fetch_optional(state.db.reader())
        .await?;
    let expires_at = match f.expires.trim() {
        "" => Ok(None),
        d => crate::clock::parse_beijing(d)
            .map(|ms| Some(ms + 86_400_000 - 1))
            .ok_or_else(|| AppError::invalid("expires", "a date as YYYY-MM-DD")),
    };
    let result = match (account, expires_at) {
        (None, _) => Err(AppError::invalid("username", "no such account")),
        (_, Err(e)) => Err(e),
        (Some(account_id), Ok(expires_at)) => {
            grants::create(
                &state,
                &meta,
                &caller,
                NewGrant { account_id, node_id: f.node_id, level: f.level, reason: f.reason, expires_at },
            )
            .await
        }
    };
    let notice = match result {
        Ok(_) => html! { div.ok role="status" { (meta.lang.t("me.saved")) } },
        Err(e) => notice_for(e)?,
    };
    Ok(Html(markup(&state, &meta, &caller, notice).await?.into_string()).into_response())
}

async fn revoke(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    PathId(id): PathId,
    CsrfForm(_): CsrfForm<serde_json::Value>,
) -> AppResult<Response> {
    grants::revoke(&state, &meta, &caller, id).await?;
    Ok(Redirect::to("/grants").into_response())
}
