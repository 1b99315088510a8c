//! Recording a resident from a phone, and correcting one. The edit form never holds a full
//! identifier: it shows the ID number and phones masked and posts back only which to keep.

use axum::extract::State;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use maud::{html, Markup};

use super::residents::tag_label;
use super::{id_opt, label, parse_opt};
use crate::app::AppState;
use crate::auth::{Caller, Permission};
use crate::basedata::model::{HouseRelation, Residence, Sex, Tag};
use crate::basedata::resident::{self, ResidentInput};
use crate::basedata::{search, Table};
use crate::web::error::{AppError, AppResult};
use crate::web::extract::{ApiQuery, CsrfFields, PathId};
use crate::web::layout::{csrf, notice_for, render, Page};
use crate::web::middleware::RequestMeta;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/residents/new", get(new_page).post(create))
        .route("/residents/{id}/edit", get(edit_page).post(save))
}

/// What the form shows, from the record or from a post that was refused.
#[derive(Default)]
struct Values {
    name: String,
    sex: Option<Sex>,
    residence: Option<Residence>,
    registered_address: String,
    address_id: String,
    house_id: String,
    relation: Option<HouseRelation>,
    tags: Vec<Tag>,
    note: String,
    /// Editing only: the recorded identifiers, masked.
    id_masked: Option<String>,
    phones_masked: Vec<String>,
}

impl Values {
    fn posted(f: &CsrfFields) -> Values {
        Values {
            name: f.get("name").to_string(),
            sex: parse_opt(f.get("sex"), Sex::parse),
            residence: parse_opt(f.get("residence"), Residence::parse),
            registered_address: f.get("registered_address").to_string(),
            address_id: f.get("address_id").to_string(),
            house_id: f.get("house_id").to_string(),
            relation: parse_opt(f.get("house_relation"), HouseRelation::parse),
            tags: f.all("tags").into_iter().filter_map(Tag::parse).collect(),
            note: f.get("note").to_string(),
            ..Values::default()
        }
    }
}

fn phones_typed(s: &str) -> impl Iterator<Item = String> + '_ {
    s.split([',', '，', ';', '；', ' ']).map(str::to_string).filter(|s| !s.is_empty())
}

fn input_of(f: &CsrfFields, id_number: Option<String>, phones: Vec<String>) -> Result<ResidentInput, AppError> {
    Ok(ResidentInput {
        name: f.get("name").to_string(),
        sex: parse_opt(f.get("sex"), Sex::parse),
        id_number,
        phones,
        residence: Residence::parse(f.get("residence")).ok_or_else(|| AppError::invalid("residence", "choose one"))?,
        registered_address: f.get("registered_address").to_string(),
        address_id: id_opt(f.get("address_id"), "address_id")?,
        house_id: id_opt(f.get("house_id"), "house_id")?,
        house_relation: parse_opt(f.get("house_relation"), HouseRelation::parse),
        tags: f.all("tags").into_iter().filter_map(Tag::parse).collect(),
        note: f.get("note").to_string(),
    })
}

/// `edit`: the record's id when correcting one.
fn form_markup(
    state: &AppState,
    meta: &RequestMeta,
    caller: &Caller,
    edit: Option<i64>,
    v: &Values,
    notice: Markup,
) -> Markup {
    let l = meta.lang;
    let title = if edit.is_some() { l.t("res.edit") } else { l.t("res.new") };
    let action = match edit {
        Some(id) => format!("/residents/{id}/edit"),
        None => "/residents/new".to_string(),
    };
    let body = html! {
        h1 { (title) }
        (notice)
        form.stack #resident-form method="post" action=(action) {
            (csrf(caller))
            label { (l.t("res.name")) input name="name" required maxlength="50" value=(v.name); }
            @if edit.is_some() {
                label { (l.t("res.id_number")) " " span.muted #id-recorded { (v.id_masked.clone().unwrap_or_else(|| l.t("res.no_id").into())) } }
                input name="id_number" maxlength="30" autocomplete="off" placeholder=(l.t("res.id_keep"));
                @if v.id_masked.is_some() { label.check { input type="checkbox" name="remove_id" value="1"; " " (l.t("res.id_remove")) } }
            } @else {
                label { (l.t("res.id_number")) input name="id_number" maxlength="30" autocomplete="off"; }
            }
            label { (l.t("res.sex")) select name="sex" { option value="" { "—" } @for s in Sex::ALL { option value=(s.code()) selected[v.sex == Some(*s)] { (label(l, *s, Sex::label_zh, Sex::label_en)) } } } }
            @if edit.is_some() && !v.phones_masked.is_empty() {
                fieldset #phones-recorded { legend { (l.t("res.phones_keep")) }
                    @for (i, p) in v.phones_masked.iter().enumerate() { label.check { input type="checkbox" name="keep_phone" value=(i) checked; " " (p) } }
                }
            }
            label { (if edit.is_some() { l.t("res.phones_add") } else { l.t("res.phones") }) input name="phones" inputmode="tel" maxlength="200" autocomplete="off"; }
            label { (l.t("res.residence")) select name="residence" { @for r in Residence::ALL { option value=(r.code()) selected[v.residence == Some(*r)] { (label(l, *r, Residence::label_zh, Residence::label_en)) } } } }
            label { (l.t("res.registered_address")) input name="registered_address" maxlength="200" value=(v.registered_address); }
            label { (l.t("res.address")) input name="address_id" inputmode="numeric" value=(v.address_id); }
            label { (l.t("res.house")) input name="house_id" inputmode="numeric" value=(v.house_id); }
            label { (l.t("res.relation")) select name="house_relation" { option value="" { "—" } @for h in HouseRelation::ALL { option value=(h.code()) selected[v.relation == Some(*h)] { (label(l, *h, HouseRelation::label_zh, HouseRelation::label_en)) } } } }
            fieldset { legend { (l.t("res.tags")) } @for t in Tag::ALL { label.check { input type="checkbox" name="tags" value=(t.code()) checked[v.tags.contains(t)]; " " (tag_label(l, *t)) } } }
            label { (l.t("res.note")) textarea name="note" maxlength="500" { (v.note) } }
            button type="submit" { (l.t("common.save")) }
        }
        @if let Some(id) = edit { p { a href={ "/residents/" (id) } { (l.t("common.back")) } } }
    };
    render(state, meta, Some(caller), Page { title, active: "/residents", body })
}

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct NewParams {
    address_id: Option<i64>,
    house_id: Option<i64>,
}

