//! Standard-address pages (标准地址): the list by part of the text, recording one, the record with
//! what stands at it (houses, establishments, residents), correcting its text or point, and the
//! export of the list (places and counts: no reason needed).

use axum::extract::State;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use maud::{html, Markup};

use super::{export_links, get_pager, label, query_string};
use crate::app::AppState;
use crate::auth::{Caller, Permission};
use crate::basedata::address::{self, AddressInput, AddressQuery};
use crate::basedata::establishment::{self, EstablishmentQuery};
use crate::basedata::house;
use crate::basedata::model::{DatumCode, EstablishmentKind, HouseUse};
use crate::basedata::search::{self, ResidentQuery};
use crate::web::error::{AppError, AppResult};
use crate::web::extract::{ApiQuery, CsrfFields, PathId};
use crate::web::layout::{csrf, notice_for, render, Page};
use crate::web::middleware::RequestMeta;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/addresses", get(list_page).post(create))
        .route("/addresses/export", get(export))
        .route("/addresses/{id}", get(detail_page))
        .route("/addresses/{id}/edit", get(edit_page).post(save))
}

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ListParams {
    q: Option<String>,
    grid_id: Option<i64>,
    page: Option<i64>,
}

async fn list_page(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    ApiQuery(p): ApiQuery<ListParams>,
) -> AppResult<Html<String>> {
    let l = meta.lang;
    let q = AddressQuery { q: p.q.clone(), grid_id: p.grid_id, page: p.page, per_page: None };
    let found = address::search(&state, &caller, &q).await?;
    let text = p.q.clone().unwrap_or_default();
    let query = query_string(&[("q", text.clone()), ("grid_id", p.grid_id.map(|g| g.to_string()).unwrap_or_default())]);
    let body = html! {
        h1 { (l.t("addr.title")) }
        @if caller.has(Permission::BaseDataWrite) {
            details.card #new-address { summary { (l.t("addr.new")) } (point_form(&caller, l, "/addresses", None)) }
        }
        form.filters method="get" action="/addresses" {
            label { (l.t("addr.q")) input name="q" maxlength="100" value=(text); }
            @if let Some(g) = p.grid_id { input type="hidden" name="grid_id" value=(g); }
            button type="submit" { (l.t("common.search")) }
        }
        p.muted { (l.t("common.total")) " " (found.total) }
        @if found.items.is_empty() { p #addresses-empty { (l.t("addr.empty")) } } @else {
            div.table-wrap { table.responsive #addresses {
                thead { tr { th { (l.t("addr.text")) } th { (l.t("addr.grid")) } th { (l.t("addr.houses")) } th { (l.t("addr.residents")) } th { (l.t("addr.establishments")) } } }
                tbody { @for a in &found.items { tr {
                    td data-label=(l.t("addr.text")) { a href={ "/addresses/" (a.id) } { (a.text) } }
                    td data-label=(l.t("addr.grid")) { (a.grid_name.clone().unwrap_or_else(|| l.t("addr.no_grid").into())) }
                    td data-label=(l.t("addr.houses")) { (a.houses) }
                    td data-label=(l.t("addr.residents")) { (a.residents) }
                    td data-label=(l.t("addr.establishments")) { (a.establishments) }
                } } }
            } }
            (get_pager(l, &format!("/addresses{query}"), found.page, found.per_page, found.total))
            (export_links(l, "/addresses/export", &query))
        }
    };
    Ok(Html(
        render(&state, &meta, Some(&caller), Page { title: l.t("addr.title"), active: "/addresses", body })
            .into_string(),
    ))
}

/// Text and point; for a correction, prefilled with the stored WGS-84 point.
fn point_form(caller: &Caller, l: crate::web::i18n::Lang, action: &str, a: Option<&address::Address>) -> Markup {
    let (text, lon, lat) = match a {
        Some(a) => (a.text.clone(), format!("{:.7}", a.lon), format!("{:.7}", a.lat)),
        None => Default::default(),
    };
    html! {
        form.stack #address-form method="post" action=(action) {
            (csrf(caller))
            label { (l.t("addr.text")) input name="text" required minlength="2" maxlength="200" value=(text); }
            label { (l.t("addr.lon")) input name="lon" required inputmode="decimal" value=(lon); }
            label { (l.t("addr.lat")) input name="lat" required inputmode="decimal" value=(lat); }
            label { (l.t("addr.datum")) select name="datum" { option value="wgs84" { "WGS-84" } option value="gcj02" { "GCJ-02" } option value="cgcs2000" { "CGCS2000" } } }
            button type="submit" { (l.t("common.save")) }
        }
    }
}

fn input_of(f: &CsrfFields) -> Result<AddressInput, AppError> {
    let number = |k: &str| f.get(k).parse::<f64>().map_err(|_| AppError::invalid(k, "a decimal number of degrees"));
    let datum = match f.get("datum") {
        "gcj02" => DatumCode::Gcj02,
        "cgcs2000" => DatumCode::Cgcs2000,
        _ => DatumCode::Wgs84,
    };
    Ok(AddressInput { text: f.get("text").to_string(), lon: number("lon")?, lat: number("lat")?, datum })
}

/// A refused address form: the reason, and the way back.
fn refused(state: &AppState, meta: &RequestMeta, caller: &Caller, notice: Markup, back: &str) -> Response {
    let l = meta.lang;
    let body = html! { h1 { (l.t("addr.new")) } (notice) p { a href=(back) { (l.t("common.back")) } } };
    Html(render(state, meta, Some(caller), Page { title: l.t("addr.new"), active: "/addresses", body }).into_string())
        .into_response()
}

