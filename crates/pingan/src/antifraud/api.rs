//! JSON routes of anti-fraud work: intake for upstream systems, the case queue and case work
//! for officers, rules and the region table for the anti-fraud manager.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::cases::{self, CaseDetail, CaseRow, QueueQuery};
use super::figures::{self, Figures, FiguresQuery};
use super::model::WarningInput;
use super::service::{self, Accepted, BatchReport};
use super::settings_api;
use super::work::{self, CaseAction, CaseActionBody, UnmaskField};
use crate::app::AppState;
use crate::auth::api::ErrorBody;
use crate::auth::Caller;
use crate::web::error::AppResult;
use crate::web::extract::{ApiJson, ApiJsonValue, ApiQuery, PathId};
use crate::web::middleware::RequestMeta;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(post_warnings))
        .routes(routes!(list_cases))
        .routes(routes!(get_case))
        .routes(routes!(act_on_case))
        .routes(routes!(match_case))
        .routes(routes!(unmask_case))
        .routes(routes!(get_figures))
        .routes(routes!(export_figures))
        .merge(settings_api::routes())
        .merge(super::import_api::routes())
}

/// Warnings by grade, kind, station and day; on-time contact; dissuasion; money protected; with
/// 同比 and 环比. Counts over the caller's jurisdiction, for any level of it.
#[utoipa::path(get, path = "/api/v1/antifraud/figures", tag = "antifraud", params(FiguresQuery), security(("bearer" = [])),
    responses((status = 200, body = Figures), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn get_figures(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<FiguresQuery>,
) -> AppResult<Json<Figures>> {
    Ok(Json(figures::figures(&state, &caller, &q).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FiguresExportParams {
    #[param(pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")]
    pub from: Option<String>,
    #[param(pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")]
    pub to: Option<String>,
    /// `xlsx` or `csv`.
    pub format: crate::tabular::Format,
}

/// The figures as XLSX or CSV, with the viewer's watermark; audited.
#[utoipa::path(get, path = "/api/v1/antifraud/figures/export", tag = "antifraud", params(FiguresExportParams), security(("bearer" = [])),
    responses((status = 200, description = "the file", content((String = "text/csv"), (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn export_figures(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    ApiQuery(p): ApiQuery<FiguresExportParams>,
) -> AppResult<Response> {
    let q = super::figures_page::ExportQuery { from: p.from, to: p.to, format: p.format };
    super::figures_page::export(&state, &meta, &caller, &q).await
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct IntakeParams {
    /// Load as history: stored, matched, graded and merged, but no deadline, escalation or push.
    pub history: Option<bool>,
}

/// One warning, or a batch of 1 to 1,000 warnings.
pub struct WarningBody;

impl utoipa::PartialSchema for WarningBody {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ArrayBuilder, OneOfBuilder};
        use utoipa::openapi::Ref;
        OneOfBuilder::new()
            .item(Ref::from_schema_name("WarningInput"))
            .item(
                ArrayBuilder::new()
                    .items(Ref::from_schema_name("WarningInput"))
                    .min_items(Some(1))
                    .max_items(Some(1000)),
            )
            .into()
    }
}

impl utoipa::ToSchema for WarningBody {
    fn schemas(schemas: &mut Vec<(String, utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>)>) {
        schemas.push(("WarningInput".into(), <WarningInput as utoipa::PartialSchema>::schema()));
        <WarningInput as utoipa::ToSchema>::schemas(schemas);
    }
}

/// What a 200 from intake holds: a duplicate's receipt, or a batch's report.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub enum IntakeAnswer {
    One(Accepted),
    Batch(BatchReport),
}

/// Receives warnings from upstream (anti-fraud centres, banks, carriers): one object, or an array
/// of up to 1,000. Idempotent by (source, upstream_id): the same warning again answers 200 with
/// status `duplicate`; the same key with other content 409. A batch answers 200 with a result per
/// item; refused items are reported and the rest stored.
#[utoipa::path(post, path = "/api/v1/warnings", tag = "antifraud", params(IntakeParams), request_body = WarningBody,
    security(("bearer" = [])),
    responses((status = 201, body = Accepted, description = "stored"), (status = 200, body = IntakeAnswer, description = "a duplicate (one warning), or the report of a batch"),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn post_warnings(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    ApiQuery(p): ApiQuery<IntakeParams>,
    ApiJsonValue(body): ApiJsonValue,
) -> AppResult<Response> {
    let history = p.history.unwrap_or(false);
    match body {
        serde_json::Value::Array(items) => {
            let report = service::ingest_batch(&state, &meta, &caller, items, history).await?;
            Ok(Json(report).into_response())
        }
        object @ serde_json::Value::Object(_) => {
            let input: WarningInput = crate::web::extract::from_value(object)?;
            let accepted = service::ingest_one(&state, &meta, &caller, &input, history).await?;
            let status = if accepted.status == "created" { StatusCode::CREATED } else { StatusCode::OK };
            Ok((status, Json(accepted)).into_response())
        }
        _ => Err(crate::web::error::AppError::invalid("body", "a warning (an object) or a batch (an array of them)")),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CasePage {
    pub items: Vec<CaseRow>,
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
}

/// Cases in the caller's jurisdiction; open ones most urgent first. Names and identifiers masked.
#[utoipa::path(get, path = "/api/v1/fraud-cases", tag = "antifraud", params(QueueQuery), security(("bearer" = [])),
    responses((status = 200, body = CasePage), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn list_cases(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    ApiQuery(q): ApiQuery<QueueQuery>,
) -> AppResult<Json<CasePage>> {
    let (items, total, page, per_page) = cases::queue(&state, &meta, &caller, &q).await?;
    Ok(Json(CasePage { items, total, page, per_page }))
}

/// One case with its warnings and timeline.
#[utoipa::path(get, path = "/api/v1/fraud-cases/{id}", tag = "antifraud", params(("id" = i64, Path, minimum = 1)), security(("bearer" = [])),
    responses((status = 200, body = CaseDetail), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_case(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    PathId(id): PathId,
) -> AppResult<Json<CaseDetail>> {
    Ok(Json(cases::detail(&state, &meta, &caller, id).await?))
}

/// Records a contact attempt, closes the case with its outcome, or adds a follow-up.
#[utoipa::path(post, path = "/api/v1/fraud-cases/{id}/actions", tag = "antifraud", request_body = CaseActionBody,
    params(("id" = i64, Path, minimum = 1)), security(("bearer" = [])),
    responses((status = 204, description = "recorded"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn act_on_case(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    PathId(id): PathId,
    ApiJsonValue(body): ApiJsonValue,
) -> AppResult<StatusCode> {
    let action = CaseAction::from_json(body)?;
    work::act(&state, &meta, &caller, id, &action).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MatchInput {
    #[schema(minimum = 1)]
    pub resident_id: i64,
}

/// Matches a waiting or unmatched case to a resident by hand.
#[utoipa::path(post, path = "/api/v1/fraud-cases/{id}/match", tag = "antifraud", request_body = MatchInput,
    params(("id" = i64, Path, minimum = 1)), security(("bearer" = [])),
    responses((status = 204, description = "matched"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn match_case(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    PathId(id): PathId,
    ApiJson(b): ApiJson<MatchInput>,
) -> AppResult<StatusCode> {
    work::match_resident(&state, &meta, &caller, id, b.resident_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UnmaskInput {
    pub field: UnmaskField,
    /// Why the full value is needed; kept in the audit log.
    #[schema(min_length = 4, max_length = 200)]
    pub reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UnmaskedValue {
    pub value: Option<String>,
}

/// The full ID number or phone of the case's person, for a stated reason (audited).
#[utoipa::path(post, path = "/api/v1/fraud-cases/{id}/unmask", tag = "antifraud", request_body = UnmaskInput,
    params(("id" = i64, Path, minimum = 1)), security(("bearer" = [])),
    responses((status = 200, body = UnmaskedValue), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn unmask_case(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    PathId(id): PathId,
    ApiJson(b): ApiJson<UnmaskInput>,
) -> AppResult<Json<UnmaskedValue>> {
    let value = work::unmask(&state, &meta, &caller, id, b.field, &b.reason).await?;
    Ok(Json(UnmaskedValue { value }))
}
