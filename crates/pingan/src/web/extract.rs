//! Input extractors that turn every malformed body into our error shape, naming the field.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{header, StatusCode};
use serde::de::DeserializeOwned;

use super::error::AppError;
use crate::auth::Caller;

/// A JSON body, parsed once at the edge. Unknown fields are refused by the target types
/// (`deny_unknown_fields`); the error names the field path.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        require_json(&req)?;
        let bytes = read_body(req, state).await?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// A JSON body of any shape (an object or an array), for routes that take either one record
/// or a batch and check each item themselves.
pub struct ApiJsonValue(pub serde_json::Value);

impl<S: Send + Sync> FromRequest<S> for ApiJsonValue {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        require_json(&req)?;
        let bytes = read_body(req, state).await?;
        if std::str::from_utf8(&bytes).is_err() {
            return Err(AppError::invalid("body", "the body is not valid UTF-8"));
        }
        serde_json::from_slice(&bytes).map(ApiJsonValue).map_err(|e| {
            let message = e.to_string();
            AppError::invalid("body", message.split(" at line ").next().unwrap_or(&message).to_string())
        })
    }
}

fn require_json(req: &Request) -> Result<(), AppError> {
    let is_json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            let mime = v.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
            mime == "application/json"
        })
        .unwrap_or(false);
    if is_json {
        Ok(())
    } else {
        Err(AppError::UnsupportedMediaType)
    }
}

/// Deserialises one item of a batch, naming the field path inside the item.
pub fn from_value<T: DeserializeOwned>(v: serde_json::Value) -> Result<T, AppError> {
    serde_path_to_error::deserialize(v).map_err(|e| {
        let path = e.path().to_string();
        let message = e.into_inner().to_string();
        let field = quoted_field(&message)
            .map(|f| if path == "." || path == f { f } else { format!("{path}.{f}") })
            .unwrap_or(if path == "." || path == "?" { "body".into() } else { path });
        AppError::invalid(field, message)
    })
}

async fn read_body<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, AppError> {
    Bytes::from_request(req, state).await.map_err(|r| {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            AppError::PayloadTooLarge
        } else {
            AppError::invalid("body", "the body could not be read")
        }
    })
}

pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    if std::str::from_utf8(bytes).is_err() {
        return Err(AppError::invalid("body", "the body is not valid UTF-8"));
    }
    // Every body our API takes is an object. serde's derived structs would also accept an array
    // (fields by position) and, with defaults, `[]` as "change nothing": refuse it here, once.
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first.is_some_and(|b| *b != b'{') {
        return Err(AppError::invalid("body", "the body must be a JSON object"));
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        // serde_path_to_error writes "?" for a position it could not name (a syntax error).
        let path = match e.path().to_string() {
            p if p == "?" => ".".to_string(),
            p => p,
        };
        let inner = e.into_inner();
        let message = inner.to_string();
        let field = quoted_field(&message)
            .map(|f| {
                // serde reports an unknown field at its own path, a missing one at its parent's.
                if path == "." || path == f || path.ends_with(&format!(".{f}")) {
                    if path == "." {
                        f
                    } else {
                        path.clone()
                    }
                } else {
                    format!("{path}.{f}")
                }
            })
            .unwrap_or(if path == "." { "body".into() } else { path });
        let reason = message.split(" at line ").next().unwrap_or(&message).to_string();
        AppError::invalid(field, reason)
    })
}

/// serde names missing and unknown fields as "missing field `x`" / "unknown field `x`".
fn quoted_field(message: &str) -> Option<String> {
    if !(message.starts_with("missing field") || message.starts_with("unknown field")) {
        return None;
    }
    let start = message.find('`')? + 1;
    let end = start + message[start..].find('`')?;
    Some(message[start..end].to_string())
}

/// A form posted from one of our pages, with its CSRF token checked against the session.
pub struct CsrfForm<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for CsrfForm<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let expected =
            req.extensions().get::<Caller>().and_then(|c| c.csrf.clone()).ok_or(AppError::Unauthenticated)?;
        let bytes = read_body(req, state).await?;
        check_csrf(&bytes, &expected)?;
        parse_form(&bytes).map(CsrfForm)
    }
}

/// A posted form as name–value pairs, for forms with repeated fields (checkboxes), with its
/// CSRF token checked against the session.
pub struct CsrfFields(pub Vec<(String, String)>);

impl CsrfFields {
    /// The first value of `name`, trimmed; empty when absent.
    pub fn get(&self, name: &str) -> &str {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim()).unwrap_or("")
    }

    /// Every value of `name`, in form order.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str()).collect()
    }
}

impl<S: Send + Sync> FromRequest<S> for CsrfFields {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let expected =
            req.extensions().get::<Caller>().and_then(|c| c.csrf.clone()).ok_or(AppError::Unauthenticated)?;
        let bytes = read_body(req, state).await?;
        check_csrf(&bytes, &expected)?;
        serde_urlencoded::from_bytes(&bytes)
            .map(CsrfFields)
            .map_err(|_| AppError::invalid("body", "the form could not be read"))
    }
}

pub fn check_csrf(bytes: &[u8], expected: &str) -> Result<(), AppError> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_bytes(bytes).map_err(|_| AppError::invalid("body", "the form could not be read"))?;
    let sent = pairs.iter().find(|(k, _)| k == "csrf").map(|(_, v)| v.as_str());
    if sent.map(|s| crate::auth::constant_time_eq(s.as_bytes(), expected.as_bytes())) != Some(true) {
        return Err(AppError::Forbidden("the form has expired or did not come from this site; reload the page".into()));
    }
    Ok(())
}

