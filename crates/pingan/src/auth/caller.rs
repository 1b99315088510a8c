//! The `Caller`: the signed-in account (or integration token) behind a request, resolved once
//! per request by [`resolve_caller`] and read by handlers as an extractor.

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

use super::permissions::{Permission, PermissionSet};
use super::session::{self, Kind};
use crate::app::AppState;
use crate::pii::mask::Viewer;
use crate::web::error::AppError;
use crate::web::middleware::RequestMeta;

#[derive(Debug, Clone)]
pub struct Caller {
    /// None for an integration token.
    pub account_id: Option<i64>,
    pub token_id: Option<i64>,
    /// Username, or `token:<name>`.
    pub label: String,
    pub name: String,
    pub node_id: i64,
    pub roles: Vec<String>,
    pub permissions: PermissionSet,
    pub session_id: Option<i64>,
    /// Set for browser sessions: forms must echo it.
    pub csrf: Option<String>,
    /// `mfa_enrol` or `change_password`: the session may do only that until it is done.
    pub restriction: Option<String>,
}

impl Caller {
    pub fn has(&self, p: Permission) -> bool {
        self.permissions.has(p)
    }

    pub fn require(&self, p: Permission) -> Result<(), AppError> {
        if self.has(p) {
            Ok(())
        } else {
            Err(AppError::Forbidden(format!("this needs the permission {}", p.code())))
        }
    }

    /// Sworn staff see ID numbers as first 4 + last 4; everyone else 3 + 4 and names masked.
    pub fn viewer(&self) -> Viewer {
        if self.has(Permission::PeopleRead) {
            Viewer::Police
        } else {
            Viewer::Civilian
        }
    }

    /// The operator at the server's shell (`pingan grids import …`): organisation rights at the
    /// root of the tree, nothing about people.
    pub async fn operator(state: &AppState) -> Result<Caller, AppError> {
        let root: Option<i64> = sqlx::query_scalar("SELECT id FROM org_nodes WHERE parent_id IS NULL")
            .fetch_optional(state.db.reader())
            .await?;
        let root = root.ok_or_else(|| AppError::invalid("org", "import the organisation first (pingan org import)"))?;
        let mut permissions = PermissionSet::default();
        permissions.insert(Permission::OrgRead);
        permissions.insert(Permission::OrgWrite);
        let user = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
        Ok(Caller {
            account_id: None,
            token_id: None,
            label: format!("cli:{user}"),
            name: user,
            node_id: root,
            roles: Vec::new(),
            permissions,
            session_id: None,
            csrf: None,
            restriction: None,
        })
    }

    pub fn account_id_or_forbidden(&self) -> Result<i64, AppError> {
        self.account_id.ok_or_else(|| AppError::Forbidden("integration tokens cannot do this".into()))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Caller>().cloned().ok_or(AppError::Unauthenticated)
    }
}

/// A caller who may or may not be signed in (the sign-in page, the home page).
pub struct MaybeCaller(pub Option<Caller>);

impl<S: Send + Sync> FromRequestParts<S> for MaybeCaller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(MaybeCaller(parts.extensions.get::<Caller>().cloned()))
    }
}

pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|kv| {
        let (k, v) = kv.trim().split_once('=')?;
        (k == name).then_some(v)
    })
}

/// Paths a restricted session may still reach.
fn allowed_while_restricted(path: &str) -> bool {
    path.starts_with("/me") || path == "/logout" || path.starts_with("/static/") || path == "/api/v1/auth/logout"
}

pub async fn resolve_caller(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let meta = req.extensions().get::<RequestMeta>().cloned().expect("BUG: the outer middleware runs first");
    let caller = match find_caller(&state, &meta, req.headers()).await {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    if let Some(c) = caller {
        if c.restriction.is_some() && !allowed_while_restricted(&meta.path) {
            if meta.path.starts_with("/api/") {
                return AppError::Refused {
                    code: "restricted_session",
                    reason: "finish two-factor enrolment or the password change first".into(),
                }
                .into_response();
            }
            return Redirect::to("/me").into_response();
        }
        req.extensions_mut().insert(c);
    }
    next.run(req).await
}

async fn find_caller(state: &AppState, meta: &RequestMeta, headers: &HeaderMap) -> Result<Option<Caller>, AppError> {
    let now = state.clock.now_ms();
    if let Some(token) = bearer(headers) {
        if token.starts_with(session::INTEGRATION_PREFIX) {
            return super::integration::resolve(state, meta, token).await;
        }
        let policy = state.security_policy().await?;
        return match session::live(&state.db, token, Kind::Api, now, &policy).await? {
            Some(row) => Ok(Some(load(state, row, None).await?)),
            None => Ok(None),
        };
    }
    let Some(token) = cookie(headers, session::COOKIE) else {
        return Ok(None);
    };
    let policy = state.security_policy().await?;
    match session::live(&state.db, token, Kind::Web, now, &policy).await? {
        Some(row) => {
            let csrf = Some(row.csrf.clone());
            Ok(Some(load(state, row, csrf).await?))
        }
        None => Ok(None),
    }
}

#[derive(sqlx::FromRow)]
struct AccountHead {
    username: String,
    name: String,
    node_id: i64,
}

async fn load(state: &AppState, row: session::SessionRow, csrf: Option<String>) -> Result<Caller, AppError> {
    let head: AccountHead = sqlx::query_as("SELECT username, name, node_id FROM accounts WHERE id = $1")
        .bind(row.account_id)
        .fetch_one(state.db.reader())
        .await?;
    let (roles, permissions) = roles_of(state, row.account_id).await?;
    Ok(Caller {
        account_id: Some(row.account_id),
        token_id: None,
        label: head.username,
        name: head.name,
        node_id: head.node_id,
        roles,
        permissions,
        session_id: Some(row.id),
        csrf,
        restriction: row.restriction,
    })
}

pub async fn roles_of(state: &AppState, account_id: i64) -> Result<(Vec<String>, PermissionSet), sqlx::Error> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT r.code, r.permissions FROM account_roles ar JOIN roles r ON r.id = ar.role_id \
         WHERE ar.account_id = $1 ORDER BY r.code",
    )
    .bind(account_id)
    .fetch_all(state.db.reader())
    .await?;
    let mut perms = PermissionSet::default();
    let mut roles = Vec::with_capacity(rows.len());
    for (code, list) in rows {
        perms.extend(&PermissionSet::parse_list(&list));
        roles.push(code);
    }
    Ok((roles, perms))
}
