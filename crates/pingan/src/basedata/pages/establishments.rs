//! Establishment pages (实有单位): the search (posted: a credit code is typed there), recording
//! one at an address, the record with its inspections and the 单位检查 button, correcting it, and
//! the export of a search, which carries legal representatives and so needs a reason.

use axum::extract::State;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup};

use super::{export_card, format_of, id_opt, label, may_correct, parse_opt, post_pager};
use crate::app::AppState;
use crate::auth::{Caller, Permission};
use crate::basedata::establishment::{self, Establishment, EstablishmentInput, EstablishmentQuery};
use crate::basedata::model::EstablishmentKind;
use crate::basedata::{ListPage, Table};
use crate::clock::format_beijing;
use crate::web::error::{AppError, AppResult};
use crate::web::extract::{ApiQuery, CsrfFields, PathId};
use crate::web::i18n::Lang;
use crate::web::layout::{csrf, notice_for, render, Page};
use crate::web::middleware::RequestMeta;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/establishments", get(list_page).post(list_search))
        .route("/establishments/new", get(new_page).post(create))
        .route("/establishments/export", post(export))
        .route("/establishments/{id}", get(detail_page))
        .route("/establishments/{id}/edit", get(edit_page).post(save))
}

fn kind_label(l: Lang, k: EstablishmentKind) -> &'static str {
    label(l, k, EstablishmentKind::label_zh, EstablishmentKind::label_en)
}

fn query_from(f: &CsrfFields) -> Result<EstablishmentQuery, AppError> {
    let text = |k: &str| Some(f.get(k).to_string()).filter(|s| !s.is_empty());
    Ok(EstablishmentQuery {
        name: text("name"),
        credit_code: text("credit_code"),
        kind: parse_opt(f.get("kind"), EstablishmentKind::parse),
        grid_id: id_opt(f.get("grid_id"), "grid_id")?,
        address_id: id_opt(f.get("address_id"), "address_id")?,
        page: Some(f.get("page").parse().unwrap_or(1)),
        per_page: None,
    })
}

fn fields_of(q: &EstablishmentQuery) -> Vec<(&'static str, String)> {
    let n = |o: Option<i64>| o.map(|x| x.to_string()).unwrap_or_default();
    vec![
        ("name", q.name.clone().unwrap_or_default()),
        ("credit_code", q.credit_code.clone().unwrap_or_default()),
        ("kind", q.kind.map(|k| k.code().to_string()).unwrap_or_default()),
        ("grid_id", n(q.grid_id)),
        ("address_id", n(q.address_id)),
    ]
}

/// Places may be in the URL (the address page and the map link here by grid or address).
#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct PlaceParams {
    grid_id: Option<i64>,
    address_id: Option<i64>,
}

async fn list_page(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    ApiQuery(p): ApiQuery<PlaceParams>,
) -> AppResult<Html<String>> {
    let q = EstablishmentQuery { grid_id: p.grid_id, address_id: p.address_id, ..EstablishmentQuery::default() };
    let found = establishment::search(&state, &meta, &caller, &q).await?;
    Ok(Html(list_markup(&state, &meta, &caller, &q, Ok(found)).into_string()))
}

async fn list_search(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    f: CsrfFields,
) -> AppResult<Html<String>> {
    let q = query_from(&f)?;
    let found = match establishment::search(&state, &meta, &caller, &q).await {
        Ok(found) => Ok(found),
        Err(e) => Err(notice_for(e)?),
    };
    Ok(Html(list_markup(&state, &meta, &caller, &q, found).into_string()))
}

fn list_markup(
    state: &AppState,
    meta: &RequestMeta,
    caller: &Caller,
    q: &EstablishmentQuery,
    found: Result<ListPage<Establishment>, Markup>,
) -> Markup {
    let l = meta.lang;
    let fields = fields_of(q);
    let body = html! {
        h1 { (l.t("est.title")) }
        form.filters #establishment-search method="post" action="/establishments" {
            (csrf(caller))
            label { (l.t("est.name_part")) input name="name" maxlength="100" value=(q.name.clone().unwrap_or_default()); }
            label { (l.t("est.credit_code")) input name="credit_code" maxlength="30" autocomplete="off" value=(q.credit_code.clone().unwrap_or_default()); }
            label { (l.t("est.kind")) select name="kind" {
                option value="" { (l.t("res.any")) }
                @for k in EstablishmentKind::ALL { option value=(k.code()) selected[q.kind == Some(*k)] { (kind_label(l, *k)) } }
            } }
            @for (name, value) in &fields[3..] { @if !value.is_empty() { input type="hidden" name=(name) value=(value); } }
            button type="submit" { (l.t("common.search")) }
        }
        @if caller.has(Permission::BaseDataWrite) { p.muted { (l.t("est.new_hint")) } }
        @match &found {
            Err(notice) => { (notice) }
            Ok(page) => {
                p.muted { (l.t("common.total")) " " (page.total) }
                @if page.items.is_empty() { p #establishments-empty { (l.t("est.empty")) } } @else {
                    div.table-wrap { table.responsive #establishments {
                        thead { tr { th { (l.t("est.name")) } th { (l.t("est.kind")) } th { (l.t("est.legal_rep")) } th { (l.t("res.phone")) } th { (l.t("addr.text")) } th { (l.t("addr.grid")) } } }
                        tbody { @for e in &page.items { tr {
                            td data-label=(l.t("est.name")) { a href={ "/establishments/" (e.id) } { (e.name) } }
                            td data-label=(l.t("est.kind")) { (kind_label(l, e.kind)) }
                            td data-label=(l.t("est.legal_rep")) { (e.legal_rep) }
                            td data-label=(l.t("res.phone")) { (e.phone.clone().unwrap_or_default()) }
                            td data-label=(l.t("addr.text")) { a href={ "/addresses/" (e.address_id) } { (e.address) } }
                            td data-label=(l.t("addr.grid")) { (e.grid.clone().unwrap_or_default()) }
                        } } }
                    } }
                    (post_pager(l, caller, "/establishments", &fields, page.page, page.per_page, page.total))
                    @if caller.has(Permission::PeopleExport) { (export_card(l, caller, "/establishments/export", &fields)) }
                }
            }
        }
    };
    render(state, meta, Some(caller), Page { title: l.t("est.title"), active: "/establishments", body })
}

