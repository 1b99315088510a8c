//! JSON routes for base data. Searches that can carry an identifier are POSTs with a body, so
//! ID numbers and phones never appear in a URL or an access log.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::address::{self, Address, AddressInput, AddressQuery};
use super::area::{BureauArea, BUREAU_AREA};
use super::establishment::{self, Establishment, EstablishmentInput, EstablishmentQuery};
use super::house::{self, House, HouseInput, HouseQuery};
use super::resident::{self, ResidentInput, UnmaskInput, Unmasked};
use super::search::{self, ResidentDetail, ResidentItem, ResidentQuery};
use super::ListPage;
use crate::app::AppState;
use crate::audit::{self, Entry};
use crate::auth::api::ErrorBody;
use crate::auth::{Caller, Permission};
use crate::web::error::{AppError, AppResult};
use crate::web::extract::{ApiJson, ApiQuery, PathId};
use crate::web::middleware::RequestMeta;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(search_addresses, create_address))
        .routes(routes!(get_address, update_address))
        .routes(routes!(houses_at_address))
        .routes(routes!(list_houses, create_house))
        .routes(routes!(get_house, update_house))
        .routes(routes!(create_resident))
        .routes(routes!(search_residents))
        .routes(routes!(get_resident, update_resident))
        .routes(routes!(unmask_resident))
        .routes(routes!(create_establishment))
        .routes(routes!(search_establishments))
        .routes(routes!(get_establishment, update_establishment))
        .routes(routes!(get_bureau_area, set_bureau_area))
        .merge(super::export_api::routes())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Created {
    pub id: i64,
}

fn created(id: i64) -> (StatusCode, Json<Created>) {
    (StatusCode::CREATED, Json(Created { id }))
}

