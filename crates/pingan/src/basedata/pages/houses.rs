//! House pages (实有房屋): the list (owner-occupied, rented, vacant) by address, grid and use,
//! recording a house at an address, the record with the people living in it (tenants marked),
//! correcting it, and the export of the list, which names tenants and so needs a reason.

use axum::extract::State;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup};

use super::{export_card, format_of, get_pager, id_opt, label, may_correct, parse_opt, query_string};
use crate::app::AppState;
use crate::auth::{Caller, Permission};
use crate::basedata::house::{self, House, HouseInput, HouseQuery};
use crate::basedata::model::{HouseRelation, HouseUse};
use crate::basedata::Table;
use crate::clock::format_beijing;
use crate::web::error::{AppError, AppResult};
use crate::web::extract::{ApiQuery, CsrfFields, PathId};
use crate::web::i18n::Lang;
use crate::web::layout::{csrf, notice_for, render, Page};
use crate::web::middleware::RequestMeta;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/houses", get(list_page))
        .route("/houses/new", get(new_page).post(create))
        .route("/houses/export", post(export))
        .route("/houses/{id}", get(detail_page))
        .route("/houses/{id}/edit", get(edit_page).post(save))
}

fn use_label(l: Lang, code: &str) -> &'static str {
    HouseUse::parse(code).map(|u| label(l, u, HouseUse::label_zh, HouseUse::label_en)).unwrap_or("")
}

fn unit_text(l: Lang, h: &House) -> String {
    if h.unit.is_empty() {
        l.t("house.whole").to_string()
    } else {
        h.unit.clone()
    }
}

fn query_fields(q: &HouseQuery) -> Vec<(&'static str, String)> {
    let n = |o: Option<i64>| o.map(|x| x.to_string()).unwrap_or_default();
    vec![
        ("q", q.q.clone().unwrap_or_default()),
        ("grid_id", n(q.grid_id)),
        ("address_id", n(q.address_id)),
        ("use_kind", q.use_kind.map(|u| u.code().to_string()).unwrap_or_default()),
    ]
}

async fn list_page(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    ApiQuery(q): ApiQuery<HouseQuery>,
) -> AppResult<Html<String>> {
    let l = meta.lang;
    let found = house::search(&state, &caller, &q).await?;
    let fields = query_fields(&q);
    let base = format!("/houses{}", query_string(&fields));
    let body = html! {
        h1 { (l.t("house.title")) }
        form.filters #house-search method="get" action="/houses" {
            label { (l.t("addr.q")) input name="q" maxlength="100" value=(q.q.clone().unwrap_or_default()); }
            label { (l.t("addr.use")) select name="use_kind" {
                option value="" { (l.t("res.any")) }
                @for u in HouseUse::ALL { option value=(u.code()) selected[q.use_kind == Some(*u)] { (label(l, *u, HouseUse::label_zh, HouseUse::label_en)) } }
            } }
            @for (name, value) in &fields[1..3] { @if !value.is_empty() { input type="hidden" name=(name) value=(value); } }
            button type="submit" { (l.t("common.search")) }
        }
        @if caller.has(Permission::BaseDataWrite) { p.muted { (l.t("house.new_hint")) } }
        p.muted { (l.t("common.total")) " " (found.total) }
        @if found.items.is_empty() { p #houses-empty { (l.t("house.empty")) } } @else {
            div.table-wrap { table.responsive #houses {
                thead { tr { th { (l.t("addr.text")) } th { (l.t("addr.unit")) } th { (l.t("addr.use")) } th { (l.t("addr.grid")) } th { (l.t("addr.residents")) } th { (l.t("house.tenants")) } } }
                tbody { @for h in &found.items { tr {
                    td data-label=(l.t("addr.text")) { a href={ "/addresses/" (h.address_id) } { (h.address) } }
                    td data-label=(l.t("addr.unit")) { a href={ "/houses/" (h.id) } { (unit_text(l, h)) } }
                    td data-label=(l.t("addr.use")) { (use_label(l, &h.use_kind)) }
                    td data-label=(l.t("addr.grid")) { (h.grid.clone().unwrap_or_else(|| l.t("addr.no_grid").into())) }
                    td data-label=(l.t("addr.residents")) { (h.residents) }
                    td data-label=(l.t("house.tenants")) { (h.tenants) }
                } } }
            } }
            (get_pager(l, &base, found.page, found.per_page, found.total))
            @if caller.has(Permission::PeopleExport) { (export_card(l, &caller, "/houses/export", &fields)) }
        }
    };
    Ok(Html(
        render(&state, &meta, Some(&caller), Page { title: l.t("house.title"), active: "/houses", body }).into_string(),
    ))
}

