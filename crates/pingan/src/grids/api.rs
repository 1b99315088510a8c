//! JSON routes for grids: the list (with grids lacking a responsible officer), GeoJSON for the
//! map, point location, and the responsible officer.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use geo::Point;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::geometry_cache::geometry_json;
use super::import::{FeatureReport, GridImportReport};
use super::list::GridSummary;
use super::{index, store};
use crate::app::AppState;
use crate::auth::api::ErrorBody;
use crate::auth::{Caller, Permission};
use crate::web::error::{AppError, AppResult};
use crate::web::extract::{ApiJson, ApiQuery, PathId};
use crate::web::middleware::RequestMeta;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_grids))
        .routes(routes!(export_grids))
        .routes(routes!(grids_geojson))
        .routes(routes!(locate))
        .routes(routes!(set_responsible))
        .merge(super::team_api::routes())
        .merge(
            // A city's grid file runs to tens of megabytes; only this route takes that much.
            OpenApiRouter::new()
                .routes(routes!(import_grids))
                .layer(axum::extract::DefaultBodyLimit::max(IMPORT_LIMIT)),
        )
}

const IMPORT_LIMIT: usize = 64 * 1024 * 1024;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ImportParams {
    /// The datum of the file's coordinates, unless the file declares it: `wgs84`, `gcj02` or `cgcs2000`.
    #[param(pattern = "^(wgs84|gcj02|cgcs2000)$")]
    pub datum: Option<String>,
}

/// Imports grid boundaries from GeoJSON; every bad feature is reported and nothing is written
/// unless all are good.
#[utoipa::path(post, path = "/api/v1/grids/import", tag = "grids", params(ImportParams),
    request_body(content = String, content_type = "application/geo+json"), security(("bearer" = [])),
    responses((status = 200, body = GridImportReport), (status = 403, body = ErrorBody), (status = 422, body = GridImportReport)))]