/// Addresses in the caller's jurisdiction, by part of their text.
#[utoipa::path(get, path = "/api/v1/addresses", tag = "base data", params(AddressQuery), security(("bearer" = [])),
    responses((status = 200, body = ListPage<Address>), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn search_addresses(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<AddressQuery>,
) -> AppResult<Json<ListPage<Address>>> {
    Ok(Json(address::search(&state, &caller, &q).await?))
}

/// Records a standard address; its grid follows from its point.
#[utoipa::path(post, path = "/api/v1/addresses", tag = "base data", request_body = AddressInput, security(("bearer" = [])),
    responses((status = 201, body = Created), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_address(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    ApiJson(b): ApiJson<AddressInput>,
) -> AppResult<(StatusCode, Json<Created>)> {
    Ok(created(address::create(&state, &meta, &caller, &b).await?))
}

#[utoipa::path(get, path = "/api/v1/addresses/{id}", tag = "base data", params(("id" = i64, Path, minimum = 1)), security(("bearer" = [])),
    responses((status = 200, body = Address), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_address(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    PathId(id): PathId,
) -> AppResult<Json<Address>> {
    Ok(Json(address::get(&state, &meta, &caller, id).await?))
}

/// Corrects an address; houses, residents and establishments at it follow it to its grid.
#[utoipa::path(put, path = "/api/v1/addresses/{id}", tag = "base data", request_body = AddressInput, params(("id" = i64, Path, minimum = 1)), security(("bearer" = [])),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_address(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    PathId(id): PathId,
    ApiJson(b): ApiJson<AddressInput>,
) -> AppResult<StatusCode> {
    address::update(&state, &meta, &caller, id, &b).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/addresses/{id}/houses", tag = "base data", params(("id" = i64, Path, minimum = 1)), security(("bearer" = [])),
    responses((status = 200, body = [House]), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn houses_at_address(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    PathId(id): PathId,
) -> AppResult<Json<Vec<House>>> {
    Ok(Json(house::at_address(&state, &meta, &caller, id).await?))
}

/// Houses in the caller's jurisdiction by part of their address, grid, address or use; units are
/// shown to building level for viewers who see addresses that way.
#[utoipa::path(get, path = "/api/v1/houses", tag = "base data", params(HouseQuery), security(("bearer" = [])),
    responses((status = 200, body = ListPage<House>), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn list_houses(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<HouseQuery>,
) -> AppResult<Json<ListPage<House>>> {
    Ok(Json(house::search(&state, &caller, &q).await?))
}

#[utoipa::path(post, path = "/api/v1/houses", tag = "base data", request_body = HouseInput, security(("bearer" = [])),
    responses((status = 201, body = Created), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_house(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    ApiJson(b): ApiJson<HouseInput>,
) -> AppResult<(StatusCode, Json<Created>)> {
    Ok(created(house::create(&state, &meta, &caller, &b).await?))
}

#[utoipa::path(get, path = "/api/v1/houses/{id}", tag = "base data", params(("id" = i64, Path, minimum = 1)), security(("bearer" = [])),
    responses((status = 200, body = House), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_house(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    PathId(id): PathId,
) -> AppResult<Json<House>> {
    Ok(Json(house::get(&state, &meta, &caller, id).await?))
}

#[utoipa::path(put, path = "/api/v1/houses/{id}", tag = "base data", request_body = HouseInput, params(("id" = i64, Path, minimum = 1)), security(("bearer" = [])),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_house(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    PathId(id): PathId,
    ApiJson(b): ApiJson<HouseInput>,
) -> AppResult<StatusCode> {
    house::update(&state, &meta, &caller, id, &b).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Records a resident. A second record for an ID number already recorded is refused (409).
#[utoipa::path(post, path = "/api/v1/residents", tag = "base data", request_body = ResidentInput, security(("bearer" = [])),
    responses((status = 201, body = Created), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_resident(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    ApiJson(b): ApiJson<ResidentInput>,
) -> AppResult<(StatusCode, Json<Created>)> {
    Ok(created(resident::create(&state, &meta, &caller, &b).await?))
}

/// Finds residents by part of a name, the last digits or all of an ID number, a phone, a grid
/// or a tag; masked for the viewer and audited.
#[utoipa::path(post, path = "/api/v1/residents/search", tag = "base data", request_body = ResidentQuery, security(("bearer" = [])),
    responses((status = 200, body = ListPage<ResidentItem>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn search_residents(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    ApiJson(q): ApiJson<ResidentQuery>,
) -> AppResult<Json<ListPage<ResidentItem>>> {
    Ok(Json(search::search(&state, &meta, &caller, &q).await?))
}

#[utoipa::path(get, path = "/api/v1/residents/{id}", tag = "base data", params(("id" = i64, Path, minimum = 1)), security(("bearer" = [])),
    responses((status = 200, body = ResidentDetail), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_resident(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    PathId(id): PathId,
) -> AppResult<Json<ResidentDetail>> {
    Ok(Json(search::view(&state, &meta, &caller, id).await?))
}

#[utoipa::path(put, path = "/api/v1/residents/{id}", tag = "base data", request_body = ResidentInput, params(("id" = i64, Path, minimum = 1)), security(("bearer" = [])),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_resident(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    PathId(id): PathId,
    ApiJson(b): ApiJson<ResidentInput>,
) -> AppResult<StatusCode> {
    resident::update(&state, &meta, &caller, id, &b).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The full ID number or phones of a resident, for a stated reason (audited with it).
#[utoipa::path(post, path = "/api/v1/residents/{id}/unmask", tag = "base data", request_body = UnmaskInput, params(("id" = i64, Path, minimum = 1)), security(("bearer" = [])),
    responses((status = 200, body = Unmasked), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn unmask_resident(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    PathId(id): PathId,
    ApiJson(b): ApiJson<UnmaskInput>,
) -> AppResult<Json<Unmasked>> {
    Ok(Json(resident::unmask(&state, &meta, &caller, id, &b).await?))
}

#[utoipa::path(post, path = "/api/v1/establishments", tag = "base data", request_body = EstablishmentInput, security(("bearer" = [])),
    responses((status = 201, body = Created), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_establishment(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    ApiJson(b): ApiJson<EstablishmentInput>,
) -> AppResult<(StatusCode, Json<Created>)> {
    Ok(created(establishment::save(&state, &meta, &caller, None, &b).await?))
}

#[utoipa::path(post, path = "/api/v1/establishments/search", tag = "base data", request_body = EstablishmentQuery, security(("bearer" = [])),
    responses((status = 200, body = ListPage<Establishment>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn search_establishments(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    ApiJson(q): ApiJson<EstablishmentQuery>,
) -> AppResult<Json<ListPage<Establishment>>> {
    Ok(Json(establishment::search(&state, &meta, &caller, &q).await?))
}

#[utoipa::path(get, path = "/api/v1/establishments/{id}", tag = "base data", params(("id" = i64, Path, minimum = 1)), security(("bearer" = [])),
    responses((status = 200, body = Establishment), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_establishment(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    PathId(id): PathId,
) -> AppResult<Json<Establishment>> {
    Ok(Json(establishment::get(&state, &meta, &caller, id).await?))
}

#[utoipa::path(put, path = "/api/v1/establishments/{id}", tag = "base data", request_body = EstablishmentInput, params(("id" = i64, Path, minimum = 1)), security(("bearer" = [])),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_establishment(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    PathId(id): PathId,
    ApiJson(b): ApiJson<EstablishmentInput>,
) -> AppResult<StatusCode> {
    establishment::save(&state, &meta, &caller, Some(id), &b).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The bureau's area; coordinates outside it are refused everywhere.
#[utoipa::path(get, path = "/api/v1/settings/bureau-area", tag = "base data", security(("bearer" = [])),
    responses((status = 200, body = BureauArea), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn get_bureau_area(State(state): State<AppState>, caller: Caller) -> AppResult<Json<BureauArea>> {
    caller.require(Permission::OrgRead)?;
    Ok(Json(crate::settings::get(&state.db, BUREAU_AREA).await?))
}

#[derive(Debug, serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AreaInput {
    /// The outer ring, `[lon, lat]` pairs.
    #[schema(value_type = Vec<Vec<f64>>, min_items = 3, max_items = 100000)]
    pub ring: Vec<[f64; 2]>,
    #[serde(default)]
    pub datum: super::model::DatumCode,
}

/// Sets the bureau's area (system administrator); a new version of the setting, audited.
#[utoipa::path(put, path = "/api/v1/settings/bureau-area", tag = "base data", request_body = AreaInput, security(("bearer" = [])),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn set_bureau_area(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    ApiJson(b): ApiJson<AreaInput>,
) -> AppResult<StatusCode> {
    caller.require(Permission::OrgWrite)?;
    let area = BureauArea::parse(&b.ring, b.datum.into())?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let version =
        crate::settings::set(&mut tx, BUREAU_AREA, &area, caller.account_id, now).await.map_err(AppError::Internal)?;
    let entry = Entry::new(&meta, Some(&caller), "settings.bureau_area")
        .detail(serde_json::json!({"version": version, "points": area.ring.len()}));
    audit::append(&mut tx, &state.db, &state.key, now, &entry).await.map_err(|e| audit::audit_failed(&state, e))?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