async fn create(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    f: CsrfFields,
) -> AppResult<Response> {
    let attempt = async { address::create(&state, &meta, &caller, &input_of(&f)?).await };
    match attempt.await {
        Ok(id) => Ok(Redirect::to(&format!("/addresses/{id}")).into_response()),
        Err(e) => Ok(refused(&state, &meta, &caller, notice_for(e)?, "/addresses")),
    }
}

async fn detail_page(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    PathId(id): PathId,
) -> AppResult<Html<String>> {
    let l = meta.lang;
    let a = address::get(&state, &meta, &caller, id).await?;
    let houses = house::at_address(&state, &meta, &caller, id).await?;
    let reads_people = caller.has(Permission::PeopleRead) || caller.has(Permission::PeopleReadMasked);
    let (people, shops) = if reads_people {
        let q = ResidentQuery { address_id: Some(id), per_page: Some(200), ..ResidentQuery::default() };
        let e = EstablishmentQuery { address_id: Some(id), per_page: Some(200), ..EstablishmentQuery::default() };
        (
            search::search(&state, &meta, &caller, &q).await?.items,
            establishment::search(&state, &meta, &caller, &e).await?.items,
        )
    } else {
        (Vec::new(), Vec::new())
    };
    let writes = caller.has(Permission::BaseDataWrite);
    let body = html! {
        h1 { (a.text) }
        @if writes { p { a.button #edit-address href={ "/addresses/" (id) "/edit" } { (l.t("addr.edit")) } } }
        dl.facts {
            dt { (l.t("addr.grid")) } dd { (a.grid_name.clone().unwrap_or_else(|| l.t("addr.no_grid").into())) }
            dt { (l.t("addr.lon")) " / " (l.t("addr.lat")) } dd { (format!("{:.6}, {:.6}", a.lon, a.lat)) " (WGS-84)" }
        }
        h2 { (l.t("addr.houses")) }
        @if houses.is_empty() { p.muted { (l.t("common.none")) } } @else {
            ul #address-houses { @for h in &houses { li {
                a href={ "/houses/" (h.id) } { (if h.unit.is_empty() { l.t("house.whole") } else { &h.unit }) }
                " · " (HouseUse::parse(&h.use_kind).map(|u| label(l, u, HouseUse::label_zh, HouseUse::label_en)).unwrap_or(""))
                " · " (l.t("addr.residents")) " " (h.residents)
                @if writes { " " a href={ "/visits/new?house_id=" (h.id) } { (l.t("visit.new")) } }
            } } }
        }
        @if writes { p { a.button href={ "/houses/new?address_id=" (id) } { (l.t("addr.add_house")) } } }
        @if reads_people {
            h2 { (l.t("addr.establishments")) }
            @if shops.is_empty() { p.muted { (l.t("common.none")) } } @else {
                ul #address-establishments { @for e in &shops { li {
                    a href={ "/establishments/" (e.id) } { (e.name) } " · " (label(l, e.kind, EstablishmentKind::label_zh, EstablishmentKind::label_en))
                } } }
            }
            @if writes { p { a.button href={ "/establishments/new?address_id=" (id) } { (l.t("est.new")) } } }
            h2 { (l.t("addr.residents")) }
            @if people.is_empty() { p.muted { (l.t("common.none")) } } @else {
                ul #address-residents { @for r in &people { li { a href={ "/residents/" (r.id) } { (r.name) } " " (r.id_number.clone().unwrap_or_default()) } } }
            }
            @if writes { p { a.button href={ "/residents/new?address_id=" (id) } { (l.t("addr.add_resident")) } } }
        }
        p { a href="/addresses" { (l.t("common.back")) } }
    };
    Ok(Html(
        render(&state, &meta, Some(&caller), Page { title: l.t("addr.title"), active: "/addresses", body })
            .into_string(),
    ))
}

fn edit_markup(state: &AppState, meta: &RequestMeta, caller: &Caller, a: &address::Address, notice: Markup) -> Markup {
    let l = meta.lang;
    let body = html! {
        h1 { (l.t("addr.edit")) }
        (notice)
        p.muted { (l.t("addr.edit_hint")) }
        (point_form(caller, l, &format!("/addresses/{}/edit", a.id), Some(a)))
        p { a href={ "/addresses/" (a.id) } { (l.t("common.back")) } }
    };
    render(state, meta, Some(caller), Page { title: l.t("addr.edit"), active: "/addresses", body })
}

async fn edit_page(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    PathId(id): PathId,
) -> AppResult<Html<String>> {
    caller.require(Permission::BaseDataWrite)?;
    let a = address::get(&state, &meta, &caller, id).await?;
    Ok(Html(edit_markup(&state, &meta, &caller, &a, html! {}).into_string()))
}

async fn save(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    PathId(id): PathId,
    f: CsrfFields,
) -> AppResult<Response> {
    let attempt = async { address::update(&state, &meta, &caller, id, &input_of(&f)?).await };
    match attempt.await {
        Ok(()) => Ok(Redirect::to(&format!("/addresses/{id}")).into_response()),
        Err(e) => {
            let notice = notice_for(e)?;
            let a = address::get(&state, &meta, &caller, id).await?;
            Ok(Html(edit_markup(&state, &meta, &caller, &a, notice).into_string()).into_response())
        }
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ExportParams {
    format: crate::tabular::Format,
    q: Option<String>,
    grid_id: Option<i64>,
}

async fn export(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    ApiQuery(p): ApiQuery<ExportParams>,
) -> AppResult<Response> {
    let q = AddressQuery { q: p.q, grid_id: p.grid_id, page: None, per_page: None };
    crate::basedata::export_lists::addresses(&state, &meta, &caller, &q, p.format).await
}