async fn import_grids(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> AppResult<(StatusCode, Json<GridImportReport>)> {
    let ctype = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !(ctype.starts_with("application/geo+json") || ctype.starts_with("application/json")) {
        return Err(AppError::UnsupportedMediaType);
    }
    // Every 422 from this route is the import report (the document says so): problems with the
    // parameters or the body become its first error rather than the generic error shape.
    let refuse = |field: &str, reason: &str| {
        let mut report = GridImportReport::default();
        report.errors.push(FeatureReport { feature: None, code: None, field: field.into(), reason: reason.into() });
        Ok((StatusCode::UNPROCESSABLE_ENTITY, Json(report)))
    };
    let Ok(p) = serde_urlencoded::from_str::<ImportParams>(query.as_deref().unwrap_or("")) else {
        return refuse("query", "the only parameter is datum");
    };
    let datum = match p.datum.as_deref().map(str::parse::<pingan_geo::Datum>) {
        Some(Ok(d)) => Some(d),
        Some(Err(_)) => return refuse("datum", "one of wgs84, gcj02, cgcs2000"),
        None => None,
    };
    let Ok(text) = std::str::from_utf8(&body) else {
        return refuse("file", "the body is not valid UTF-8");
    };
    let report = super::import::import(&state, &meta, &caller, text, datum).await?;
    let status = if report.errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    Ok((status, Json(report)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Only grids without a responsible officer.
    pub unassigned: Option<bool>,
}

/// The grids the caller's jurisdiction covers: their own subtree and the units granted to them
/// (any level: a grid's outline, name and officer are no one's personal data).
async fn rows_in_scope(state: &AppState, caller: &Caller) -> Result<Vec<store::ShapeRow>, AppError> {
    caller.require(Permission::OrgRead)?;
    let scope = crate::jurisdiction::org_scope_of(state, caller).await?;
    Ok(store::shapes(&state.db, Some(&scope.nodes_sql(crate::jurisdiction::Level::CountsOnly))).await?)
}

/// The live grids in the caller's jurisdiction (grants included) by code, with their unit,
/// responsible officer and team size.
#[utoipa::path(get, path = "/api/v1/grids", tag = "grids", params(ListParams), security(("bearer" = [])),
    responses((status = 200, body = [GridSummary]), (status = 403, body = ErrorBody)))]
async fn list_grids(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(p): ApiQuery<ListParams>,
) -> AppResult<Json<Vec<GridSummary>>> {
    Ok(Json(super::list::find(&state, &caller, p.unassigned.unwrap_or(false), None).await?.items))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ExportParams {
    pub format: crate::tabular::Format,
    /// Only grids without a responsible officer.
    pub unassigned: Option<bool>,
}

/// The grid list as XLSX or CSV, with the viewer's watermark.
#[utoipa::path(get, path = "/api/v1/grids/export", tag = "grids", params(ExportParams), security(("bearer" = [])),
    responses((status = 200, description = "the list as a file", content((String = "text/csv"), (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn export_grids(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    ApiQuery(p): ApiQuery<ExportParams>,
) -> AppResult<Response> {
    super::list::export(&state, &meta, &caller, p.format, p.unassigned.unwrap_or(false)).await
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct GeoJsonParams {
    /// Simplify for this map zoom level (web-map convention: 0 the world, 18 a street); omit
    /// for full detail.
    #[param(minimum = 0, maximum = 22)]
    pub zoom: Option<u8>,
}

/// GeoJSON FeatureCollection (WGS-84) of the caller's grids, for the map; simplified to about
/// half a pixel at `zoom` when given.
#[utoipa::path(get, path = "/api/v1/grids/geojson", tag = "grids", params(GeoJsonParams), security(("bearer" = [])),
    responses((status = 200, content_type = "application/geo+json", description = "a FeatureCollection"), (status = 403, body = ErrorBody)))]
async fn grids_geojson(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(p): ApiQuery<GeoJsonParams>,
) -> AppResult<Response> {
    if p.zoom.is_some_and(|z| z > 22) {
        return Err(AppError::invalid("zoom", "0 to 22"));
    }
    let rows = rows_in_scope(&state, &caller).await?;
    let cache = state.grid_geometry.clone();
    let zoom = p.zoom;
    // Simplifying is CPU work measured in hundreds of milliseconds for a city: off the
    // request threads, and only for shapes this server has not done at this zoom yet.
    let body = tokio::task::spawn_blocking(move || -> Result<String, AppError> {
        let mut out = String::with_capacity(rows.len() * 1024);
        out.push_str(r#"{"type":"FeatureCollection","features":["#);
        for (i, r) in rows.iter().enumerate() {
            let key = (r.node_id, r.version, zoom);
            let geometry = match cache.get(key) {
                Some(g) => g,
                None => {
                    let shape = pingan_geo::wkb::decode(&r.shape)
                        .map_err(|e| AppError::Internal(anyhow::anyhow!("grid {}: {e}", r.code)))?;
                    let g: std::sync::Arc<str> = geometry_json(&shape, zoom).into();
                    cache.put(key, g.clone());
                    g
                }
            };
            let properties = serde_json::json!({"code": r.code, "name": r.name, "responsible": r.responsible});
            if i > 0 {
                out.push(',');
            }
            out.push_str(&format!(
                r#"{{"type":"Feature","id":{},"properties":{properties},"geometry":{geometry}}}"#,
                r.node_id
            ));
        }
        out.push_str("]}");
        Ok(out)
    })
    .await
    .map_err(|e| AppError::Internal(anyhow::anyhow!("building the map's GeoJSON: {e}")))??;
    Ok(([(header::CONTENT_TYPE, "application/geo+json")], body).into_response())
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LocateParams {
    #[param(minimum = -180.0, maximum = 180.0)]
    pub lon: f64,
    #[param(minimum = -90.0, maximum = 90.0)]
    pub lat: f64,
    /// The datum of the coordinates: `wgs84` (default), `gcj02` or `cgcs2000`.
    #[param(pattern = "^(wgs84|gcj02|cgcs2000)$")]
    pub datum: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Located {
    pub node_id: i64,
    pub code: String,
    pub name: String,
}

/// Which grid holds a point (edges belong to the grid; overlaps go to the smallest code).
#[utoipa::path(get, path = "/api/v1/grids/locate", tag = "grids", params(LocateParams), security(("bearer" = [])),
    responses((status = 200, body = Located), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn locate(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(p): ApiQuery<LocateParams>,
) -> AppResult<Json<Located>> {
    caller.require(Permission::OrgRead)?;
    if !(-180.0..=180.0).contains(&p.lon) || !p.lon.is_finite() {
        return Err(AppError::invalid("lon", "a longitude between -180 and 180"));
    }
    if !(-90.0..=90.0).contains(&p.lat) || !p.lat.is_finite() {
        return Err(AppError::invalid("lat", "a latitude between -90 and 90"));
    }
    let datum = match p.datum.as_deref() {
        None => pingan_geo::Datum::Wgs84,
        Some(d) => d.parse().map_err(|_| AppError::invalid("datum", "one of wgs84, gcj02, cgcs2000"))?,
    };
    let point = pingan_geo::to_wgs84(Point::new(p.lon, p.lat), datum);
    let loaded = index::current(&state).await?;
    let code = loaded.index.locate(point).ok_or(AppError::NotFound)?;
    let (node_id, name) = loaded.nodes.get(code).cloned().ok_or(AppError::NotFound)?;
    Ok(Json(Located { node_id, code: code.to_string(), name }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Responsible {
    /// The account answering for the grid (一格一警); null to leave it without one.
    #[schema(minimum = 1)]
    pub account_id: Option<i64>,
}

/// Sets the grid's responsible officer (the team's `responsible` duty, checked the same way:
/// an active sworn officer of the grid's station); needs `org:write` or `teams:assign`.
#[utoipa::path(post, path = "/api/v1/grids/{id}/responsible", tag = "grids", request_body = Responsible,
    params(("id" = i64, Path, minimum = 1)), security(("bearer" = [])),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn set_responsible(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    PathId(id): PathId,
    ApiJson(b): ApiJson<Responsible>,
) -> AppResult<StatusCode> {
    super::team::set_responsible(&state, &meta, &caller, id, b.account_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
