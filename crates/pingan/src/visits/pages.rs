//! Phone-sized pages: record a household visit or inspection in a few taps, record a 挂钩 duty
//! with one, and the coverage page with overdue duties and participation.

use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup};

use super::cadence::{DutyKind, Standing};
use super::links::{self, LinkStanding};
use super::service::{self, DutyInput, Finding, VisitInput, VisitKind};
use super::stats;
use crate::app::AppState;
use crate::auth::{Caller, Permission};
use crate::clock::format_beijing;
use crate::jurisdiction::{scope_of, Level};
use crate::web::error::{AppError, AppResult};
use crate::web::extract::{ApiQuery, CsrfFields};
use crate::web::i18n::Lang;
use crate::web::layout::{csrf, notice_for, render, Page};
use crate::web::middleware::RequestMeta;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/visits/new", get(new_visit).post(save_visit))
        .route("/duties", get(duties_page))
        .route("/duties/{link}/{kind}", post(save_duty))
        .route("/coverage", get(coverage_page))
        .route("/coverage/export", get(coverage_export))
        .merge(super::link_pages::routes())
}

#[derive(serde::Deserialize, Default, Clone, Copy)]
#[serde(deny_unknown_fields)]
struct Target {
    house_id: Option<i64>,
    resident_id: Option<i64>,
    establishment_id: Option<i64>,
}

async fn new_visit(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    ApiQuery(t): ApiQuery<Target>,
) -> AppResult<Html<String>> {
    caller.require(Permission::BaseDataWrite)?;
    Ok(Html(visit_form(&state, &meta, &caller, t, html! {}).into_string()))
}

/// One screen: what was found (one tap), an optional note, submit.
fn visit_form(state: &AppState, meta: &RequestMeta, caller: &Caller, t: Target, notice: Markup) -> Markup {
    let l = meta.lang;
    let title = if t.establishment_id.is_some() { l.t("visit.new_inspection") } else { l.t("visit.new") };
    let body = html! {
        h1 { (title) }
        (notice)
        form.stack #visit method="post" action="/visits/new" {
            (csrf(caller))
            @for (name, v) in [("house_id", t.house_id), ("resident_id", t.resident_id), ("establishment_id", t.establishment_id)] {
                @if let Some(v) = v { input type="hidden" name=(name) value=(v); }
            }
            fieldset.choices { legend { (l.t("visit.finding")) }
                @for (i, f) in Finding::ALL.iter().enumerate() {
                    label.choice { input type="radio" name="finding" value=(f.code()) checked[i == 0]; " " (f.label(l == Lang::Zh)) }
                }
            }
            label { (l.t("visit.note")) textarea name="note" maxlength="500" rows="3" {} }
            button type="submit" id="save-visit" { (l.t("visit.save")) }
        }
    };
    render(state, meta, Some(caller), Page { title, active: "/residents", body })
}

fn id_field(f: &CsrfFields, name: &str) -> Option<i64> {
    f.get(name).parse().ok().filter(|v: &i64| *v >= 1)
}

async fn save_visit(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    f: CsrfFields,
) -> AppResult<Response> {
    let t = Target {
        house_id: id_field(&f, "house_id"),
        resident_id: id_field(&f, "resident_id"),
        establishment_id: id_field(&f, "establishment_id"),
    };
    let input = VisitInput {
        kind: if t.establishment_id.is_some() { VisitKind::Inspection } else { VisitKind::Household },
        house_id: t.house_id,
        establishment_id: t.establishment_id,
        resident_id: t.resident_id,
        finding: Finding::parse(f.get("finding")).unwrap_or(Finding::Nothing),
        note: f.get("note").to_string(),
    };
    match service::record_visit(&state, &meta, &caller, &input).await {
        Ok(_) => {
            let back = match (t.resident_id, t.house_id) {
                (Some(r), _) => format!("/residents/{r}?visited=1"),
                _ => "/coverage?visited=1".to_string(),
            };
            Ok(Redirect::to(&back).into_response())
        }
        Err(e) => Ok(Html(visit_form(&state, &meta, &caller, t, notice_for(e)?).into_string()).into_response()),
    }
}

