//! JSON routes for sign-in, sign-out, the caller's identity and integration tokens.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::integration::{self, NewToken};
use super::login::{self, Credentials};
use super::session::Kind;
use super::Caller;
use crate::app::AppState;
use crate::clock::iso_beijing;
use crate::settings::SecurityPolicy;
use crate::web::error::{AppError, AppResult};
use crate::web::extract::{ApiJson, PathId};
use crate::web::middleware::RequestMeta;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login_api))
        .routes(routes!(logout_api))
        .routes(routes!(me_api))
        .routes(routes!(list_tokens, create_token))
        .routes(routes!(revoke_token))
        .routes(routes!(get_policy, put_policy))
}

/// The security policy in force.
#[utoipa::path(get, path = "/api/v1/security/policy", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = SecurityPolicy), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn get_policy(State(state): State<AppState>, caller: Caller) -> AppResult<Json<SecurityPolicy>> {
    caller.require(super::Permission::SecurityPolicy)?;
    Ok(Json(state.security_policy().await?))
}

/// Replaces the security policy (a new audited version). Security administrator only.
#[utoipa::path(put, path = "/api/v1/security/policy", tag = "auth", request_body = SecurityPolicy, security(("bearer" = [])),
    responses((status = 200, body = SecurityPolicy), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn put_policy(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    ApiJson(body): ApiJson<SecurityPolicy>,
) -> AppResult<Json<SecurityPolicy>> {
    super::policy::update(&state, &meta, &caller, body.clone()).await?;
    Ok(Json(body))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    #[schema(min_length = 1, max_length = 64)]
    pub username: String,
    #[schema(min_length = 1, max_length = 1024)]
    pub password: String,
    /// A 6-digit authenticator code or a recovery code; null when the account has no second factor.
    #[schema(max_length = 32)]
    pub totp: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LoginResponse {
    /// Send as `Authorization: Bearer <token>`.
    pub token: String,
    /// When the token stops working at the latest (the idle limit may end it sooner).
    #[schema(format = DateTime)]
    pub expires_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    pub code: String,
    pub field: Option<String>,
    pub reason: String,
    pub request_id: String,
}

/// Signs in and returns a bearer token.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = LoginResponse), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn login_api(
    State(state): State<AppState>,
    meta: RequestMeta,
    ApiJson(body): ApiJson<LoginRequest>,
) -> AppResult<Json<LoginResponse>> {
    if body.username.is_empty() || body.username.chars().count() > 64 {
        return Err(AppError::invalid("username", "1 to 64 characters"));
    }
    if body.password.chars().count() > 1024 {
        return Err(AppError::invalid("password", "at most 1024 characters"));
    }
    let creds = Credentials { username: &body.username, password: &body.password, second_factor: body.totp.as_deref() };
    let signed = login::sign_in(&state, &meta, creds, Kind::Api).await?;
    Ok(Json(LoginResponse { token: signed.session.token, expires_at: iso_beijing(signed.session.expires_at) }))
}

/// Ends the session of the token used.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = ErrorBody)))]
async fn logout_api(State(state): State<AppState>, meta: RequestMeta, caller: Caller) -> AppResult<StatusCode> {
    login::sign_out(&state, &meta, &caller).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    pub username: String,
    pub name: String,
    pub node_id: i64,
    pub roles: Vec<String>,
    pub permissions: Vec<String>,
}

/// Who the token belongs to and what it may do.
#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = Me), (status = 401, body = ErrorBody)))]
async fn me_api(caller: Caller) -> Json<Me> {
    Json(Me {
        username: caller.label.clone(),
        name: caller.name.clone(),
        node_id: caller.node_id,
        roles: caller.roles.clone(),
        permissions: caller.permissions.iter().map(|p| p.code().to_string()).collect(),
    })
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    /// Ingest permissions only, e.g. `warnings:write`.
    #[schema(min_items = 1, value_type = Vec<crate::auth::permissions::IngestPermission>)]
    pub permissions: Vec<String>,
    #[schema(format = DateTime)]
    pub expires_at: String,
    /// Addresses (IPv4 or IPv6) the token may be used from; empty: any.
    #[serde(default)]
    #[schema(max_items = 100)]
    pub allow_ips: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedToken {
    pub id: i64,
    /// Shown this once; only its hash is kept.
    pub token: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenInfo {
    pub id: i64,
    pub name: String,
    pub permissions: Vec<String>,
    pub allow_ips: Vec<String>,
    pub expires_at: String,
    pub revoked: bool,
    pub last_used_at: Option<String>,
}

/// Creates an integration token for an upstream system.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "tokens", request_body = CreateToken, security(("bearer" = [])),
    responses((status = 201, body = CreatedToken), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_token(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    ApiJson(body): ApiJson<CreateToken>,
) -> AppResult<(StatusCode, Json<CreatedToken>)> {
    let expires_at = chrono::DateTime::parse_from_rfc3339(&body.expires_at)
        .map_err(|_| AppError::invalid("expires_at", "an ISO 8601 time with offset is required"))?
        .timestamp_millis();
    let input = NewToken { name: body.name, permissions: body.permissions, expires_at, allow_ips: body.allow_ips };
    let (id, token) = integration::create(&state, &meta, &caller, input).await?;
    Ok((StatusCode::CREATED, Json(CreatedToken { id, token })))
}

/// Lists integration tokens (never the tokens themselves).
#[utoipa::path(get, path = "/api/v1/tokens", tag = "tokens", security(("bearer" = [])),
    responses((status = 200, body = [TokenInfo]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn list_tokens(State(state): State<AppState>, caller: Caller) -> AppResult<Json<Vec<TokenInfo>>> {
    let rows = integration::list(&state, &caller).await?;
    Ok(Json(
        rows.into_iter()
            .map(|r| TokenInfo {
                id: r.id,
                name: r.name,
                permissions: r.permissions.split(',').map(String::from).collect(),
                allow_ips: r.allow_ips.split(',').filter(|s| !s.is_empty()).map(String::from).collect(),
                expires_at: iso_beijing(r.expires_at),
                revoked: r.revoked_at.is_some(),
                last_used_at: r.last_used_at.map(iso_beijing),
            })
            .collect(),
    ))
}

/// Revokes an integration token: refused at once on this server, within a second on others.
#[utoipa::path(post, path = "/api/v1/tokens/{id}/revoke", tag = "tokens", security(("bearer" = [])),
    params(("id" = i64, Path, minimum = 1)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn revoke_token(
    State(state): State<AppState>,
    meta: RequestMeta,
    caller: Caller,
    PathId(id): PathId,
) -> AppResult<StatusCode> {
    integration::revoke(&state, &meta, &caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
