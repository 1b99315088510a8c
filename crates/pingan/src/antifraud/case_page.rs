//! One case on a phone: who, how urgent, and one tap per thing done (a call answered or not, a
//! visit, the outcome), with the full phone or ID number behind a stated reason.

use axum::extract::State;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup};

use super::cases::{self, CaseDetail};
use super::model::{format_yuan, Grade, Kind, Outcome};
use super::pages::{grade_badge, time_left};
use super::work::{self, CaseAction, Close, Contact, FollowUp, Method, UnmaskField};
use crate::app::AppState;
use crate::auth::Caller;
use crate::clock::format_beijing;
use crate::web::error::{AppError, AppResult};
use crate::web::extract::{CsrfFields, PathId};
use crate::web::i18n::Lang;
use crate::web::layout::{csrf, notice_for, render, Page};
use crate::web::middleware::RequestMeta;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/antifraud/cases/{id}", get(case_page))
        .route("/antifraud/cases/{id}/act", post(act))
        .route("/antifraud/cases/{id}/unmask", post(unmask))
        .route("/antifraud/cases/{id}/match", post(match_case))
}

async fn case_page(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    PathId(id): PathId,
) -> AppResult<Html<String>> {
    let d = cases::detail(&state, &meta, &caller, id).await?;
    Ok(Html(markup(&state, &meta, &caller, &d, html! {}).into_string()))
}

fn markup(state: &AppState, meta: &RequestMeta, caller: &Caller, d: &CaseDetail, notice: Markup) -> Markup {
    let l = meta.lang;
    let c = &d.case;
    let now = state.clock.now_ms();
    let act = format!("/antifraud/cases/{}/act", c.id);
    let open = c.state == "open";
    let body = html! {
        p { a href="/antifraud" { "← " (l.t("af.title")) } }
        h1 #case-title { (grade_badge(l, c.grade)) " " (c.name.clone().unwrap_or_else(|| l.t("af.no_name").to_string())) }
        (notice)
        dl.facts {
            dt { (l.t("af.kind")) } dd { (c.kind.label(l)) }
            dt { (l.t("af.reasons")) } dd { (d.reasons.join("；")) }
            dt { (l.t("res.id_number")) } dd #case-id { (c.id_number.clone().unwrap_or_else(|| "—".into())) }
            dt { (l.t("res.phone")) } dd #case-phone { (c.phone.clone().unwrap_or_else(|| "—".into())) }
            @if open {
                dt { (l.t("af.contact_due")) } dd { (deadline(l, c.contact_due_at, c.first_contact_at, now)) }
                @if c.visit_due_at.is_some() { dt { (l.t("af.visit_due")) } dd { (deadline(l, c.visit_due_at, c.visited_at, now)) } }
            }
            dt { (l.t("af.where")) } dd { (c.grid.clone().or_else(|| c.station.clone()).unwrap_or_else(|| l.t("af.city_queue").to_string())) }
            dt { (l.t("af.officer")) } dd { (c.officer.clone().unwrap_or_else(|| "—".into())) }
            dt { (l.t("af.match")) } dd { (c.match_kind.label(l)) }
            dt { (l.t("af.state")) } dd #case-state {
                @if let Some(o) = c.outcome { (o.label(l)) } @else if open { (l.t("af.state_open")) } @else { (l.t("af.state_history")) }
                @if let Some(p) = d.amount_protected_fen { " · " (l.t("af.protected")) " ¥" (format_yuan(p)) }
                @if let Some(p) = d.amount_lost_fen { " · " (l.t("af.lost")) " ¥" (format_yuan(p)) }
            }
        }
        @if d.can_unmask { (unmask_forms(l, caller, c.id)) }
        @if d.can_work && open {
            div.card #case-actions {
                h2 { (l.t("af.record_contact")) }
                div.quick {
                    @for (method, reached, key) in [("call", true, "af.call_reached"), ("call", false, "af.call_missed"), ("visit", true, "af.visit_done"), ("visit", false, "af.visit_missed")] {
                        form.inline method="post" action=(act) {
                            (csrf(caller))
                            input type="hidden" name="action" value="contact";
                            input type="hidden" name="method" value=(method);
                            input type="hidden" name="reached" value=(reached);
                            button type="submit" id={ "contact-" (method) "-" (reached) } class=@if !reached { "secondary" } { (l.t(key)) }
                        }
                    }
                }
                h2 { (l.t("af.close")) }
                form.stack method="post" action=(act) #close-form {
                    (csrf(caller))
                    input type="hidden" name="action" value="close";
                    fieldset.choices {
                        @for o in Outcome::ALL {
                            label.choice { input type="radio" name="outcome" value=(o.code()) required; " " (o.label(l)) }
                        }
                    }
                    label for="amount" { (l.t("af.amount")) }
                    input #amount type="text" inputmode="decimal" name="amount_yuan" placeholder="0.00";
                    label for="close-note" { (l.t("visit.note")) }
                    input #close-note type="text" name="note" maxlength="500";
                    button type="submit" #close-case { (l.t("af.close")) }
                }
            }
        }
        @if d.can_work {
            form.stack method="post" action=(act) {
                (csrf(caller))
                input type="hidden" name="action" value="follow_up";
                label for="follow-up" { (l.t("af.follow_up")) }
                input #follow-up type="text" name="note" maxlength="500" required;
                button type="submit" class="secondary" { (l.t("af.add_follow_up")) }
            }
        }
        @if !d.candidates.is_empty() && d.can_work {
            h2 { (l.t("af.candidates")) }
            p.muted { (l.t("af.candidates_hint")) }
            ul { @for cand in &d.candidates { li {
                (cand.name) " " (cand.id_number.clone().unwrap_or_default()) " " span.muted { (cand.grid.clone().unwrap_or_default()) }
                form.inline method="post" action={ "/antifraud/cases/" (c.id) "/match" } {
                    (csrf(caller))
                    input type="hidden" name="resident_id" value=(cand.resident_id);
                    button type="submit" class="secondary" { (l.t("af.this_one")) }
                }
            } } }
        }
        h2 { (l.t("af.timeline")) }
        ol.timeline #timeline { @for t in &d.timeline { li {
            span.muted { (format_beijing(t.at)) } " " (timeline_text(l, &t.kind, t.result.as_deref()))
            @if let Some(a) = t.amount_fen { " ¥" (format_yuan(a)) }
            @if let Some(w) = &t.who { " · " (w) }
            @if !t.note.is_empty() { " — " (t.note) }
        } } }
        h2 { (l.t("af.warnings")) }
        div.table-wrap { table.responsive {
            thead { tr { th { (l.t("af.received")) } th { (l.t("af.kind")) } th { (l.t("af.grade")) } th { (l.t("af.source")) } th { (l.t("af.details")) } } }
            tbody { @for w in &d.warnings { tr {
                td data-label=(l.t("af.received")) { (format_beijing(w.received_at)) }
                td data-label=(l.t("af.kind")) { (Kind::parse(&w.kind).map(|k| k.label(l)).unwrap_or("")) }
                td data-label=(l.t("af.grade")) { (Grade::parse(&w.grade).map(|g| grade_badge(l, g)).unwrap_or_default()) }
                td data-label=(l.t("af.source")) { (w.source) }
                td data-label=(l.t("af.details")) { (warning_details(l, w)) }
            } } }
        } }
        script src="/static/antifraud.js" defer {}
    };
    render(state, meta, Some(caller), Page { title: l.t("af.case"), active: "/antifraud", body })
}

