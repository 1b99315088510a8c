//! The outermost request layer: request id, client address, language, security headers,
//! metrics, and rendering of every error response into the one shape.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use rand::RngCore;

use super::error::ErrorInfo;
use super::i18n::Lang;
use crate::app::AppState;

/// Facts about the request every layer below may read.
#[derive(Debug, Clone)]
pub struct RequestMeta {
    pub request_id: String,
    pub ip: String,
    pub lang: Lang,
    pub path: String,
}

impl RequestMeta {
    /// For operator commands run at the server's shell, which audit like requests.
    pub fn cli() -> RequestMeta {
        RequestMeta { request_id: "cli".into(), ip: "local".into(), lang: Lang::En, path: String::new() }
    }
}

/// Nothing but our own origin, except images from the configured map tile server (its origin
/// only, and only when one is configured: by default nothing is fetched from anywhere else).
fn csp(tile_origin: Option<&str>) -> String {
    let tiles = tile_origin.map(|o| format!(" {o}")).unwrap_or_default();
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:{tiles}; connect-src 'self'; \
         frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"
    )
}

pub async fn outer(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let mut id = [0u8; 8];
    rand::rngs::OsRng.fill_bytes(&mut id);
    let peer =
        req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip()).unwrap_or(IpAddr::from([127, 0, 0, 1]));
    let meta = RequestMeta {
        request_id: hex::encode(id),
        ip: client_ip(peer, req.headers(), &state.config.server.trusted_proxies).to_string(),
        lang: Lang::from_headers(req.headers()),
        path: req.uri().path().to_string(),
    };
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let method = req.method().as_str().to_string();
    req.extensions_mut().insert(meta.clone());

    let resp = next.run(req).await;
    // A handler's own JSON answer with a 4xx (an import's row-by-row report) stands as it is.
    let deliberate_json = resp.extensions().get::<ErrorInfo>().is_none()
        && resp.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    let mut resp = if (resp.status().is_client_error() || resp.status().is_server_error()) && !deliberate_json {
        render_error(&state, &meta, resp)
    } else {
        resp
    };
    set_security_headers(resp.headers_mut(), &meta.path, state.config.map.tile_origin().as_deref());
    resp.headers_mut()
        .insert("x-request-id", HeaderValue::from_str(&meta.request_id).expect("BUG: hex is a valid header value"));
    let took = started.elapsed();
    state.metrics.observe(&route, &method, resp.status().as_u16(), took);
    // The route template, never the raw path or query: those may carry identifiers.
    tracing::info!(request_id = %meta.request_id, method = %method, route = %route,
        status = resp.status().as_u16(), ms = took.as_millis() as u64, "request");
    resp
}

/// The client's address: the peer, unless the peer is a trusted proxy, in which case the
/// right-most address in X-Forwarded-For that is not itself a trusted proxy.
fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let Some(xff) = headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()) else {
        return peer;
    };
    xff.split(',')
        .rev()
        .filter_map(|s| s.trim().parse::<IpAddr>().ok())
        .find(|ip| !trusted.contains(ip))
        .unwrap_or(peer)
}

fn set_security_headers(h: &mut HeaderMap, path: &str, tile_origin: Option<&str>) {
    // The origin was checked at start-up to hold only URL-host characters; should it still not
    // make a header value, the policy without tiles is the safe one.
    let policy = HeaderValue::from_str(&csp(tile_origin))
        .unwrap_or_else(|_| HeaderValue::from_str(&csp(None)).expect("BUG: the fixed policy is a valid header value"));
    h.insert(header::CONTENT_SECURITY_POLICY, policy);
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    // Pages and API answers may hold personal data: never cached. Only our own static assets are.
    let cache = if path.starts_with("/static/") { "public, max-age=3600" } else { "no-store" };
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
}

fn wants_json(meta: &RequestMeta) -> bool {
    meta.path.starts_with("/api/") || meta.path == "/metrics" || meta.path.ends_with("z")
}

fn render_error(state: &AppState, meta: &RequestMeta, resp: Response) -> Response {
    let status = resp.status();
    let info = resp.extensions().get::<ErrorInfo>().cloned().unwrap_or_else(|| ErrorInfo::from_status(status));
    if let Some(cause) = &info.cause {
        tracing::error!(request_id = %meta.request_id, cause = %cause, "internal error");
    }
    let mut out = if wants_json(meta) {
        let body = serde_json::json!({
            "error": {
                "code": info.code,
                "field": info.field,
                "reason": info.reason,
                "request_id": meta.request_id,
            }
        });
        (info.status, axum::Json(body)).into_response()
    } else if info.status == StatusCode::UNAUTHORIZED && info.code == "unauthenticated" {
        let back = urlencode(&meta.path);
        axum::response::Redirect::to(&format!("/login?next={back}")).into_response()
    } else {
        let page = super::layout::error_page(state, meta, &info);
        (info.status, Html(page.into_string())).into_response()
    };
    // Keep headers the handler set deliberately (e.g. Allow on 405, Retry-After).
    for name in [header::ALLOW, header::RETRY_AFTER, header::SET_COOKIE] {
        for v in resp.headers().get_all(&name) {
            out.headers_mut().append(name.clone(), v.clone());
        }
    }
    out
}

pub fn urlencode(s: &str) -> String {
    serde_urlencoded::to_string([("", s)]).map(|x| x.trim_start_matches('=').to_string()).unwrap_or_default()
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for RequestMeta {
    type Rejection = super::error::AppError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts.extensions.get::<RequestMeta>().cloned().expect("BUG: the outer middleware inserts RequestMeta"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_admits_images_from_the_tile_origin_only_when_there_is_one() {
        assert!(csp(None).contains("img-src 'self' data:; connect-src 'self';"));
        assert!(csp(Some("http://tiles.intranet:8080"))
            .contains("img-src 'self' data: http://tiles.intranet:8080; connect-src 'self';"));
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", "1.2.3.4, 10.0.0.1".parse().unwrap());
        assert_eq!(client_ip(proxy, &h, &[proxy]).to_string(), "1.2.3.4");
        assert_eq!(client_ip(proxy, &h, &[]).to_string(), "10.0.0.1");
    }
}