/// The form for a new house (`house` none) or a correction. A house never moves to another
/// address (record a new one), so a correction keeps its address.
fn form_markup(
    state: &AppState,
    meta: &RequestMeta,
    caller: &Caller,
    house: Option<&House>,
    address_id: Option<i64>,
    notice: Markup,
) -> Markup {
    let l = meta.lang;
    let title = if house.is_some() { l.t("house.edit") } else { l.t("addr.add_house") };
    let action = house.map(|h| format!("/houses/{}/edit", h.id)).unwrap_or_else(|| "/houses/new".into());
    let (unit, use_kind, area) = match house {
        Some(h) => (h.unit.clone(), HouseUse::parse(&h.use_kind), h.area_m2.map(|a| a.to_string()).unwrap_or_default()),
        None => (String::new(), None, String::new()),
    };
    let body = html! {
        h1 { (title) }
        (notice)
        form.stack #house-form method="post" action=(action) {
            (csrf(caller))
            @match house {
                Some(h) => { p { (h.address) } input type="hidden" name="address_id" value=(h.address_id); }
                None => { label { (l.t("house.address_id")) input name="address_id" required inputmode="numeric" value=(address_id.map(|a| a.to_string()).unwrap_or_default()); } }
            }
            label { (l.t("addr.unit")) input name="unit" maxlength="50" placeholder="3单元502" value=(unit); }
            fieldset.choices { legend { (l.t("addr.use")) }
                @for (i, u) in HouseUse::ALL.iter().enumerate() {
                    label.choice { input type="radio" name="use_kind" value=(u.code()) checked[use_kind.map_or(i == 0, |k| k == *u)]; " " (label(l, *u, HouseUse::label_zh, HouseUse::label_en)) }
                }
            }
            label { (l.t("house.area")) input name="area_m2" inputmode="decimal" value=(area); }
            button type="submit" { (l.t("common.save")) }
        }
    };
    render(state, meta, Some(caller), Page { title, active: "/houses", body })
}

fn input_of(f: &CsrfFields) -> Result<HouseInput, AppError> {
    let area = match f.get("area_m2") {
        "" => None,
        a => Some(a.parse::<f64>().map_err(|_| AppError::invalid("area_m2", "a number of square metres"))?),
    };
    Ok(HouseInput {
        address_id: id_opt(f.get("address_id"), "address_id")?
            .ok_or_else(|| AppError::invalid("address_id", "give the address the house is at"))?,
        unit: f.get("unit").to_string(),
        use_kind: parse_opt(f.get("use_kind"), HouseUse::parse)
            .ok_or_else(|| AppError::invalid("use_kind", "choose one"))?,
        area_m2: area,
    })
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
    Ok(Html(form_markup(&state, &meta, &caller, None, p.address_id, html! {}).into_string()))
}