fn deadline(l: Lang, due: Option<i64>, done: Option<i64>, now: i64) -> Markup {
    match (due, done) {
        (_, Some(at)) => html! { span.standing.ok { (l.t("af.done_at")) " " (format_beijing(at)) } },
        (Some(_), None) => time_left(l, due, now),
        (None, None) => html! { "—" },
    }
}

fn timeline_text(l: Lang, kind: &str, result: Option<&str>) -> String {
    match (kind, result) {
        ("warning", Some(g)) => {
            format!("{} {}", l.t("af.tl_warning"), Grade::parse(g).map(|g| g.label(l)).unwrap_or(""))
        }
        ("call", Some("reached")) => l.t("af.call_reached").into(),
        ("call", _) => l.t("af.call_missed").into(),
        ("visit", Some("reached")) => l.t("af.visit_done").into(),
        ("visit", _) => l.t("af.visit_missed").into(),
        ("closed", Some(o)) => {
            format!("{} {}", l.t("af.tl_closed"), Outcome::parse(o).map(|o| o.label(l)).unwrap_or(""))
        }
        ("escalated", Some(r)) => {
            let level = if r.ends_with("branch") { l.t("notify.level_branch") } else { l.t("notify.level_station") };
            let step = if r.starts_with("visit") { l.t("notify.step_visit") } else { l.t("notify.step_contact") };
            format!("{step}，{level}")
        }
        ("matched", _) => l.t("af.tl_matched").into(),
        ("follow_up", _) => l.t("af.follow_up").into(),
        (other, _) => other.into(),
    }
}

