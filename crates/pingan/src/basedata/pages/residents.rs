//! Resident pages: the search (posted, so identifiers never reach a URL), the masked record with
//! its audited unmask, and the export of a search.

use axum::extract::State;
use axum::response::{Html, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup};

use super::{export_card, id_opt, label, parse_opt, post_pager};
use crate::app::AppState;
use crate::auth::{Caller, Permission};
use crate::basedata::model::{HouseRelation, Residence, Sex, Tag};
use crate::basedata::resident::{self, UnmaskField, UnmaskInput, Unmasked};
use crate::basedata::search::{self, ResidentDetail, ResidentItem, ResidentQuery};
use crate::basedata::ListPage;
use crate::web::error::{AppError, AppResult};
use crate::web::extract::{ApiQuery, CsrfFields, PathId};
use crate::web::i18n::Lang;
use crate::web::layout::{csrf, notice_for, render, Page};
use crate::web::middleware::RequestMeta;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/residents", get(residents_page).post(residents_search))
        .route("/residents/{id}", get(detail_page))
        .route("/residents/{id}/unmask", post(unmask))
        .route("/residents/export", post(export))
}

pub(super) fn tag_label(l: Lang, t: Tag) -> &'static str {
    label(l, t, Tag::label_zh, Tag::label_en)
}

/// The search as posted by the list, its pager and its export form.
fn query_from(f: &CsrfFields) -> Result<ResidentQuery, AppError> {
    let text = |k: &str| Some(f.get(k).to_string()).filter(|s| !s.is_empty());
    Ok(ResidentQuery {
        name: text("name"),
        id_number: text("id_number"),
        phone: text("phone"),
        grid_id: id_opt(f.get("grid_id"), "grid_id")?,
        address_id: id_opt(f.get("address_id"), "address_id")?,
        house_id: id_opt(f.get("house_id"), "house_id")?,
        tag: parse_opt(f.get("tag"), Tag::parse),
        residence: parse_opt(f.get("residence"), Residence::parse),
        page: None,
        per_page: None,
    })
}

/// The search again as hidden form fields, for the pager and the export.
fn fields_of(q: &ResidentQuery) -> Vec<(&'static str, String)> {
    let v = |o: &Option<String>| o.clone().unwrap_or_default();
    let n = |o: Option<i64>| o.map(|x| x.to_string()).unwrap_or_default();
    vec![
        ("name", v(&q.name)),
        ("id_number", v(&q.id_number)),
        ("phone", v(&q.phone)),
        ("tag", q.tag.map(|t| t.code().to_string()).unwrap_or_default()),
        ("residence", q.residence.map(|r| r.code().to_string()).unwrap_or_default()),
        ("address_id", n(q.address_id)),
        ("grid_id", n(q.grid_id)),
        ("house_id", n(q.house_id)),
    ]
}

/// Places, not people, may be in a URL: the map's grid card links to its residents this way.
#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct PlaceParams {
    grid_id: Option<i64>,
    address_id: Option<i64>,
    house_id: Option<i64>,
}

async fn residents_page(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    ApiQuery(p): ApiQuery<PlaceParams>,
) -> AppResult<Html<String>> {
    let q = ResidentQuery {
        grid_id: p.grid_id,
        address_id: p.address_id,
        house_id: p.house_id,
        ..ResidentQuery::default()
    };
    let found = search::search(&state, &meta, &caller, &q).await?;
    Ok(Html(residents_markup(&state, &meta, &caller, &q, Ok(found)).into_string()))
}

async fn residents_search(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    f: CsrfFields,
) -> AppResult<Html<String>> {
    let mut q = query_from(&f)?;
    q.page = Some(f.get("page").parse().unwrap_or(1));
    let found = match search::search(&state, &meta, &caller, &q).await {
        Ok(found) => Ok(found),
        Err(e) => Err(notice_for(e)?),
    };
    Ok(Html(residents_markup(&state, &meta, &caller, &q, found).into_string()))
}

