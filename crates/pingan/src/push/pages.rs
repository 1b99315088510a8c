//! 云宣防 pages: the station's composer (from the fraud kinds rising in its area) with its
//! outbox, a message's delivery log with dead letters to send again, and the administrator's
//! allowlist of chat groups.

use axum::extract::State;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup};

use super::model::{DeliveryState, DestinationKind};
use super::service::{self, NewDestination, NewMessage};
use crate::antifraud::figures::{self, FiguresQuery};
use crate::antifraud::model::Kind;
use crate::app::AppState;
use crate::auth::{Caller, Permission};
use crate::clock::format_beijing;
use crate::web::error::{AppError, AppResult};
use crate::web::extract::{CsrfFields, PathId};
use crate::web::i18n::Lang;
use crate::web::layout::{csrf, notice_for, render, Page};
use crate::web::middleware::RequestMeta;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/push", get(outbox_page))
        .route("/push/send", post(send))
        .route("/push/messages/{id}", get(message_page))
        .route("/push/deliveries/{id}/retry", post(retry))
        .route("/push/destinations", get(destinations_page).post(add_destination))
        .route("/push/destinations/{id}/disable", post(disable_destination))
}

fn tip_key(k: Kind) -> String {
    format!("push.tip.{}", k.code())
}

async fn outbox_page(State(state): State<AppState>, meta: RequestMeta, caller: Caller) -> AppResult<Html<String>> {
    Ok(Html(outbox(&state, &meta, &caller, html! {}).await?.into_string()))
}

async fn outbox(state: &AppState, meta: &RequestMeta, caller: &Caller, notice: Markup) -> AppResult<Markup> {
    let l = meta.lang;
    let (messages, total) = service::messages(state, caller, 1).await?;
    let destinations = service::destinations(state, caller).await?;
    // The kinds rising in the caller's area over the last 30 days: what to warn of first.
    let rising: Vec<Kind> = match figures::figures(state, caller, &FiguresQuery::default()).await {
        Ok(f) => f.by_kind.iter().filter(|k| k.warnings > k.period_before).map(|k| k.kind).collect(),
        Err(AppError::Forbidden(_)) => Vec::new(),
        Err(e) => return Err(e),
    };
    let mut groups: Vec<(i64, String)> = destinations
        .iter()
        .filter(|d| d.enabled)
        .map(|d| (d.node_id, format!("{} · {}", d.node_name, d.name)))
        .collect();
    groups.dedup_by_key(|g| g.0);
    let first = rising.first().copied().unwrap_or(Kind::Brushing);
    let body = html! {
        h1 { (l.t("push.title")) }
        (notice)
        @if caller.has(Permission::PushManage) { p { a href="/push/destinations" { (l.t("push.destinations")) } } }
        @if caller.has(Permission::PushSend) {
            section.card {
                h2 { (l.t("push.rising")) }
                @if rising.is_empty() { p.muted #rising-kinds { (l.t("fig.none_rising")) } }
                @else { p #rising-kinds { @for k in &rising { span.tag { (k.label(l)) } " " } } }
                @if groups.is_empty() {
                    p.muted #no-groups { (l.t("push.no_groups")) }
                } @else {
                    form.stack method="post" action="/push/send" #push-form {
                        (csrf(caller))
                        label for="push-title" { (l.t("push.msg_title")) }
                        input #push-title type="text" name="title" value=(l.t("push.default_title")) maxlength="50" required;
                        fieldset.choices { legend { (l.t("push.kinds")) }
                            @for k in Kind::ALL {
                                label.choice { input type="checkbox" name="kinds" value=(k.code()) checked[rising.contains(k) || (rising.is_empty() && *k == first)]; " " (k.label(l)) }
                            }
                        }
                        label for="push-body" { (l.t("push.body")) }
                        textarea #push-body name="body" rows="5" maxlength="1000" required { (l.t(&tip_key(first))) }
                        p.muted { (l.t("push.no_personal_data")) }
                        fieldset.choices { legend { (l.t("push.groups")) }
                            @for (node, label) in &groups {
                                label.choice { input type="checkbox" name="node_ids" value=(node) checked; " " (label) }
                            }
                        }
                        button type="submit" #push-send { (l.t("push.send")) }
                    }
                }
            }
        }
        h2 { (l.t("push.outbox")) " " span.muted { "(" (total) ")" } }
        @if messages.is_empty() { p.muted #no-messages { (l.t("push.no_messages")) } }
        @else { ul #outbox { @for m in &messages {
            li { a href={ "/push/messages/" (m.id) } { (m.title) } " · " span.muted { (format_beijing(m.created_at)) " · " (m.unit) }
                " · " (l.t("push.delivered")) " " (m.delivered) "/" (m.deliveries)
                @if m.dead > 0 { " · " span.standing.overdue { (l.t("push.dead")) " " (m.dead) } }
            }
        } } }
    };
    Ok(render(state, meta, Some(caller), Page { title: l.t("push.title"), active: "/push", body }))
}

