//! `POST /api/v1/warnings/import`: warnings as a CSV or XLSX body, for upstream systems and
//! staff who hold spreadsheets rather than JSON.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::import::{import_warnings, Options, WarningImportReport};
use crate::app::AppState;
use crate::audit::Entry;
use crate::auth::api::ErrorBody;
use crate::auth::Caller;
use crate::tabular::Limits;
use crate::web::error::AppResult;
use crate::web::middleware::RequestMeta;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(import)).layer(axum::extract::DefaultBodyLimit::max(Limits::UPLOAD.max_bytes))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct WarningImportParams {
    /// Load as history: stored, matched, graded and merged, but no deadline, escalation or push.
    pub history: Option<bool>,
    /// Store the good rows even if some are invalid (default: all rows or none).
    pub skip_invalid: Option<bool>,
}

/// Loads warnings from CSV (UTF-8 or GBK) or XLSX with the columns of the `warnings` template
/// (Chinese or English headers; a time without an offset is Beijing time). Every row takes the
/// path of `POST /api/v1/warnings`: a warning already stored counts as a duplicate, the same key
/// with other content is a conflict. Invalid rows are all reported by line, field and reason;
/// unless `skip_invalid` is set, one invalid row means nothing is stored (422).
#[utoipa::path(post, path = "/api/v1/warnings/import", tag = "antifraud", params(WarningImportParams),
    request_body(content = String, content_type = "text/csv", description = "CSV text, or an XLSX workbook as application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    security(("bearer" = [])),
    responses((status = 200, body = WarningImportReport, description = "stored (conflicts and, with skip_invalid, invalid rows are listed in errors)"),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 413, body = ErrorBody),
              (status = 415, body = ErrorBody), (status = 422, body = WarningImportReport, description = "nothing stored: the file or a row was refused")))]
async fn import(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> AppResult<(StatusCode, Json<WarningImportReport>)> {
    crate::web::extract::check_spreadsheet_upload(&headers)?;
    // Every 422 from this route is the report, as documented.
    let p: WarningImportParams =
        match crate::web::extract::import_query(query.as_deref(), "history=true|false and skip_invalid=true|false") {
            Ok(p) => p,
            Err(e) => {
                let report = WarningImportReport { errors: vec![e], ..WarningImportReport::default() };
                return Ok((StatusCode::UNPROCESSABLE_ENTITY, Json(report)));
            }
        };
    let opts = Options { history: p.history.unwrap_or(false), skip_invalid: p.skip_invalid.unwrap_or(false) };
    let entry = Entry::new(&meta, Some(&caller), "antifraud.warnings.import");
    let report = import_warnings(&state, entry, &caller, &body, &Limits::UPLOAD, opts).await?;
    let status = if report.written { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    Ok((status, Json(report)))
}