fn residents_markup(
    state: &AppState,
    meta: &RequestMeta,
    caller: &Caller,
    q: &ResidentQuery,
    found: Result<ListPage<ResidentItem>, Markup>,
) -> Markup {
    let l = meta.lang;
    let v = |o: &Option<String>| o.clone().unwrap_or_default();
    let body = html! {
        h1 { (l.t("res.title")) }
        form.filters #resident-search method="post" action="/residents" {
            (csrf(caller))
            label { (l.t("res.name_part")) input name="name" maxlength="50" value=(v(&q.name)); }
            label { (l.t("res.id_number")) input name="id_number" maxlength="30" autocomplete="off" placeholder=(l.t("res.id_hint")) value=(v(&q.id_number)); }
            label { (l.t("res.phone")) input name="phone" inputmode="tel" maxlength="30" autocomplete="off" value=(v(&q.phone)); }
            label { (l.t("res.tags")) select name="tag" {
                option value="" { (l.t("res.any")) }
                @for t in Tag::ALL { option value=(t.code()) selected[q.tag == Some(*t)] { (tag_label(l, *t)) } }
            } }
            label { (l.t("res.residence")) select name="residence" {
                option value="" { (l.t("res.any")) }
                @for r in Residence::ALL { option value=(r.code()) selected[q.residence == Some(*r)] { (label(l, *r, Residence::label_zh, Residence::label_en)) } }
            } }
            @if let Some(a) = q.address_id { input type="hidden" name="address_id" value=(a); }
            @if let Some(g) = q.grid_id { input type="hidden" name="grid_id" value=(g); }
            @if let Some(h) = q.house_id { input type="hidden" name="house_id" value=(h); }
            button type="submit" { (l.t("common.search")) }
        }
        p.muted { (l.t("res.search_hint")) }
        @if caller.has(Permission::BaseDataWrite) {
            p { a.button href="/residents/new" { (l.t("res.new")) } " " a.button href="/residents/import" { (l.t("imp.link")) } }
        }
        @match &found {
            Err(notice) => { (notice) }
            Ok(page) => {
                p.muted { (l.t("common.total")) " " (page.total) }
                @if page.items.is_empty() { p { (l.t("res.empty")) } } @else {
                    div.table-wrap { table.responsive #residents {
                        thead { tr { th { (l.t("res.name")) } th { (l.t("res.sex")) } th { (l.t("res.id_number")) } th { (l.t("res.phone")) } th { (l.t("res.address")) } th { (l.t("res.grid")) } th { (l.t("res.tags")) } } }
                        tbody { @for r in &page.items { tr {
                            td data-label=(l.t("res.name")) { a href={ "/residents/" (r.id) } { (r.name) } }
                            td data-label=(l.t("res.sex")) { (Sex::parse(&r.sex).map(|s| label(l, s, Sex::label_zh, Sex::label_en)).unwrap_or("")) }
                            td data-label=(l.t("res.id_number")) { (r.id_number.clone().unwrap_or_else(|| l.t("res.no_id").into())) }
                            td data-label=(l.t("res.phone")) { (v(&r.phone)) }
                            td data-label=(l.t("res.address")) { (v(&r.address)) }
                            td data-label=(l.t("res.grid")) { (v(&r.grid)) }
                            td data-label=(l.t("res.tags")) { @for t in &r.tags { span.tag { (tag_label(l, *t)) } " " } }
                        } } }
                    } }
                    (post_pager(l, caller, "/residents", &fields_of(q), page.page, page.per_page, page.total))
                    @if caller.has(Permission::PeopleExport) { (export_card(l, caller, "/residents/export", &fields_of(q))) }
                }
            }
        }
    };
    render(state, meta, Some(caller), Page { title: l.t("res.title"), active: "/residents", body })
}

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct DetailParams {
    visited: Option<u8>,
    saved: Option<u8>,
}

async fn detail_page(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    PathId(id): PathId,
    ApiQuery(p): ApiQuery<DetailParams>,
) -> AppResult<Html<String>> {
    let r = search::view(&state, &meta, &caller, id).await?;
    let notice = match (p.visited, p.saved) {
        (Some(_), _) => html! { p.notice role="status" { (meta.lang.t("visit.saved")) } },
        (_, Some(_)) => html! { p.notice role="status" { (meta.lang.t("res.saved")) } },
        _ => html! {},
    };
    Ok(Html(detail_markup(&state, &meta, &caller, &r, None, notice).await?.into_string()))
}

async fn unmask(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    PathId(id): PathId,
    f: CsrfFields,
) -> AppResult<Html<String>> {
    let field = if f.get("field") == "phones" { UnmaskField::Phones } else { UnmaskField::IdNumber };
    let input = UnmaskInput { field, reason: f.get("reason").to_string() };
    let (shown, notice) = match resident::unmask(&state, &meta, &caller, id, &input).await {
        Ok(u) => (Some(u), html! { p.notice role="status" { (meta.lang.t("res.unmasked_note")) } }),
        Err(e) => (None, notice_for(e)?),
    };
    let r = search::view(&state, &meta, &caller, id).await?;
    Ok(Html(detail_markup(&state, &meta, &caller, &r, shown.as_ref(), notice).await?.into_string()))
}