async fn new_page(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    ApiQuery(p): ApiQuery<NewParams>,
) -> AppResult<Html<String>> {
    caller.require(Permission::BaseDataWrite)?;
    let n = |o: Option<i64>| o.map(|x| x.to_string()).unwrap_or_default();
    let v = Values { address_id: n(p.address_id), house_id: n(p.house_id), ..Values::default() };
    Ok(Html(form_markup(&state, &meta, &caller, None, &v, html! {}).into_string()))
}

async fn create(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    f: CsrfFields,
) -> AppResult<Response> {
    let attempt = async {
        let id_number = Some(f.get("id_number").to_string()).filter(|s| !s.is_empty());
        let input = input_of(&f, id_number, phones_typed(f.get("phones")).collect())?;
        resident::create(&state, &meta, &caller, &input).await
    };
    match attempt.await {
        Ok(id) => Ok(Redirect::to(&format!("/residents/{id}")).into_response()),
        Err(e) => {
            let notice = notice_for(e)?;
            Ok(Html(form_markup(&state, &meta, &caller, None, &Values::posted(&f), notice).into_string())
                .into_response())
        }
    }
}

async fn may_edit(state: &AppState, meta: &RequestMeta, caller: &Caller, id: i64) -> Result<(), AppError> {
    super::may_correct(state, meta, caller, Table::Resident, id, "resident.update").await
}

async fn recorded(state: &AppState, meta: &RequestMeta, caller: &Caller, id: i64) -> Result<Values, AppError> {
    let r = search::view(state, meta, caller, id).await?;
    let n = |o: Option<i64>| o.map(|x| x.to_string()).unwrap_or_default();
    Ok(Values {
        name: r.item.name.clone(),
        sex: Sex::parse(&r.item.sex),
        residence: Residence::parse(&r.item.residence),
        registered_address: r.registered_address.clone(),
        address_id: n(r.address_id),
        house_id: n(r.house_id),
        relation: r.house_relation,
        tags: r.item.tags.clone(),
        note: r.note.clone(),
        id_masked: r.item.id_number.clone(),
        phones_masked: r.phones.clone(),
    })
}

async fn edit_page(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    PathId(id): PathId,
) -> AppResult<Html<String>> {
    may_edit(&state, &meta, &caller, id).await?;
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
    may_edit(&state, &meta, &caller, id).await?;
    let attempt = async {
        let (id_kept, phones_kept) = resident::recorded_identifiers(&state, &meta, &caller, id).await?;
        let id_number = match (f.get("id_number"), f.get("remove_id")) {
            ("", "1") => None,
            ("", _) => id_kept,
            (typed, _) => Some(typed.to_string()),
        };
        let keep: Vec<usize> = f.all("keep_phone").iter().filter_map(|i| i.parse().ok()).collect();
        let phones = phones_kept
            .into_iter()
            .enumerate()
            .filter(|(i, _)| keep.contains(i))
            .map(|(_, p)| p)
            .chain(phones_typed(f.get("phones")))
            .collect();
        resident::update(&state, &meta, &caller, id, &input_of(&f, id_number, phones)?).await
    };
    match attempt.await {
        Ok(()) => Ok(Redirect::to(&format!("/residents/{id}?saved=1")).into_response()),
        Err(e) => {
            let notice = notice_for(e)?;
            let shown = recorded(&state, &meta, &caller, id).await?;
            let v = Values { id_masked: shown.id_masked, phones_masked: shown.phones_masked, ..Values::posted(&f) };
            Ok(Html(form_markup(&state, &meta, &caller, Some(id), &v, notice).into_string()).into_response())
        }
    }
}
