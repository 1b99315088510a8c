//! JSON routes for accounts, roles and grants.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::grants::{self, Grant, NewGrant};
use super::import::{self, AccountImportReport};
use super::roles::{self, Role};
use super::service::{self, AccountView, Change, ListQuery, NewAccount};
use crate::app::AppState;
use crate::auth::api::ErrorBody;
use crate::auth::{Caller, Permission};
use crate::web::error::{AppError, AppResult};
use crate::web::extract::{ApiJson, ApiQuery, PathId};
use crate::web::middleware::RequestMeta;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_accounts, create_account))
        .routes(routes!(get_account))
        .routes(routes!(change_account))
        .routes(routes!(unmask_phone))
        .routes(routes!(import_accounts))
        .routes(routes!(list_roles, save_role))
        .routes(routes!(list_grants, create_grant))
        .routes(routes!(revoke_grant))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Part of a username or name.
    #[param(max_length = 50)]
    pub q: Option<String>,
    #[param(minimum = 1, maximum = 100000)]
    pub page: Option<i64>,
    #[param(minimum = 1, maximum = 200)]
    pub per_page: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AccountPage {
    pub items: Vec<AccountView>,
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
}

/// Accounts in the caller's jurisdiction, phones masked.
#[utoipa::path(get, path = "/api/v1/accounts", tag = "accounts", params(ListParams), security(("bearer" = [])),
    responses((status = 200, body = AccountPage), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn list_accounts(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    ApiQuery(p): ApiQuery<ListParams>,
) -> AppResult<Json<AccountPage>> {
    let page = p.page.unwrap_or(1);
    let per_page = p.per_page.unwrap_or(50);
    if !(1..=100_000).contains(&page) {
        return Err(AppError::invalid("page", "1 to 100000"));
    }
    if !(1..=200).contains(&per_page) {
        return Err(AppError::invalid("per_page", "1 to 200"));
    }
    if p.q.as_ref().is_some_and(|q| q.chars().count() > 50) {
        return Err(AppError::invalid("q", "at most 50 characters"));
    }
    let (items, total) = service::list(&state, &meta, &caller, ListQuery { q: p.q, page, per_page }).await?;
    Ok(Json(AccountPage { items, total, page, per_page }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAccount {
    #[schema(min_length = 3, max_length = 32, pattern = "^[A-Za-z0-9._-]+$")]
    pub username: String,
    #[schema(min_length = 1, max_length = 50)]
    pub name: String,
    #[schema(max_length = 16)]
    pub police_number: Option<String>,
    /// A Chinese mobile (11 digits, optional +86) or landline (0 + area code + number).
    #[schema(max_length = 20, pattern = "^[+0-9 -]*$")]
    pub phone: Option<String>,
    #[schema(minimum = 1)]
    pub node_id: i64,
    /// Omit to have a temporary password generated; either way it must be changed at first sign-in.
    #[schema(min_length = 12, max_length = 256)]
    pub password: Option<String>,
    /// Needs roles:assign.
    #[serde(default)]
    pub roles: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedAccount {
    pub id: i64,
    /// Present when the server generated the password; shown once.
    pub temporary_password: Option<String>,
}

/// Creates an account at a unit in the caller's jurisdiction.
#[utoipa::path(post, path = "/api/v1/accounts", tag = "accounts", request_body = CreateAccount, security(("bearer" = [])),
    responses((status = 201, body = CreatedAccount), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_account(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    ApiJson(b): ApiJson<CreateAccount>,
) -> AppResult<(StatusCode, Json<CreatedAccount>)> {
    let input = NewAccount {
        username: b.username,
        name: b.name,
        police_number: b.police_number,
        phone: b.phone,
        node_id: b.node_id,
        password: b.password,
        roles: b.roles,
    };
    let (id, temporary_password) = service::create(&state, &meta, &caller, input).await?;
    Ok((StatusCode::CREATED, Json(CreatedAccount { id, temporary_password })))
}

/// One account; 404 when outside the caller's jurisdiction.
#[utoipa::path(get, path = "/api/v1/accounts/{id}", tag = "accounts", params(("id" = i64, Path, minimum = 1)), security(("bearer" = [])),
    responses((status = 200, body = AccountView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_account(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    PathId(id): PathId,
) -> AppResult<Json<AccountView>> {
    Ok(Json(service::get(&state, &meta, &caller, id).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, tag = "action", rename_all = "snake_case")]
pub enum AccountChange {
    /// Needs roles:assign; replaces the account's roles.
    SetRoles {
        roles: Vec<String>,
    },
    Move {
        #[schema(minimum = 1)]
        node_id: i64,
    },
    // Empty braces, not unit variants: serde lets a unit variant of an internally tagged enum
    // ignore extra fields even under `deny_unknown_fields`.
    Disable {},
    Enable {},
    Unlock {},
    ResetPassword {},
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChangeResult {
    pub temporary_password: Option<String>,
}

/// Changes an account's roles, unit or status; its sessions end everywhere.
#[utoipa::path(post, path = "/api/v1/accounts/{id}/change", tag = "accounts", request_body = AccountChange, params(("id" = i64, Path, minimum = 1)), security(("bearer" = [])),
    responses((status = 200, body = ChangeResult), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn change_account(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    PathId(id): PathId,
    ApiJson(b): ApiJson<AccountChange>,
) -> AppResult<Json<ChangeResult>> {
    let change = match b {
        AccountChange::SetRoles { roles } => Change::Roles(roles),
        AccountChange::Move { node_id } => Change::Node(node_id),
        AccountChange::Disable {} => Change::Disabled(true),
        AccountChange::Enable {} => Change::Disabled(false),
        AccountChange::Unlock {} => Change::Unlock,
        AccountChange::ResetPassword {} => Change::ResetPassword,
    };
    let temporary_password = service::change(&state, &meta, &caller, id, change).await?;
    Ok(Json(ChangeResult { temporary_password }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UnmaskRequest {
    /// Why the full number is needed; kept in the audit log.
    #[schema(min_length = 4, max_length = 200)]
    pub reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Unmasked {
    pub phone: Option<String>,
}

/// The full phone number of an account, for a stated reason (audited).
#[utoipa::path(post, path = "/api/v1/accounts/{id}/unmask-phone", tag = "accounts", request_body = UnmaskRequest, params(("id" = i64, Path, minimum = 1)), security(("bearer" = [])),
    responses((status = 200, body = Unmasked), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn unmask_phone(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    PathId(id): PathId,
    ApiJson(b): ApiJson<UnmaskRequest>,
) -> AppResult<Json<Unmasked>> {
    let phone = service::unmask_phone(&state, &meta, &caller, id, &b.reason).await?;
    Ok(Json(Unmasked { phone }))
}

/// Imports accounts from CSV; all rows or none.
#[utoipa::path(post, path = "/api/v1/accounts/import", tag = "accounts", request_body(content = String, content_type = "text/csv"), security(("bearer" = [])),
    responses((status = 200, body = AccountImportReport), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = AccountImportReport)))]
async fn import_accounts(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> AppResult<(StatusCode, Json<AccountImportReport>)> {
    let is_csv = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/csv"));
    if !is_csv {
        return Err(AppError::UnsupportedMediaType);
    }
    let report = import::import(&state, &meta, &caller, &body).await?;
    let status = if report.errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    Ok((status, Json(report)))
}

/// The roles and the permissions each carries.
#[utoipa::path(get, path = "/api/v1/roles", tag = "accounts", security(("bearer" = [])),
    responses((status = 200, body = [Role]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn list_roles(State(state): State<AppState>, caller: Caller) -> AppResult<Json<Vec<Role>>> {
    caller.require(Permission::AccountsRead)?;
    Ok(Json(roles::all(&state.db).await?))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedId {
    pub id: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SaveRole {
    #[schema(min_length = 2, max_length = 32, pattern = "^[a-z0-9_]+$")]
    pub code: String,
    #[schema(min_length = 1, max_length = 50)]
    pub name_zh: String,
    #[schema(min_length = 1, max_length = 50)]
    pub name_en: String,
    /// Permission codes from the closed set, e.g. `people:read_masked`.
    #[schema(value_type = Vec<crate::auth::Permission>)]
    pub permissions: Vec<String>,
}

/// Defines a role, or changes a role defined earlier (built-in roles stay as they are).
/// Security administrator only; holders of a changed role are signed out everywhere.
#[utoipa::path(post, path = "/api/v1/roles", tag = "accounts", request_body = SaveRole, security(("bearer" = [])),
    responses((status = 200, body = CreatedId), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn save_role(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    ApiJson(b): ApiJson<SaveRole>,
) -> AppResult<Json<CreatedId>> {
    let input = roles::RoleInput { code: b.code, name_zh: b.name_zh, name_en: b.name_en, permissions: b.permissions };
    Ok(Json(CreatedId { id: roles::save(&state, &meta, &caller, input).await? }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateGrant {
    #[schema(minimum = 1)]
    pub account_id: i64,
    #[schema(minimum = 1)]
    pub node_id: i64,
    #[schema(value_type = crate::jurisdiction::Level)]
    pub level: String,
    #[schema(min_length = 4, max_length = 200)]
    pub reason: String,
    #[schema(format = DateTime)]
    pub expires_at: Option<String>,
}

/// Grants an account access to another unit's data.
#[utoipa::path(post, path = "/api/v1/grants", tag = "grants", request_body = CreateGrant, security(("bearer" = [])),
    responses((status = 201, body = CreatedId), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_grant(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    ApiJson(b): ApiJson<CreateGrant>,
) -> AppResult<(StatusCode, Json<CreatedId>)> {
    let expires_at = match b.expires_at {
        Some(s) => Some(
            chrono::DateTime::parse_from_rfc3339(&s)
                .map_err(|_| AppError::invalid("expires_at", "an ISO 8601 time with offset"))?
                .timestamp_millis(),
        ),
        None => None,
    };
    let g = NewGrant { account_id: b.account_id, node_id: b.node_id, level: b.level, reason: b.reason, expires_at };
    let id = grants::create(&state, &meta, &caller, g).await?;
    Ok((StatusCode::CREATED, Json(CreatedId { id })))
}

/// The newest 500 grants.
#[utoipa::path(get, path = "/api/v1/grants", tag = "grants", security(("bearer" = [])),
    responses((status = 200, body = [Grant]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn list_grants(State(state): State<AppState>, caller: Caller) -> AppResult<Json<Vec<Grant>>> {
    Ok(Json(grants::list(&state, &caller).await?))
}

/// Revokes a grant at once.
#[utoipa::path(post, path = "/api/v1/grants/{id}/revoke", tag = "grants", params(("id" = i64, Path, minimum = 1)), security(("bearer" = [])),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn revoke_grant(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    PathId(id): PathId,
) -> AppResult<StatusCode> {
    grants::revoke(&state, &meta, &caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