async fn detail_markup(
    state: &AppState,
    meta: &RequestMeta,
    caller: &Caller,
    r: &ResidentDetail,
    shown: Option<&Unmasked>,
    notice: Markup,
) -> AppResult<Markup> {
    let l = meta.lang;
    let visits = match r.house_id {
        Some(h) => crate::visits::service::recent(state, caller, Some(h), None, None).await?,
        None => Vec::new(),
    };
    let i = &r.item;
    let id_text = shown
        .and_then(|u| u.id_number.clone())
        .or_else(|| i.id_number.clone())
        .unwrap_or_else(|| l.t("res.no_id").into());
    let phones = match shown.filter(|u| !u.phones.is_empty()) {
        Some(u) => u.phones.join("，"),
        None => r.phones.join("，"),
    };
    let residence =
        Residence::parse(&i.residence).map(|x| label(l, x, Residence::label_zh, Residence::label_en)).unwrap_or("");
    let body = html! {
        h1 { (i.name) }
        (notice)
        @if caller.has(Permission::BaseDataWrite) && caller.has(Permission::PeopleRead) { p { a.button #edit-resident href={ "/residents/" (i.id) "/edit" } { (l.t("res.edit")) } } }
        dl.facts #resident {
            dt { (l.t("res.id_number")) } dd #id-number { (id_text) }
            dt { (l.t("res.sex")) } dd { (Sex::parse(&i.sex).map(|s| label(l, s, Sex::label_zh, Sex::label_en)).unwrap_or("")) }
            dt { (l.t("res.birth")) } dd { (i.birth_date.clone().unwrap_or_default()) }
            dt { (l.t("res.phones")) } dd #phones { (phones) }
            dt { (l.t("res.residence")) } dd { (residence) }
            @if !r.registered_address.is_empty() { dt { (l.t("res.registered_address")) } dd { (r.registered_address) } }
            dt { (l.t("res.address")) } dd {
                @if let Some(a) = r.address_id { a href={ "/addresses/" (a) } { (i.address.clone().unwrap_or_default()) } }
                @if let (Some(h), Some(u)) = (r.house_id, &r.house_unit) { " " a href={ "/houses/" (h) } { (u) } }
            }
            @if let Some(rel) = r.house_relation { dt { (l.t("res.relation")) } dd { (label(l, rel, HouseRelation::label_zh, HouseRelation::label_en)) } }
            dt { (l.t("res.grid")) } dd { (i.grid.clone().unwrap_or_default()) }
            dt { (l.t("res.tags")) } dd { @for t in &i.tags { span.tag { (tag_label(l, *t)) } " " } }
            @if !r.note.is_empty() { dt { (l.t("res.note")) } dd { (r.note) } }
        }
        @if r.can_unmask {
            div.card {
                h2 { (l.t("res.unmask")) }
                form.stack #unmask method="post" action={ "/residents/" (i.id) "/unmask" } {
                    (csrf(caller))
                    label { (l.t("res.unmask_id")) " " input type="radio" name="field" value="id_number" checked; }
                    label { (l.t("res.unmask_phones")) " " input type="radio" name="field" value="phones"; }
                    label { (l.t("res.unmask_reason")) input name="reason" required minlength="4" maxlength="200"; }
                    button type="submit" { (l.t("res.unmask")) }
                }
            }
        } @else {
            p.muted { (l.t("res.masked_level")) }
        }
        @if r.house_id.is_some() {
            h2 { (l.t("visit.recent")) }
            @if caller.has(Permission::BaseDataWrite) {
                p { a.button #record-visit href={ "/visits/new?resident_id=" (i.id) } { (l.t("visit.new")) } }
            }
            @if visits.is_empty() { p.muted { (l.t("visit.none")) } } @else {
                ul #visits { @for v in visits.iter().take(10) {
                    li { (crate::clock::format_beijing(v.visited_at)) " · " (v.officer) " · "
                        (crate::visits::service::Finding::parse(&v.finding).map(|f| f.label(l == Lang::Zh)).unwrap_or(""))
                        @if !v.note.is_empty() { " · " (v.note) } }
                } }
            }
        }
        p { a href="/residents" { (l.t("common.back")) } }
    };
    Ok(render(state, meta, Some(caller), Page { title: l.t("res.detail"), active: "/residents", body }))
}

/// The export form on the list page posts here; the file comes back as a download.
async fn export(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    f: CsrfFields,
) -> AppResult<Response> {
    let req = crate::basedata::export::ResidentExport {
        format: super::format_of(f.get("format")),
        reason: f.get("reason").to_string(),
        query: query_from(&f)?,
    };
    crate::basedata::export::residents(&state, &meta, &caller, &req).await
}
