//! HTTP routes for bulk import (the upload, CSV or XLSX as the body, and the blank templates) and
//! for exports.

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::import::{import_residents, ResidentImportReport};
use super::import_template;
use crate::app::AppState;
use crate::audit::Entry;
use crate::auth::api::ErrorBody;
use crate::auth::Caller;
use crate::tabular::Limits;
use crate::web::error::{AppError, AppResult, RowError};
use crate::web::middleware::RequestMeta;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(template))
        .routes(routes!(progress))
        .routes(routes!(export_residents))
        .routes(routes!(export_coverage))
        .merge(
            OpenApiRouter::new()
                .routes(routes!(import))
                .layer(axum::extract::DefaultBodyLimit::max(Limits::UPLOAD.max_bytes)),
        )
}

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ImportParams {
    /// Import the good rows even if some are bad (default: all rows or none).
    pub skip_invalid: Option<bool>,
    /// A token (16–64 letters and digits) under which the import's progress can be read from
    /// `/api/v1/import-progress/{token}` while it runs.
    #[param(pattern = "^[A-Za-z0-9]{16,64}$")]
    pub progress: Option<String>,
}

/// Imports residents (with their addresses and houses) from CSV (UTF-8 or GBK) or XLSX. Every
/// rejected row is reported with its line, field and reason; people with an ID number already
/// recorded are merged, not doubled.
#[utoipa::path(post, path = "/api/v1/residents/import", tag = "base data", params(ImportParams),
    request_body(content = String, content_type = "text/csv", description = "CSV text, or an XLSX workbook as application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    security(("bearer" = [])),
    responses((status = 200, body = ResidentImportReport), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ResidentImportReport)))]
async fn import(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> AppResult<(StatusCode, Json<ResidentImportReport>)> {
    crate::web::extract::check_spreadsheet_upload(&headers)?;
    // Every 422 from this route is the report, as documented.
    let p: ImportParams =
        match crate::web::extract::import_query(query.as_deref(), "skip_invalid=true|false and progress=<token>") {
            Ok(p) => p,
            Err(e) => {
                let report = ResidentImportReport { errors: vec![e], ..ResidentImportReport::default() };
                return Ok((StatusCode::UNPROCESSABLE_ENTITY, Json(report)));
            }
        };
    if p.progress.as_deref().is_some_and(|t| !super::import_progress::valid_token(t)) {
        let report = ResidentImportReport {
            errors: vec![RowError { line: 0, field: "progress".into(), reason: "16 to 64 letters and digits".into() }],
            ..ResidentImportReport::default()
        };
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Json(report)));
    }
    let entry = Entry::new(&meta, Some(&caller), "resident.import");
    let owner = caller.account_id;
    let running = state.imports.clone();
    let token = p.progress.clone();
    let report_progress = |done: u64, total: u64, phase: &str| {
        if let Some(t) = &token {
            running.update(t, owner, done, total, phase);
        }
    };
    report_progress(0, 0, "check");
    let result = import_residents(
        &state,
        entry,
        &caller,
        &body,
        &Limits::UPLOAD,
        p.skip_invalid.unwrap_or(false),
        &report_progress,
    )
    .await;
    if let Some(t) = &token {
        state.imports.finish(t);
    }
    let report = result?;
    let status = if report.written { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    Ok((status, Json(report)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TemplateParams {
    /// `csv` (default) or `xlsx`.
    #[param(pattern = "^(csv|xlsx)$")]
    pub format: Option<String>,
}

/// The blank template for an import: the header row (Chinese), and in XLSX a sheet explaining
/// each column.
#[utoipa::path(get, path = "/api/v1/import-templates/{kind}", tag = "base data", params(("kind" = String, Path, pattern = "^(residents|warnings)$"), TemplateParams),
    security(("bearer" = [])),
    responses((status = 200, description = "the template", content((String = "text/csv"), (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn template(
    _caller: Caller,
    Path(kind): Path<String>,
    crate::web::extract::ApiQuery(p): crate::web::extract::ApiQuery<TemplateParams>,
) -> AppResult<Response> {
    let t = import_template::by_name(&kind).ok_or(AppError::NotFound)?;
    let (bytes, ctype, ext) = match p.format.as_deref() {
        None | Some("csv") => (t.csv_header_file(), "text/csv; charset=utf-8", "csv"),
        Some("xlsx") => (t.xlsx_file(), XLSX, "xlsx"),
        Some(_) => return Err(AppError::invalid("format", "csv or xlsx")),
    };
    let disposition = format!("attachment; filename=\"{kind}-template.{ext}\"");
    Ok(([(header::CONTENT_TYPE, ctype.to_string()), (header::CONTENT_DISPOSITION, disposition)], bytes).into_response())
}

/// How far a running import has got; 404 once it has finished or for another account's token.
#[utoipa::path(get, path = "/api/v1/import-progress/{token}", tag = "base data", params(("token" = String, Path, pattern = "^[A-Za-z0-9]{16,64}$")),
    security(("bearer" = [])),
    responses((status = 200, body = super::import_progress::ImportProgress), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn progress(
    State(state): State<AppState>,
    caller: Caller,
    Path(token): Path<String>,
) -> AppResult<Json<super::import_progress::ImportProgress>> {
    state.imports.get(&token, caller.account_id).map(Json).ok_or(AppError::NotFound)
}

/// Residents matching a search, as CSV or XLSX, masked as on screen. Needs `people:export` and a
/// reason; the audit log names every exported record with the reason.
#[utoipa::path(post, path = "/api/v1/residents/export", tag = "base data", request_body = super::export::ResidentExport,
    security(("bearer" = [])),
    responses((status = 200, description = "the file", content((String = "text/csv"), (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn export_residents(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    crate::web::extract::ApiJson(b): crate::web::extract::ApiJson<super::export::ResidentExport>,
) -> AppResult<Response> {
    super::export::residents(&state, &meta, &caller, &b).await
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ExportParams {
    /// `csv` or `xlsx`.
    pub format: crate::tabular::Format,
}

/// The coverage table (per grid: residents, households, visited, coverage, last visit, overdue).
#[utoipa::path(get, path = "/api/v1/coverage/export", tag = "visits", params(ExportParams), security(("bearer" = [])),
    responses((status = 200, description = "the file", content((String = "text/csv"), (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn export_coverage(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    crate::web::extract::ApiQuery(p): crate::web::extract::ApiQuery<ExportParams>,
) -> AppResult<Response> {
    super::export::coverage(&state, &meta, &caller, p.format).await
}