/// What the form shows: the record, a refused post, or the address a new one is at.
#[derive(Default)]
struct Values {
    name: String,
    kind: Option<EstablishmentKind>,
    credit_code: String,
    legal_rep: String,
    address_id: String,
    /// Editing only: the recorded phone, masked.
    phone_masked: Option<String>,
}

fn form_markup(
    state: &AppState,
    meta: &RequestMeta,
    caller: &Caller,
    edit: Option<i64>,
    v: &Values,
    notice: Markup,
) -> Markup {
    let l = meta.lang;
    let title = if edit.is_some() { l.t("est.edit") } else { l.t("est.new") };
    let action = edit.map(|id| format!("/establishments/{id}/edit")).unwrap_or_else(|| "/establishments/new".into());
    let body = html! {
        h1 { (title) }
        (notice)
        form.stack #establishment-form method="post" action=(action) {
            (csrf(caller))
            label { (l.t("est.name")) input name="name" required maxlength="100" value=(v.name); }
            label { (l.t("est.kind")) select name="kind" { @for k in EstablishmentKind::ALL { option value=(k.code()) selected[v.kind == Some(*k)] { (kind_label(l, *k)) } } } }
            label { (l.t("est.credit_code")) input name="credit_code" maxlength="30" autocomplete="off" value=(v.credit_code); }
            label { (l.t("est.legal_rep")) input name="legal_rep" required maxlength="50" value=(v.legal_rep); }
            @match &v.phone_masked {
                Some(p) => {
                    label { (l.t("res.phone")) " " span.muted #phone-recorded { (p) } }
                    input name="phone" inputmode="tel" maxlength="30" autocomplete="off" placeholder=(l.t("est.phone_keep"));
                    label.check { input type="checkbox" name="remove_phone" value="1"; " " (l.t("est.phone_remove")) }
                }
                None => { label { (l.t("res.phone")) input name="phone" inputmode="tel" maxlength="30" autocomplete="off"; } }
            }
            label { (l.t("house.address_id")) input name="address_id" required inputmode="numeric" value=(v.address_id); }
            button type="submit" { (l.t("common.save")) }
        }
        @if let Some(id) = edit { p { a href={ "/establishments/" (id) } { (l.t("common.back")) } } }
    };
    render(state, meta, Some(caller), Page { title, active: "/establishments", body })
}

fn input_of(f: &CsrfFields, phone: Option<String>) -> Result<EstablishmentInput, AppError> {
    Ok(EstablishmentInput {
        name: f.get("name").to_string(),
        kind: EstablishmentKind::parse(f.get("kind")).ok_or_else(|| AppError::invalid("kind", "choose one"))?,
        credit_code: Some(f.get("credit_code").to_string()).filter(|s| !s.is_empty()),
        legal_rep: f.get("legal_rep").to_string(),
        phone,
        address_id: id_opt(f.get("address_id"), "address_id")?
            .ok_or_else(|| AppError::invalid("address_id", "give the address the establishment is at"))?,
    })
}

fn posted(f: &CsrfFields) -> Values {
    Values {
        name: f.get("name").to_string(),
        kind: EstablishmentKind::parse(f.get("kind")),
        credit_code: f.get("credit_code").to_string(),
        legal_rep: f.get("legal_rep").to_string(),
        address_id: f.get("address_id").to_string(),
        phone_masked: None,
    }
}

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct NewParams {
    address_id: Option<i64>,
}

async fn new_page(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    ApiQuery(p): ApiQuery<NewParams>,
) -> AppResult<Html<String>> {
    caller.require(Permission::BaseDataWrite)?;
    let v = Values { address_id: p.address_id.map(|a| a.to_string()).unwrap_or_default(), ..Values::default() };
    Ok(Html(form_markup(&state, &meta, &caller, None, &v, html! {}).into_string()))
}