pub fn parse_form<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    serde_urlencoded::from_bytes(bytes).map_err(|e| {
        let message = e.to_string();
        let field = quoted_field(&message).unwrap_or_else(|| "body".into());
        AppError::invalid(field, message)
    })
}

/// Query parameters, parsed at the edge; a bad or unknown parameter is named in the error.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> axum::extract::FromRequestParts<S> for ApiQuery<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        let de = serde_urlencoded::Deserializer::new(form_urlencoded_parse(query));
        serde_path_to_error::deserialize(de).map(ApiQuery).map_err(|e| {
            let path = e.path().to_string();
            let message = e.into_inner().to_string();
            let field =
                quoted_field(&message).unwrap_or(if path == "." || path == "?" { "query".into() } else { path });
            AppError::invalid(field, message)
        })
    }
}

fn form_urlencoded_parse(query: &str) -> form_urlencoded::Parse<'_> {
    form_urlencoded::parse(query.as_bytes())
}

/// A numeric record id in the path; anything else is a 422 naming `id`, not a bare 400.
pub struct PathId(pub i64);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for PathId {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(raw) = axum::extract::Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| AppError::invalid("id", "a record id is required"))?;
        match raw.parse::<i64>() {
            Ok(id) if id >= 1 => Ok(PathId(id)),
            _ => Err(AppError::invalid("id", "a positive whole number")),
        }
    }
}

/// The content types a spreadsheet upload may come as: CSV, XLSX, or the generic binary type
/// curl and some browsers send for a file. Anything else is 415 before the body is read as data.
pub fn check_spreadsheet_upload(headers: &axum::http::HeaderMap) -> Result<(), AppError> {
    const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
    let ctype = headers.get(axum::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if ctype.starts_with("text/csv") || ctype.starts_with(XLSX) || ctype.starts_with("application/octet-stream") {
        Ok(())
    } else {
        Err(AppError::UnsupportedMediaType)
    }
}

/// An import's query parameters. On failure, the row error an import report carries instead
/// (every 422 of an import route is its report), naming `query` and the parameters `expected`.
pub fn import_query<P: serde::de::DeserializeOwned>(
    query: Option<&str>,
    expected: &str,
) -> Result<P, crate::web::error::RowError> {
    serde_urlencoded::from_str(query.unwrap_or("")).map_err(|_| crate::web::error::RowError {
        line: 0,
        field: "query".into(),
        reason: format!("the parameters are {expected}"),
    })
}

/// The body limit of an import page's form: the largest upload, and room for the form's fields.
pub fn upload_form_limit() -> axum::extract::DefaultBodyLimit {
    axum::extract::DefaultBodyLimit::max(crate::tabular::Limits::UPLOAD.max_bytes + 64 * 1024)
}

/// A spreadsheet sent from a page's form: the file, and the checkboxes ticked (by name).
pub struct UploadForm {
    pub file: axum::body::Bytes,
    pub ticked: Vec<String>,
}

impl UploadForm {
    pub fn is_ticked(&self, name: &str) -> bool {
        self.ticked.iter().any(|t| t == name)
    }
}

/// Reads an import page's multipart form: its CSRF token must be the caller's, and it must hold
/// a non-empty file. Checkboxes count as ticked when sent with the value `true`.
pub async fn upload_form(
    caller: &crate::auth::Caller,
    mut form: axum::extract::Multipart,
) -> Result<UploadForm, AppError> {
    let expected = caller.csrf.clone().ok_or(AppError::Unauthenticated)?;
    let (mut sent, mut file, mut ticked) = (None, None, Vec::new());
    while let Some(field) =
        form.next_field().await.map_err(|_| AppError::invalid("file", "the upload could not be read"))?
    {
        let name = field.name().unwrap_or("").to_string();
        match name.as_str() {
            "csrf" => sent = field.text().await.ok(),
            "file" => file = Some(field.bytes().await.map_err(|_| AppError::PayloadTooLarge)?),
            _ => {
                if field.text().await.is_ok_and(|v| v == "true") {
                    ticked.push(name);
                }
            }
        }
    }
    if sent.map(|s| crate::auth::constant_time_eq(s.as_bytes(), expected.as_bytes())) != Some(true) {
        return Err(AppError::Forbidden("the form has expired or did not come from this site; reload the page".into()));
    }
    let file = file.filter(|f| !f.is_empty()).ok_or_else(|| AppError::invalid("file", "choose a CSV or XLSX file"))?;
    Ok(UploadForm { file, ticked })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Login {
        username: String,
        attempts: u32,
    }

    fn field_of(body: &str) -> String {
        match parse_json::<Login>(body.as_bytes()) {
            Err(AppError::Invalid { field, .. }) => field,
            other => panic!("expected invalid, got {other:?}"),
        }
    }

    #[test]
    fn errors_name_the_field() {
        assert_eq!(field_of(r#"{"username":"a"}"#), "attempts");
        assert_eq!(field_of(r#"{"username":"a","attempts":1,"admin":true}"#), "admin");
        assert_eq!(field_of(r#"{"username":"a","attempts":"x"}"#), "attempts");
        assert_eq!(field_of(r#"{"username":"a","#), "body");
    }
}
