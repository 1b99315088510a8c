//! The import page: choose a CSV or XLSX file, send it, read the report. Without script the form
//! posts the file here; with `/static/app.js` it is sent to the API with live progress.

use axum::extract::{Multipart, State};
use axum::response::Html;
use axum::routing::get;
use axum::Router;
use maud::{html, Markup};

use super::import::{import_residents, ResidentImportReport};
use super::import_template::RESIDENTS;
use crate::app::AppState;
use crate::audit::Entry;
use crate::auth::{Caller, Permission};
use crate::tabular::Limits;
use crate::web::error::AppResult;
use crate::web::layout::{csrf, render, row_errors, template_help, Page};
use crate::web::middleware::RequestMeta;

pub fn routes() -> Router<AppState> {
    Router::new().route("/residents/import", get(page).post(upload).layer(crate::web::extract::upload_form_limit()))
}

async fn page(State(state): State<AppState>, meta: RequestMeta, caller: Caller) -> AppResult<Html<String>> {
    caller.require(Permission::BaseDataWrite)?;
    Ok(Html(markup(&state, &meta, &caller, None).into_string()))
}

fn markup(state: &AppState, meta: &RequestMeta, caller: &Caller, report: Option<&ResidentImportReport>) -> Markup {
    let l = meta.lang;
    let body = html! {
        h1 { (l.t("imp.title")) }
        p.muted { (l.t("imp.explain")) }
        (template_help(l, &RESIDENTS))
        form.stack #import-form method="post" action="/residents/import" enctype="multipart/form-data"
            data-upload="/api/v1/residents/import" data-progress="/api/v1/import-progress/"
            data-label-uploading=(l.t("imp.uploading")) data-label-checking=(l.t("imp.checking"))
            data-label-writing=(l.t("imp.writing")) data-label-indexing=(l.t("imp.indexing"))
            data-label-failed=(l.t("imp.failed"))
            data-label-written=(l.t("imp.written")) data-label-not-written=(l.t("imp.not_written"))
            data-label-summary=(l.t("imp.summary")) {
            (csrf(caller))
            input type="file" name="file" accept=".csv,.xlsx,text/csv" required;
            label.check { input type="checkbox" name="skip_invalid" value="true"; " " (l.t("imp.skip_invalid")) }
            button type="submit" { (l.t("imp.submit")) }
        }
        progress #import-progress hidden max="100" value="0" {}
        p #import-status role="status" {}
        div #import-result {
            @if let Some(r) = report { (report_markup(l, r)) }
        }
    };
    render(state, meta, Some(caller), Page { title: l.t("imp.title"), active: "/residents", body })
}

pub fn report_markup(l: crate::web::i18n::Lang, r: &ResidentImportReport) -> Markup {
    html! {
        div.card {
            p { (if r.written { l.t("imp.written") } else { l.t("imp.not_written") }) }
            dl.facts {
                dt { (l.t("imp.rows")) } dd { (r.rows) }
                dt { (l.t("imp.created")) } dd { (r.created) }
                dt { (l.t("imp.merged")) } dd { (r.merged) }
                dt { (l.t("imp.skipped")) } dd { (r.skipped) }
            }
            @if !r.errors.is_empty() { (row_errors(&r.errors)) }
        }
    }
}

async fn upload(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    form: Multipart,
) -> AppResult<Html<String>> {
    let form = crate::web::extract::upload_form(&caller, form).await?;
    let skip = form.is_ticked("skip_invalid");
    let entry = Entry::new(&meta, Some(&caller), "resident.import");
    let report = import_residents(&state, entry, &caller, &form.file, &Limits::UPLOAD, skip, &|_, _, _| {}).await?;
    Ok(Html(markup(&state, &meta, &caller, Some(&report)).into_string()))
}