async fn create(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    f: CsrfFields,
) -> AppResult<Response> {
    let attempt = async {
        let phone = Some(f.get("phone").to_string()).filter(|s| !s.is_empty());
        establishment::save(&state, &meta, &caller, None, &input_of(&f, phone)?).await
    };
    match attempt.await {
        Ok(id) => Ok(Redirect::to(&format!("/establishments/{id}")).into_response()),
        Err(e) => {
            let notice = notice_for(e)?;
            Ok(Html(form_markup(&state, &meta, &caller, None, &posted(&f), notice).into_string()).into_response())
        }
    }
}

async fn detail_page(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    PathId(id): PathId,
) -> AppResult<Html<String>> {
    let l = meta.lang;
    let e = establishment::get(&state, &meta, &caller, id).await?;
    let visits = crate::visits::service::recent(&state, &caller, None, Some(id), None).await?;
    let writes = caller.has(Permission::BaseDataWrite);
    let body = html! {
        h1 { (e.name) }
        @if writes {
            p {
                a.button #record-inspection href={ "/visits/new?establishment_id=" (id) } { (l.t("visit.new_inspection")) } " "
                @if caller.has(Permission::PeopleRead) { a.button.secondary #edit-establishment href={ "/establishments/" (id) "/edit" } { (l.t("est.edit")) } }
            }
        }
        dl.facts #establishment {
            dt { (l.t("est.kind")) } dd { (kind_label(l, e.kind)) }
            dt { (l.t("est.credit_code")) } dd { (e.credit_code.clone().unwrap_or_else(|| "—".into())) }
            dt { (l.t("est.legal_rep")) } dd #legal-rep { (e.legal_rep) }
            dt { (l.t("res.phone")) } dd #establishment-phone { (e.phone.clone().unwrap_or_else(|| "—".into())) }
            dt { (l.t("addr.text")) } dd { a href={ "/addresses/" (e.address_id) } { (e.address) } }
            dt { (l.t("addr.grid")) } dd { (e.grid.clone().unwrap_or_default()) }
        }
        h2 { (l.t("est.inspections")) }
        @if visits.is_empty() { p.muted { (l.t("visit.none")) } } @else {
            ul #visits { @for v in visits.iter().take(10) {
                li { (format_beijing(v.visited_at)) " · " (v.officer) " · "
                    (crate::visits::service::Finding::parse(&v.finding).map(|f| f.label(l == Lang::Zh)).unwrap_or(""))
                    @if !v.note.is_empty() { " · " (v.note) } }
            } }
        }
        p { a href="/establishments" { (l.t("common.back")) } }
    };
    Ok(Html(
        render(&state, &meta, Some(&caller), Page { title: l.t("est.title"), active: "/establishments", body })
            .into_string(),
    ))
}

async fn recorded(state: &AppState, meta: &RequestMeta, caller: &Caller, id: i64) -> Result<Values, AppError> {
    let e = establishment::get(state, meta, caller, id).await?;
    Ok(Values {
        name: e.name,
        kind: Some(e.kind),
        credit_code: e.credit_code.unwrap_or_default(),
        legal_rep: e.legal_rep,
        address_id: e.address_id.to_string(),
        phone_masked: Some(e.phone.unwrap_or_else(|| "—".into())),
    })
}

async fn edit_page(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    PathId(id): PathId,
) -> AppResult<Html<String>> {
    may_correct(&state, &meta, &caller, Table::Establishment, id, "establishment.update").await?;
    let v = recorded(&state, &meta, &caller, id).await?;
    Ok(Html(form_markup(&state, &meta, &caller, Some(id), &v, html! {}).into_string()))
}

async fn save(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    PathId(id): PathId,
    f: CsrfFields,
) -> AppResult<Response> {
    may_correct(&state, &meta, &caller, Table::Establishment, id, "establishment.update").await?;
    let attempt = async {
        let phone = match (f.get("phone"), f.get("remove_phone")) {
            ("", "1") => None,
            ("", _) => establishment::recorded_phone(&state, &meta, &caller, id).await?,
            (typed, _) => Some(typed.to_string()),
        };
        establishment::save(&state, &meta, &caller, Some(id), &input_of(&f, phone)?).await
    };
    match attempt.await {
        Ok(_) => Ok(Redirect::to(&format!("/establishments/{id}")).into_response()),
        Err(e) => {
            let notice = notice_for(e)?;
            let shown = recorded(&state, &meta, &caller, id).await?;
            let v = Values { phone_masked: shown.phone_masked, ..posted(&f) };
            Ok(Html(form_markup(&state, &meta, &caller, Some(id), &v, notice).into_string()).into_response())
        }
    }
}

async fn export(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    f: CsrfFields,
) -> AppResult<Response> {
    let req = crate::basedata::export_lists::EstablishmentExport {
        format: format_of(f.get("format")),
        reason: f.get("reason").to_string(),
        query: EstablishmentQuery { page: None, ..query_from(&f)? },
    };
    crate::basedata::export_lists::establishments(&state, &meta, &caller, &req).await
}
