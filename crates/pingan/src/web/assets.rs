//! Static files embedded in the binary: no CDN, nothing fetched at run time.

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

const FILES: &[(&str, &str, &str)] = &[
    ("app.css", "text/css; charset=utf-8", include_str!("static/app.css")),
    ("app.js", "text/javascript; charset=utf-8", include_str!("static/app.js")),
    ("antifraud.js", "text/javascript; charset=utf-8", include_str!("static/antifraud.js")),
    ("map.js", "text/javascript; charset=utf-8", include_str!("static/map.js")),
    ("map-tiles.js", "text/javascript; charset=utf-8", include_str!("static/map-tiles.js")),
];

pub async fn serve(Path(name): Path<String>) -> Response {
    match FILES.iter().find(|(n, _, _)| *n == name) {
        Some((_, mime, body)) => ([(header::CONTENT_TYPE, *mime)], *body).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