async fn send(State(state): State<AppState>, meta: RequestMeta, caller: Caller, f: CsrfFields) -> AppResult<Response> {
    let parsed = (|| -> Result<NewMessage, AppError> {
        let kinds = f
            .all("kinds")
            .into_iter()
            .map(|k| Kind::parse(k).ok_or_else(|| AppError::invalid("kinds", format!("unknown kind {k:?}"))))
            .collect::<Result<Vec<_>, _>>()?;
        let node_ids = f
            .all("node_ids")
            .into_iter()
            .map(|n| n.parse().map_err(|_| AppError::invalid("node_ids", "a unit id")))
            .collect::<Result<Vec<i64>, _>>()?;
        Ok(NewMessage { title: f.get("title").to_string(), body: f.get("body").to_string(), kinds, node_ids })
    })();
    let sent = match parsed {
        Ok(m) => service::send(&state, &meta, &caller, &m).await,
        Err(e) => Err(e),
    };
    match sent {
        Ok(q) => Ok(Redirect::to(&format!("/push/messages/{}", q.id)).into_response()),
        Err(e) => Ok(Html(outbox(&state, &meta, &caller, notice_for(e)?).await?.into_string()).into_response()),
    }
}

fn state_label(l: Lang, s: DeliveryState) -> Markup {
    let class = match s {
        DeliveryState::Delivered => "standing ok",
        DeliveryState::Dead => "standing overdue",
        DeliveryState::Pending => "standing",
    };
    html! { span class=(class) { (s.label(l)) } }
}

async fn message_page(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    PathId(id): PathId,
) -> AppResult<Html<String>> {
    let l = meta.lang;
    let (m, deliveries) = service::message(&state, &caller, id).await?;
    let body = html! {
        p { a href="/push" { "← " (l.t("push.title")) } }
        h1 #message-title { (m.title) }
        p.muted { (format_beijing(m.created_at)) " · " (m.unit) @if let Some(a) = &m.author { " · " (a) } }
        pre.message { (m.body) }
        p { @for k in m.kinds.split(',').filter_map(Kind::parse) { span.tag { (k.label(l)) } " " } }
        h2 { (l.t("push.log")) }
        ul #deliveries { @for d in &deliveries {
            li data-state=(d.state.code()) {
                strong { (d.node_name) " · " (d.destination) } " " (state_label(l, d.state))
                " · " (d.kind.label(l)) " · " (l.t("push.attempts")) " " (d.attempts)
                @if let Some(at) = d.delivered_at { " · " (format_beijing(at)) }
                @if let (DeliveryState::Pending, Some(at)) = (d.state, d.next_attempt_at) { " · " (l.t("push.next_attempt")) " " (format_beijing(at)) }
                @if let Some(e) = &d.last_error { div.muted { (e) } }
                @if d.state == DeliveryState::Dead && caller.has(Permission::PushSend) {
                    form.inline method="post" action={ "/push/deliveries/" (d.id) "/retry" } {
                        (csrf(&caller)) button type="submit" class="secondary" { (l.t("push.retry")) }
                    }
                }
                @if !d.log.is_empty() { ol.timeline { @for a in &d.log { li {
                    span.muted { (format_beijing(a.at)) } " "
                    (a.status.map(|s| format!("HTTP {s}")).unwrap_or_else(|| "—".into())) " · " (a.duration_ms) " ms"
                    @if let Some(e) = &a.error { " · " (e) }
                } } } }
            }
        } }
    };
    Ok(Html(
        render(&state, &meta, Some(&caller), Page { title: l.t("push.title"), active: "/push", body }).into_string(),
    ))
}

