//! `eio serve` without `--ui-dir` serves the UI built into the binary, whatever directory
//! it runs from (the tests run in `src-tauri/server`, where there is no `ui/dist`).
//!
//! What is built in is whatever `ui/dist` held when this binary was compiled (build.rs
//! re-embeds it whenever it changes, and cargo rebuilds the binary before the test): with
//! a built UI, `/` is that `index.html` and its scripts load; without one, the server says
//! so on `/` and in its log. Each case asserts its own behaviour.
mod serve_support;

use serve_support::{browser, data_dir, url_of, Server};
use sqlx::PgPool;

fn built_index() -> Option<String> {
    let dist = concat!(env!("CARGO_MANIFEST_DIR"), "/../../ui/dist/index.html");
    std::fs::read_to_string(dist).ok()
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn the_built_in_ui_is_served_from_any_directory(pool: PgPool) {
    let dir = data_dir();
    let server = Server::on(&pool, dir.path());
    let c = browser();
    let index = c.get(server.url("/")).send().await.unwrap();
    match built_index() {
        Some(expected) => {
            let log = server.output_with("eio serve: the UI built into this eio");
            assert!(log.contains("eio serve: the UI built into this eio"), "{log}");
            assert_eq!(index.status(), 200);
            assert_eq!(index.headers()["content-type"], "text/html; charset=utf-8");
            assert_eq!(index.headers()["cache-control"], "no-cache");
            assert!(index.headers()["content-security-policy"].to_str().unwrap().contains("default-src 'self'"));
            let etag = index.headers()["etag"].to_str().unwrap().to_owned();
            let html = index.text().await.unwrap();
            assert_eq!(html, expected);

            let script = html
                .split("src=\"")
                .skip(1)
                .filter_map(|s| s.split('"').next())
                .find(|s| s.starts_with("/assets/") && s.ends_with(".js"))
                .expect("the built index.html loads a script from /assets")
                .to_owned();
            let js = c.get(server.url(&script)).send().await.unwrap();
            assert_eq!(js.status(), 200, "{script}");
            assert_eq!(js.headers()["content-type"], "text/javascript; charset=utf-8");
            assert_eq!(js.headers()["cache-control"], "public, max-age=31536000, immutable");
            assert!(!js.bytes().await.unwrap().is_empty());

            // A client route is the app; a missing asset and /api paths never are.
            let route = c.get(server.url("/inventory/hosts")).send().await.unwrap();
            assert_eq!(route.status(), 200);
            assert_eq!(route.text().await.unwrap(), expected);
            assert_eq!(c.get(server.url("/assets/gone-0000.js")).send().await.unwrap().status(), 404);
            assert_eq!(c.get(server.url("/api/nope")).send().await.unwrap().status(), 404);

            // Revalidation: an unchanged index is not sent again.
            let again = c.get(server.url("/")).header("if-none-match", &etag).send().await.unwrap();
            assert_eq!(again.status(), 304);
        }
        None => {
            let log = server.output_with("this eio was built without the UI");
            assert!(log.contains("this eio was built without the UI: serving the API only"), "{log}");
            assert_eq!(index.status(), 404);
            assert!(index.text().await.unwrap().contains("npm run build"));
        }
    }
    let (status, _) = server.stop();
    assert!(status.success(), "{status:?}");
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn ui_dir_overrides_the_built_in_ui(pool: PgPool) {
    let dir = data_dir();
    let ui = dir.path().join("dev-ui");
    std::fs::create_dir_all(&ui).unwrap();
    std::fs::write(ui.join("index.html"), "<!doctype html><div id=root>dev-ui-override</div>").unwrap();
    let server = Server::start(
        dir.path(),
        &[("EIO_DATABASE_URL", &url_of(&pool))],
        &["--no-worker", "--ui-dir", ui.to_str().unwrap()],
    );
    let c = browser();
    let page = c.get(server.url("/somewhere")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("dev-ui-override"));
    let log = server.output_with("(--ui-dir)");
    assert!(log.contains("(--ui-dir)"), "{log}");
}
