//! The UI at `/`: the built React app (`ui/dist`, `--ui-dir`, `EIO_UI_DIR`) with a
//! single-page-app fallback (any path that isn't a file or under `/api` is `index.html`),
//! and the headers that keep it to itself (CSP, no framing, no sniffing).
use std::path::Path;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use tower_http::services::{ServeDir, ServeFile};

/// The static files, or a short note when there is no built UI.
pub fn service<S: Clone + Send + Sync + 'static>(dir: Option<&Path>) -> MethodRouter<S> {
    match dir {
        Some(dir) => {
            let index = ServeFile::new(dir.join("index.html"));
            axum::routing::get_service(ServeDir::new(dir).append_index_html_on_directories(true).fallback(index))
        }
        None => axum::routing::get(|| async {
            (
                StatusCode::NOT_FOUND,
                "EIO serves its API under /api (see /api/openapi.json); no built UI was found: run `npm run build` in ui/ \
                 or pass --ui-dir.",
            )
                .into_response()
        }),
    }
}

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
                   font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

pub async fn security_headers(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    }
    response
}
