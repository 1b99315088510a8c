//! The page that loads a warnings file (CSV or XLSX) handed over by an upstream centre: choose
//! the file, say whether it is history, send it, read the report. The same import as
//! `POST /api/v1/warnings/import`; the form posts here, no script needed.

use axum::extract::{Multipart, State};
use axum::response::Html;
use axum::routing::get;
use axum::Router;
use maud::html;

use super::import::{import_warnings, Options, WarningImportReport};
use super::import_template::WARNINGS;
use crate::app::AppState;
use crate::audit::Entry;
use crate::auth::{Caller, Permission};
use crate::tabular::Limits;
use crate::web::error::AppResult;
use crate::web::layout::{csrf, render, row_errors, template_help, Page};
use crate::web::middleware::RequestMeta;

pub fn routes() -> Router<AppState> {
    Router::new().route("/antifraud/import", get(page).post(upload).layer(crate::web::extract::upload_form_limit()))
}

async fn page(State(state): State<AppState>, meta: RequestMeta, caller: Caller) -> AppResult<Html<String>> {
    caller.require(Permission::WarningsWrite)?;
    Ok(Html(markup(&state, &meta, &caller, None)))
}

fn markup(state: &AppState, meta: &RequestMeta, caller: &Caller, report: Option<&WarningImportReport>) -> String {
    let l = meta.lang;
    let body = html! {
        h1 { (l.t("afimp.title")) }
        p.muted { (l.t("afimp.explain")) }
        (template_help(l, &WARNINGS))
        form.stack method="post" action="/antifraud/import" enctype="multipart/form-data" {
            (csrf(caller))
            input type="file" name="file" accept=".csv,.xlsx,text/csv" required;
            label.check { input type="checkbox" name="history" value="true"; " " (l.t("afimp.history")) }
            label.check { input type="checkbox" name="skip_invalid" value="true"; " " (l.t("imp.skip_invalid")) }
            button type="submit" { (l.t("imp.submit")) }
        }
        @if let Some(r) = report {
            div.card #import-result {
                p role="status" { (if r.written { l.t("imp.written") } else { l.t("imp.not_written") }) }
                dl.facts {
                    dt { (l.t("imp.rows")) } dd { (r.received) }
                    dt { (l.t("afimp.created")) } dd { (r.created) }
                    dt { (l.t("afimp.duplicates")) } dd { (r.duplicates) }
                    dt { (l.t("afimp.conflicts")) } dd { (r.conflicts) }
                    dt { (l.t("afimp.refused")) } dd { (r.refused) }
                }
                @if !r.errors.is_empty() { (row_errors(&r.errors)) }
            }
        }
    };
    render(state, meta, Some(caller), Page { title: l.t("afimp.title"), active: "/antifraud", body }).into_string()
}

async fn upload(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    form: Multipart,
) -> AppResult<Html<String>> {
    caller.require(Permission::WarningsWrite)?;
    let form = crate::web::extract::upload_form(&caller, form).await?;
    let opts = Options { history: form.is_ticked("history"), skip_invalid: form.is_ticked("skip_invalid") };
    let entry = Entry::new(&meta, Some(&caller), "antifraud.warnings.import");
    let report = import_warnings(&state, entry, &caller, &form.file, &Limits::UPLOAD, opts).await?;
    Ok(Html(markup(&state, &meta, &caller, Some(&report))))
}