async fn retry(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    PathId(id): PathId,
    _f: CsrfFields,
) -> AppResult<Response> {
    let message: Option<i64> = sqlx::query_scalar("SELECT message_id FROM push_deliveries WHERE id = $1")
        .bind(id)
        .fetch_optional(state.db.reader())
        .await?;
    service::retry(&state, &meta, &caller, id).await?;
    Ok(Redirect::to(&format!("/push/messages/{}", message.unwrap_or(0))).into_response())
}

async fn destinations_page(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
) -> AppResult<Html<String>> {
    Ok(Html(destinations(&state, &meta, &caller, html! {}).await?.into_string()))
}

async fn destinations(state: &AppState, meta: &RequestMeta, caller: &Caller, notice: Markup) -> AppResult<Markup> {
    caller.require(Permission::PushManage)?;
    let l = meta.lang;
    let list = service::destinations(state, caller).await?;
    let body = html! {
        p { a href="/push" { "← " (l.t("push.title")) } }
        h1 { (l.t("push.destinations")) }
        (notice)
        form.stack.card method="post" action="/push/destinations" #destination-form {
            (csrf(caller))
            label for="d-name" { (l.t("push.d_name")) } input #d-name type="text" name="name" maxlength="100" required;
            label for="d-kind" { (l.t("push.d_kind")) }
            select #d-kind name="kind" { @for k in DestinationKind::ALL { option value=(k.code()) { (k.label(l)) } } }
            label for="d-url" { (l.t("push.d_url")) } input #d-url type="url" name="url" maxlength="2000" required;
            label for="d-secret" { (l.t("push.d_secret")) } input #d-secret type="password" name="secret" maxlength="200" autocomplete="off";
            label for="d-node" { (l.t("push.d_node")) } input #d-node type="text" name="node_code" maxlength="32" required;
            button type="submit" { (l.t("push.d_add")) }
        }
        @if list.is_empty() { p.muted #no-destinations { (l.t("push.no_groups")) } }
        @else { ul #destinations { @for d in &list { li {
            strong { (d.node_name) " · " (d.name) } " · " (d.kind.label(l)) " · " code { (d.address) }
            @if d.enabled {
                form.inline method="post" action={ "/push/destinations/" (d.id) "/disable" } {
                    (csrf(caller)) button type="submit" class="secondary" { (l.t("push.d_disable")) }
                }
            } @else { " · " span.muted { (l.t("push.d_disabled")) } }
        } } } }
    };
    Ok(render(state, meta, Some(caller), Page { title: l.t("push.destinations"), active: "/push", body }))
}

async fn add_destination(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    f: CsrfFields,
) -> AppResult<Html<String>> {
    let node: Option<i64> = sqlx::query_scalar("SELECT id FROM org_nodes WHERE code = $1")
        .bind(f.get("node_code").trim())
        .fetch_optional(state.db.reader())
        .await?;
    let result = match (node, DestinationKind::parse(f.get("kind"))) {
        (None, _) => Err(AppError::invalid("node_code", "no unit has this code")),
        (_, None) => Err(AppError::invalid("kind", "one of wecom, dingtalk, json")),
        (Some(node_id), Some(kind)) => {
            let secret = Some(f.get("secret").to_string()).filter(|s| !s.trim().is_empty());
            let d = NewDestination {
                name: f.get("name").to_string(),
                kind,
                url: f.get("url").to_string(),
                secret,
                node_id,
            };
            service::add_destination(&state, &meta, &caller, &d).await.map(|_| ())
        }
    };
    let notice = match result {
        Ok(()) => html! { p.notice role="status" { (meta.lang.t("common.saved")) } },
        Err(e) => notice_for(e)?,
    };
    Ok(Html(destinations(&state, &meta, &caller, notice).await?.into_string()))
}

async fn disable_destination(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    PathId(id): PathId,
    _f: CsrfFields,
) -> AppResult<Response> {
    service::disable_destination(&state, &meta, &caller, id).await?;
    Ok(Redirect::to("/push/destinations").into_response())
}