async fn create(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    f: CsrfFields,
) -> AppResult<Response> {
    let attempt = async { house::create(&state, &meta, &caller, &input_of(&f)?).await };
    match attempt.await {
        Ok(id) => Ok(Redirect::to(&format!("/houses/{id}")).into_response()),
        Err(e) => {
            let notice = notice_for(e)?;
            let at = id_opt(f.get("address_id"), "address_id").ok().flatten();
            Ok(Html(form_markup(&state, &meta, &caller, None, at, notice).into_string()).into_response())
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
    let (h, people) = house::view(&state, &meta, &caller, id).await?;
    let visits = crate::visits::service::recent(&state, &caller, Some(id), None, None).await?;
    let writes = caller.has(Permission::BaseDataWrite);
    let relation = |r: Option<HouseRelation>| {
        r.map(|r| label(l, r, HouseRelation::label_zh, HouseRelation::label_en)).unwrap_or("")
    };
    let body = html! {
        h1 { (h.address) " " (unit_text(l, &h)) }
        @if writes && caller.has(Permission::PeopleRead) { p { a.button #edit-house href={ "/houses/" (id) "/edit" } { (l.t("house.edit")) } } }
        dl.facts #house {
            dt { (l.t("addr.text")) } dd { a href={ "/addresses/" (h.address_id) } { (h.address) } }
            dt { (l.t("addr.unit")) } dd { (unit_text(l, &h)) }
            dt { (l.t("addr.use")) } dd #house-use { (use_label(l, &h.use_kind)) }
            @if let Some(a) = h.area_m2 { dt { (l.t("house.area")) } dd { (a) " m²" } }
            dt { (l.t("addr.grid")) } dd { (h.grid.clone().unwrap_or_else(|| l.t("addr.no_grid").into())) }
        }
        h2 { (l.t("house.occupants")) " (" (people.len()) ")" }
        @if people.is_empty() { p.muted #house-empty { (l.t("house.no_one")) } } @else {
            ul #house-occupants { @for o in &people {
                li class=@if o.relation == Some(HouseRelation::Tenant) { "tenant" } {
                    a href={ "/residents/" (o.id) } { (o.name) } " · " (relation(o.relation))
                }
            } }
        }
        @if writes {
            p {
                a.button href={ "/residents/new?address_id=" (h.address_id) "&house_id=" (id) } { (l.t("addr.add_resident")) } " "
                a.button #record-visit href={ "/visits/new?house_id=" (id) } { (l.t("visit.new")) }
            }
        }
        h2 { (l.t("visit.recent")) }
        @if visits.is_empty() { p.muted { (l.t("visit.none")) } } @else {
            ul #visits { @for v in visits.iter().take(10) {
                li { (format_beijing(v.visited_at)) " · " (v.officer) " · "
                    (crate::visits::service::Finding::parse(&v.finding).map(|f| f.label(l == Lang::Zh)).unwrap_or("")) }
            } }
        }
        p { a href="/houses" { (l.t("common.back")) } }
    };
    Ok(Html(
        render(&state, &meta, Some(&caller), Page { title: l.t("house.title"), active: "/houses", body }).into_string(),
    ))
}

async fn edit_page(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    PathId(id): PathId,
) -> AppResult<Html<String>> {
    may_correct(&state, &meta, &caller, Table::House, id, "house.update").await?;
    let h = house::get(&state, &meta, &caller, id).await?;
    Ok(Html(form_markup(&state, &meta, &caller, Some(&h), None, html! {}).into_string()))
}

async fn save(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    PathId(id): PathId,
    f: CsrfFields,
) -> AppResult<Response> {
    may_correct(&state, &meta, &caller, Table::House, id, "house.update").await?;
    let attempt = async { house::update(&state, &meta, &caller, id, &input_of(&f)?).await };
    match attempt.await {
        Ok(()) => Ok(Redirect::to(&format!("/houses/{id}")).into_response()),
        Err(e) => {
            let notice = notice_for(e)?;
            let h = house::get(&state, &meta, &caller, id).await?;
            Ok(Html(form_markup(&state, &meta, &caller, Some(&h), None, notice).into_string()).into_response())
        }
    }
}

async fn export(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    f: CsrfFields,
) -> AppResult<Response> {
    let req = crate::basedata::export_lists::HouseExport {
        format: format_of(f.get("format")),
        reason: f.get("reason").to_string(),
        query: HouseQuery {
            q: Some(f.get("q").to_string()).filter(|s| !s.is_empty()),
            grid_id: id_opt(f.get("grid_id"), "grid_id")?,
            address_id: id_opt(f.get("address_id"), "address_id")?,
            use_kind: parse_opt(f.get("use_kind"), HouseUse::parse),
            page: None,
            per_page: None,
        },
    };
    crate::basedata::export_lists::houses(&state, &meta, &caller, &req).await
}
