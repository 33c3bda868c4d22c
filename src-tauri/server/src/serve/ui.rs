//! The UI at `/`: the built React app with a single-page-app fallback (any path that isn't
//! a file or under `/api` is `index.html`), and the headers that keep it to itself (CSP,
//! no framing, no sniffing).
//!
//! Owns where the UI comes from: by default the `ui/dist` embedded in the binary at build
//! time (so an installed `eio serve` works from any directory); `--ui-dir`/`EIO_UI_DIR`
//! serves a directory instead, for UI development. Hashed files under `assets/` are
//! cached for good (`immutable`); everything else is revalidated (`no-cache` + `ETag`).
//!
//! Never serves anything but the embedded files or the chosen directory, and never
//! answers a missing `assets/*` file with `index.html` (a stale page would run HTML as a
//! script and fail obscurely; a 404 says what happened).
use std::borrow::Cow;
use std::path::Path;

use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use rust_embed::Embed;
use tower_http::services::{ServeDir, ServeFile};

/// `ui/dist` as it was when this binary was built (empty when it hadn't been built).
#[derive(Embed)]
#[folder = "../../ui/dist/"]
#[allow_missing = true]
struct Embedded;

/// Which UI `eio serve` will serve, for the startup log line.
pub enum Source<'a> {
    Directory(&'a Path),
    Embedded,
    None,
}

/// What `service` will serve given the `--ui-dir` choice.
pub fn source(dir: Option<&Path>) -> Source<'_> {
    match dir {
        Some(dir) => match dir.join("index.html").is_file() {
            true => Source::Directory(dir),
            false => Source::None,
        },
        None => match Embedded::get(INDEX).is_some() {
            true => Source::Embedded,
            false => Source::None,
        },
    }
}

const INDEX: &str = "index.html";

/// The static files (a directory when `dir` is given, else the embedded UI), or a short
/// note when there is no built UI.
pub fn service<S: Clone + Send + Sync + 'static>(dir: Option<&Path>) -> MethodRouter<S> {
    match source(dir) {
        Source::Directory(dir) => {
            let index = ServeFile::new(dir.join(INDEX));
            axum::routing::get_service(ServeDir::new(dir).append_index_html_on_directories(true).fallback(index))
        }
        Source::Embedded => axum::routing::get(|uri: Uri, headers: HeaderMap| async move { embedded(&uri, &headers) }),
        Source::None => axum::routing::get(|| async {
            (
                StatusCode::NOT_FOUND,
                "EIO serves its API under /api (see /api/openapi.json); this eio was built without the UI: run \
                 `npm run build` in ui/ and rebuild eio, or pass --ui-dir.",
            )
                .into_response()
        }),
    }
}

/// One embedded file, or `index.html` for an app route.
fn embedded(uri: &Uri, headers: &HeaderMap) -> Response {
    respond(uri, headers, |name| Embedded::get(name).map(|f| (f.data, f.metadata.sha256_hash())))
}

/// A file's content and its SHA-256, as the embedding stores them.
type File = (Cow<'static, [u8]>, [u8; 32]);

fn respond(uri: &Uri, headers: &HeaderMap, get: impl Fn(&str) -> Option<File>) -> Response {
    let path = uri.path().trim_start_matches('/');
    let (name, (data, hash)) = match get(path).filter(|_| !path.is_empty()) {
        Some(file) => (path, file),
        None if path.starts_with("assets/") => return StatusCode::NOT_FOUND.into_response(),
        None => match get(INDEX) {
            Some(file) => (INDEX, file),
            None => return StatusCode::NOT_FOUND.into_response(),
        },
    };
    let etag = etag(&hash);
    let mut response = match headers.get(header::IF_NONE_MATCH).is_some_and(|v| v.as_bytes() == etag.as_bytes()) {
        true => StatusCode::NOT_MODIFIED.into_response(),
        false => data.into_owned().into_response(),
    };
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(&content_type(name)) {
        h.insert(header::CONTENT_TYPE, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache_control(name)));
    response
}

/// The `Content-Type` for a file name, by its extension; text types say UTF-8.
fn content_type(name: &str) -> String {
    let mime = mime_guess::from_path(name).first_or_octet_stream();
    let textual = mime.type_() == mime_guess::mime::TEXT
        || matches!(mime.subtype().as_str(), "javascript" | "json" | "xml" | "svg");
    match textual && mime.get_param(mime_guess::mime::CHARSET).is_none() {
        true => format!("{mime}; charset=utf-8"),
        false => mime.to_string(),
    }
}

/// Vite names everything under `assets/` by its content hash: those never change.
fn cache_control(name: &str) -> &'static str {
    match name.starts_with("assets/") {
        true => "public, max-age=31536000, immutable",
        false => "no-cache",
    }
}