fn warning_details(l: Lang, w: &cases::WarningRow) -> String {
    let mut parts = Vec::new();
    if let Some(a) = w.amount_fen {
        parts.push(format!("{} ¥{}", l.t("af.amount_moving"), format_yuan(a)));
    }
    if let Some(s) = w.longest_call_s {
        parts.push(format!("{} {s}s", l.t("af.longest_call")));
    }
    if let Some(n) = w.contacts_count {
        parts.push(format!("{} {n}", l.t("af.contacts")));
    }
    if w.app_installed == Some(1) {
        parts.push(format!("{} {}", l.t("af.app"), w.app_name.clone().unwrap_or_default()));
    }
    parts.join("；")
}

fn unmask_forms(l: Lang, caller: &Caller, id: i64) -> Markup {
    html! {
        details.card #unmask {
            summary { (l.t("af.unmask")) }
            form.stack method="post" action={ "/antifraud/cases/" (id) "/unmask" } {
                (csrf(caller))
                fieldset.choices {
                    label.check { input type="radio" name="field" value="phone" checked; " " (l.t("res.phone")) }
                    label.check { input type="radio" name="field" value="id_number"; " " (l.t("res.id_number")) }
                }
                label for="unmask-reason" { (l.t("af.unmask_reason")) }
                input #unmask-reason type="text" name="reason" value=(l.t("af.unmask_default")) minlength="4" maxlength="200" required;
                button type="submit" #unmask-submit { (l.t("af.unmask_show")) }
            }
        }
    }
}

fn contact_input(f: &CsrfFields) -> Result<CaseAction, AppError> {
    let note = f.get("note").to_string();
    match f.get("action") {
        "contact" => {
            let method = match f.get("method") {
                "call" => Method::Call,
                "visit" => Method::Visit,
                _ => return Err(AppError::invalid("method", "call or visit")),
            };
            Ok(CaseAction::Contact(Contact { method, reached: f.get("reached") == "true", note }))
        }
        "close" => {
            let outcome = Outcome::parse(f.get("outcome"))
                .ok_or_else(|| AppError::invalid("outcome", "choose how the case ends"))?;
            let amount =
                Some(f.get("amount_yuan")).filter(|a| !a.is_empty()).map(|a| serde_json::Value::String(a.to_string()));
            Ok(CaseAction::Close(Close { outcome, amount_yuan: amount, note }))
        }
        "follow_up" => Ok(CaseAction::FollowUp(FollowUp { note })),
        _ => Err(AppError::invalid("action", "contact, close or follow_up")),
    }
}

async fn rerender(
    state: &AppState,
    meta: &RequestMeta,
    caller: &Caller,
    id: i64,
    notice: Markup,
) -> AppResult<Response> {
    let d = cases::detail(state, meta, caller, id).await?;
    Ok(Html(markup(state, meta, caller, &d, notice).into_string()).into_response())
}

async fn act(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    PathId(id): PathId,
    f: CsrfFields,
) -> AppResult<Response> {
    let result = match contact_input(&f) {
        Ok(action) => work::act(&state, &meta, &caller, id, &action).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => Ok(Redirect::to(&format!("/antifraud/cases/{id}?saved=1")).into_response()),
        Err(AppError::NotFound) => Err(AppError::NotFound),
        Err(e) => rerender(&state, &meta, &caller, id, notice_for(e)?).await,
    }
}

async fn unmask(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    PathId(id): PathId,
    f: CsrfFields,
) -> AppResult<Response> {
    let field = match f.get("field") {
        "id_number" => UnmaskField::IdNumber,
        _ => UnmaskField::Phone,
    };
    let l = meta.lang;
    let notice = match work::unmask(&state, &meta, &caller, id, field, f.get("reason")).await {
        Ok(Some(v)) => html! { div.ok #unmasked role="status" { (l.t("af.full_value")) " " strong.secret { (v) } } },
        Ok(None) => html! { p.notice role="status" { (l.t("af.no_value")) } },
        Err(AppError::NotFound) => return Err(AppError::NotFound),
        Err(e) => notice_for(e)?,
    };
    rerender(&state, &meta, &caller, id, notice).await
}

async fn match_case(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    PathId(id): PathId,
    f: CsrfFields,
) -> AppResult<Response> {
    let resident: i64 = f.get("resident_id").parse().map_err(|_| AppError::invalid("resident_id", "a resident id"))?;
    match work::match_resident(&state, &meta, &caller, id, resident).await {
        Ok(()) => Ok(Redirect::to(&format!("/antifraud/cases/{id}")).into_response()),
        Err(AppError::NotFound) => Err(AppError::NotFound),
        Err(e) => rerender(&state, &meta, &caller, id, notice_for(e)?).await,
    }
}