fn standing_label(l: Lang, s: Standing) -> Markup {
    let (key, class) = match s {
        Standing::Done => ("duty.done", "ok"),
        Standing::Due => ("duty.due", "due"),
        Standing::Overdue => ("duty.overdue", "overdue"),
    };
    html! { span class={ "standing " (class) } { (l.t(key)) } }
}

fn when(ms: Option<i64>) -> String {
    ms.map(format_beijing).unwrap_or_else(|| "—".into())
}

async fn duties_page(State(state): State<AppState>, meta: RequestMeta, caller: Caller) -> AppResult<Html<String>> {
    Ok(Html(duties_markup(&state, &meta, &caller, html! {}).await?.into_string()))
}

async fn duties_markup(state: &AppState, meta: &RequestMeta, caller: &Caller, notice: Markup) -> AppResult<Markup> {
    let l = meta.lang;
    let mine = links::links(state, caller, true).await?;
    let body = html! {
        h1 { (l.t("duty.title")) }
        (notice)
        p.muted { (l.t("duty.cadence")) }
        h2 { (l.t("duty.mine")) }
        @if mine.is_empty() { p { (l.t("duty.none_mine")) } }
        @for link in &mine { div.card.duty {
            h3 { (link.village) }
            @for (kind, s, last) in [(DutyKind::Contact, link.contact, link.last_contact), (DutyKind::OnSite, link.on_site, link.last_on_site), (DutyKind::Deed, link.deed, link.last_deed)] {
                form.duty-row method="post" action={ "/duties/" (link.id) "/" (kind.code()) } {
                    (csrf(caller))
                    span.kind { (kind.label(l == Lang::Zh)) }
                    (standing_label(l, s))
                    span.muted { (l.t("duty.last")) " " (when(last)) }
                    input type="text" name="note" maxlength="500" placeholder=(l.t("visit.note"));
                    button type="submit" { (l.t("duty.record")) }
                }
            }
        } }
    };
    Ok(render(state, meta, Some(caller), Page { title: l.t("duty.title"), active: "/duties", body }))
}

async fn save_duty(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    Path((link, kind)): Path<(i64, String)>,
    f: CsrfFields,
) -> AppResult<Html<String>> {
    let kind = DutyKind::parse(&kind).ok_or(AppError::NotFound)?;
    let input = DutyInput { kind, note: f.get("note").to_string() };
    let notice = match service::record_duty(&state, &meta, &caller, link, &input).await {
        Ok(_) => html! { p.notice role="status" { (meta.lang.t("duty.recorded")) } },
        Err(e) => notice_for(e)?,
    };
    Ok(Html(duties_markup(&state, &meta, &caller, notice).await?.into_string()))
}

fn overdue_table(l: Lang, links: &[&LinkStanding]) -> Markup {
    html! {
        div.table-wrap { table.responsive #overdue {
            thead { tr { th { (l.t("duty.officer")) } th { (l.t("duty.village")) } @for k in DutyKind::ALL { th { (k.label(l == Lang::Zh)) } } } }
            tbody { @for x in links { tr {
                td data-label=(l.t("duty.officer")) { (x.officer) }
                td data-label=(l.t("duty.village")) { (x.village) }
                td data-label=(DutyKind::Contact.label(l == Lang::Zh)) { (standing_label(l, x.contact)) }
                td data-label=(DutyKind::OnSite.label(l == Lang::Zh)) { (standing_label(l, x.on_site)) }
                td data-label=(DutyKind::Deed.label(l == Lang::Zh)) { (standing_label(l, x.deed)) }
            } } }
        } }
    }
}