fn etag(hash: &[u8; 32]) -> String {
    let hex: String = hash.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_type_follows_the_extension() {
        assert_eq!(content_type("index.html"), "text/html; charset=utf-8");
        assert_eq!(content_type("assets/index-3f2a1b.js"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("assets/index-3f2a1b.css"), "text/css; charset=utf-8");
        assert_eq!(content_type("favicon.svg"), "image/svg+xml; charset=utf-8");
        assert_eq!(content_type("icons/app.png"), "image/png");
        assert_eq!(content_type("fonts/inter.woff2"), "font/woff2");
        assert_eq!(content_type("data.bin"), "application/octet-stream");
        assert_eq!(content_type("no-extension"), "application/octet-stream");
    }

    #[test]
    fn only_hashed_assets_are_immutable() {
        assert_eq!(cache_control("assets/index-3f2a1b.js"), "public, max-age=31536000, immutable");
        assert_eq!(cache_control("index.html"), "no-cache");
        assert_eq!(cache_control("favicon.svg"), "no-cache");
    }

    /// A built UI of two files, as the embedding would hold it.
    fn built(name: &str) -> Option<File> {
        match name {
            "index.html" => Some((Cow::Borrowed(b"<!doctype html><div id=\"root\"></div>"), [1; 32])),
            "assets/index-3f2a1b.js" => Some((Cow::Borrowed(b"console.log(1)"), [2; 32])),
            _ => None,
        }
    }

    fn get(path: &str, headers: &HeaderMap) -> Response {
        let uri: Uri = path.parse().expect("a test path is a valid URI");
        respond(&uri, headers, built)
    }

    #[test]
    fn files_are_served_with_their_type_and_caching() {
        let r = get("/assets/index-3f2a1b.js", &HeaderMap::new());
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()[header::CONTENT_TYPE], "text/javascript; charset=utf-8");
        assert_eq!(r.headers()[header::CACHE_CONTROL], "public, max-age=31536000, immutable");
        assert_eq!(r.headers()[header::ETAG], etag(&[2; 32]).as_str());
    }

    #[test]
    fn app_routes_fall_back_to_the_index_and_missing_assets_do_not() {
        for path in ["/", "/index.html", "/inventory/hosts", "/jobs/42?tab=log"] {
            let r = get(path, &HeaderMap::new());
            assert_eq!(r.status(), StatusCode::OK, "{path}");
            assert_eq!(r.headers()[header::CONTENT_TYPE], "text/html; charset=utf-8", "{path}");
            assert_eq!(r.headers()[header::CACHE_CONTROL], "no-cache", "{path}");
            assert_eq!(r.headers()[header::ETAG], etag(&[1; 32]).as_str(), "{path}");
        }
        assert_eq!(get("/assets/does-not-exist-0000.js", &HeaderMap::new()).status(), StatusCode::NOT_FOUND);
    }

    #[test]
    fn without_a_built_ui_every_path_is_a_404() {
        for path in ["/", "/inventory/hosts", "/assets/index-3f2a1b.js"] {
            let uri: Uri = path.parse().expect("valid");
            assert_eq!(respond(&uri, &HeaderMap::new(), |_| None).status(), StatusCode::NOT_FOUND, "{path}");
        }
    }

    #[test]
    fn an_unchanged_file_is_not_sent_again() {
        let mut headers = HeaderMap::new();
        headers.insert(header::IF_NONE_MATCH, HeaderValue::from_str(&etag(&[1; 32])).expect("a header value"));
        let r = get("/", &headers);
        assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(r.headers()[header::ETAG], etag(&[1; 32]).as_str());
        headers.insert(header::IF_NONE_MATCH, HeaderValue::from_static("\"stale\""));
        assert_eq!(get("/", &headers).status(), StatusCode::OK);
    }

    #[test]
    fn a_ui_dir_without_an_index_is_no_ui() {
        let dir = tempfile::tempdir().expect("a temp dir");
        assert!(matches!(source(Some(dir.path())), Source::None));
        std::fs::write(dir.path().join(INDEX), "<!doctype html>").expect("write index");
        assert!(matches!(source(Some(dir.path())), Source::Directory(_)));
    }
}
