//! JSON-side routes for the exports of the address, house and establishment lists (the files
//! themselves come from [`super::export_lists`]).

use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::address::AddressQuery;
use super::export_lists::{self, EstablishmentExport, HouseExport};
use crate::app::AppState;
use crate::auth::api::ErrorBody;
use crate::auth::Caller;
use crate::web::error::AppResult;
use crate::web::extract::{ApiJson, ApiQuery};
use crate::web::middleware::RequestMeta;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(export_addresses))
        .routes(routes!(export_houses))
        .routes(routes!(export_establishments))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AddressExportParams {
    /// `csv` or `xlsx`.
    pub format: crate::tabular::Format,
    /// Part of the standard text.
    #[param(max_length = 100)]
    pub q: Option<String>,
    #[param(minimum = 1)]
    pub grid_id: Option<i64>,
}

/// The address list (text, grid, counts of houses, residents and establishments): places and
/// counts, so no reason is asked; the file carries the viewer's watermark.
#[utoipa::path(get, path = "/api/v1/addresses/export", tag = "base data", params(AddressExportParams), security(("bearer" = [])),
    responses((status = 200, description = "the file", content((String = "text/csv"), (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn export_addresses(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    ApiQuery(p): ApiQuery<AddressExportParams>,
) -> AppResult<Response> {
    let q = AddressQuery { q: p.q, grid_id: p.grid_id, page: None, per_page: None };
    export_lists::addresses(&state, &meta, &caller, &q, p.format).await
}

/// Houses matching the list's filters with their tenants, masked as on screen. Needs
/// `people:export` and a reason; the audit log names every house and tenant exported.
#[utoipa::path(post, path = "/api/v1/houses/export", tag = "base data", request_body = HouseExport, security(("bearer" = [])),
    responses((status = 200, description = "the file", content((String = "text/csv"), (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn export_houses(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    ApiJson(b): ApiJson<HouseExport>,
) -> AppResult<Response> {
    export_lists::houses(&state, &meta, &caller, &b).await
}

/// Establishments matching a search with their legal representative and phone, masked as on
/// screen. Needs `people:export` and a reason; the audit log names every record exported.
#[utoipa::path(post, path = "/api/v1/establishments/export", tag = "base data", request_body = EstablishmentExport, security(("bearer" = [])),
    responses((status = 200, description = "the file", content((String = "text/csv"), (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn export_establishments(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    ApiJson(b): ApiJson<EstablishmentExport>,
) -> AppResult<Response> {
    export_lists::establishments(&state, &meta, &caller, &b).await
}