async fn coverage_page(State(state): State<AppState>, meta: RequestMeta, caller: Caller) -> AppResult<Html<String>> {
    let l = meta.lang;
    let grids = stats::by_grid(&state, &caller, None).await?;
    let names: Vec<(i64, String)> = sqlx::query_as(&format!(
        "SELECT id, name FROM org_nodes WHERE id IN ({})",
        scope_of(&state, &caller).await?.nodes_sql(Level::CountsOnly)
    ))
    .fetch_all(state.db.reader())
    .await?;
    let name = |id: i64| names.iter().find(|(n, _)| *n == id).map(|(_, s)| s.as_str()).unwrap_or("");
    let links = links::links(&state, &caller, false).await?;
    let overdue: Vec<&LinkStanding> = links.iter().filter(|x| x.overdue()).collect();
    let (linked, officers) = participation(&state, &caller).await?;
    let (households, visited) = grids.iter().fold((0, 0), |(h, v), g| (h + g.households, v + g.visited));
    let pct = |v: i64, h: i64| if h > 0 { format!("{:.0}%", v as f64 * 100.0 / h as f64) } else { "—".into() };
    let body = html! {
        h1 { (l.t("cov.title")) }
        p.muted { (l.t("cov.explain")) }
        p { a href="/coverage/export?format=xlsx" { (l.t("exp.xlsx")) } " · " a href="/coverage/export?format=csv" { (l.t("exp.csv")) } }
        dl.facts {
            dt { (l.t("cov.rate")) } dd #coverage-total { (pct(visited, households)) " (" (visited) " / " (households) ")" }
            dt { (l.t("cov.participation")) } dd #participation { (pct(linked, officers)) " (" (linked) " / " (officers) ")" }
        }
        p.muted { (l.t("cov.participation_explain")) }
        h2 { (l.t("duty.overdue_list")) }
        @if overdue.is_empty() { p { (l.t("duty.no_overdue")) } } @else { (overdue_table(l, &overdue)) }
        h2 { (l.t("cov.grid")) }
        div.table-wrap { table.responsive #coverage {
            thead { tr { th { (l.t("cov.grid")) } th { (l.t("cov.residents")) } th { (l.t("cov.households")) } th { (l.t("cov.visited")) } th { (l.t("cov.rate")) } th { (l.t("cov.last_visit")) } th { (l.t("cov.overdue")) } } }
            tbody { @for g in &grids { tr {
                td data-label=(l.t("cov.grid")) { (name(g.grid_id)) }
                td data-label=(l.t("cov.residents")) { (g.residents) }
                td data-label=(l.t("cov.households")) { (g.households) }
                td data-label=(l.t("cov.visited")) { (g.visited) }
                td data-label=(l.t("cov.rate")) { (pct(g.visited, g.households)) }
                td data-label=(l.t("cov.last_visit")) { (when(g.last_visit)) }
                td data-label=(l.t("cov.overdue")) { (g.overdue) }
            } } }
        } }
    };
    Ok(Html(
        render(&state, &meta, Some(&caller), Page { title: l.t("cov.title"), active: "/coverage", body }).into_string(),
    ))
}

/// (sworn officers in scope with a live 挂钩 link, sworn officers in scope). Sworn officers are
/// the accounts whose roles see people police-style (`people:read`), as `Caller::viewer` says.
async fn participation(state: &AppState, caller: &Caller) -> Result<(i64, i64), AppError> {
    let nodes = scope_of(state, caller).await?.nodes_sql(Level::CountsOnly);
    let sworn = format!(
        "SELECT a.id FROM accounts a WHERE a.disabled = 0 AND a.node_id IN ({nodes}) AND EXISTS (SELECT 1 FROM account_roles ar \
         JOIN roles r ON r.id = ar.role_id WHERE ar.account_id = a.id AND (',' || r.permissions || ',') LIKE '%,people:read,%')"
    );
    let (officers,): (i64,) =
        sqlx::query_as(&format!("SELECT COUNT(*) FROM ({sworn}) s")).fetch_one(state.db.reader()).await?;
    let (linked,): (i64,) = sqlx::query_as(&format!(
        "SELECT COUNT(DISTINCT l.account_id) FROM duty_links l WHERE l.until IS NULL AND l.account_id IN ({sworn})"
    ))
    .fetch_one(state.db.reader())
    .await?;
    Ok((linked, officers))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ExportParams {
    format: crate::tabular::Format,
}

async fn coverage_export(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    ApiQuery(p): ApiQuery<ExportParams>,
) -> AppResult<Response> {
    crate::basedata::export::coverage(&state, &meta, &caller, p.format).await
}
