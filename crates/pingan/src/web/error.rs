//! The one error type of the web layer. `IntoResponse` here is the only place a status code is
//! chosen; the request middleware then renders the body (JSON for /api, HTML for pages) with the
//! request id, so framework rejections and our own errors share one shape:
//! `{"error": {"code", "field", "reason", "request_id"}}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("not found")]
    NotFound,
    #[error("{field}: {reason}")]
    Invalid { field: String, reason: String },
    #[error("conflict: {reason}")]
    Conflict { field: Option<String>, reason: String },
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("sign-in required")]
    Unauthenticated,
    #[error("invalid credentials")]
    InvalidCredentials,
    #[error("{reason}")]
    Refused { code: &'static str, reason: String },
    #[error("too many requests")]
    RateLimited,
    #[error("body too large")]
    PayloadTooLarge,
    #[error("unsupported media type")]
    UnsupportedMediaType,
    #[error("service unavailable: {0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(#[from] anyhow::Error),
}

impl AppError {
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> AppError {
        AppError::Invalid { field: field.into(), reason: reason.into() }
    }

    /// Refuses a raw value longer than the API document allows. The document's `maxLength` counts
    /// what was sent, so this runs before any trimming or parsing.
    pub fn check_len(field: &str, raw: &str, max: usize) -> Result<(), AppError> {
        if raw.chars().count() > max {
            return Err(AppError::invalid(field, format!("at most {max} characters")));
        }
        Ok(())
    }

    pub fn conflict(field: &str, reason: impl Into<String>) -> AppError {
        AppError::Conflict { field: Some(field.to_string()), reason: reason.into() }
    }

    fn info(&self) -> ErrorInfo {
        let (status, code, field, reason) = match self {
            AppError::NotFound => (StatusCode::NOT_FOUND, "not_found", None, "no such record".into()),
            AppError::Invalid { field, reason } => {
                (StatusCode::UNPROCESSABLE_ENTITY, "invalid", Some(field.clone()), reason.clone())
            }
            AppError::Conflict { field, reason } => (StatusCode::CONFLICT, "conflict", field.clone(), reason.clone()),
            AppError::Forbidden(reason) => (StatusCode::FORBIDDEN, "forbidden", None, reason.clone()),
            AppError::Unauthenticated => (StatusCode::UNAUTHORIZED, "unauthenticated", None, "sign-in required".into()),
            AppError::InvalidCredentials => (
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                None,
                "wrong username, password or code, or the account is locked".into(),
            ),
            AppError::Refused { code, reason } => (StatusCode::FORBIDDEN, *code, None, reason.clone()),
            AppError::RateLimited => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                None,
                "too many attempts from this address; try again later".into(),
            ),
            AppError::PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                Some("body".into()),
                "the body is larger than 1 MiB".into(),
            ),
            AppError::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                Some("content-type".into()),
                "expected application/json".into(),
            ),
            AppError::Unavailable(reason) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable", None, reason.clone()),
            AppError::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                None,
                "internal error; quote the request id to an administrator".into(),
            ),
        };
        ErrorInfo {
            status,
            code: code.to_string(),
            field,
            reason,
            cause: match self {
                AppError::Internal(e) => Some(format!("{e:#}")),
                _ => None,
            },
        }
    }
}

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        AppError::Internal(e.into())
    }
}

/// What an error response carries to the middleware that renders it.
#[derive(Debug, Clone)]
pub struct ErrorInfo {
    pub status: StatusCode,
    pub code: String,
    pub field: Option<String>,
    pub reason: String,
    /// The cause of an internal error: logged under the request id, never shown.
    pub cause: Option<String>,
}

impl ErrorInfo {
    /// The shape of a rejection the framework produced on its own (unknown route, wrong
    /// method, body too large), which carries no `ErrorInfo` of ours.
    pub fn from_status(status: StatusCode) -> ErrorInfo {
        let (code, field, reason) = match status {
            StatusCode::NOT_FOUND => ("not_found", None, "no such route or record"),
            StatusCode::METHOD_NOT_ALLOWED => ("method_not_allowed", None, "this route does not accept that method"),
            StatusCode::PAYLOAD_TOO_LARGE => ("body_too_large", Some("body"), "the body is larger than 1 MiB"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => {
                ("unsupported_media_type", Some("content-type"), "expected application/json")
            }
            s if s.is_server_error() => ("internal", None, "internal error; quote the request id to an administrator"),
            _ => ("bad_request", None, "the request was not understood"),
        };
        ErrorInfo { status, code: code.into(), field: field.map(String::from), reason: reason.into(), cause: None }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let info = self.info();
        let mut resp = info.status.into_response();
        resp.extensions_mut().insert(info);
        resp
    }
}

pub type AppResult<T> = Result<T, AppError>;

/// One rejected row of an import: its line in the file, the field and the reason.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct RowError {
    pub line: u64,
    pub field: String,
    pub reason: String,
}

impl RowError {
    /// A problem with the file as a whole (encoding, header row), reported as its line 1.
    pub fn file(reason: impl Into<String>) -> RowError {
        RowError { line: 1, field: "file".into(), reason: reason.into() }
    }
}
