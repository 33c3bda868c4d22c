//! `eio serve` as a browser meets it: sign in with a real PostgreSQL login, the
//! database's refusals as 403 with its own sentence, GET operations from the query string,
//! POST operations from JSON, errors shaped `{"error": {"code", "message"}}`, internal
//! errors that say nothing, live updates over SSE, the UI with its SPA fallback, and a
//! planted password that appears nowhere — not in a response, not in the trace log.
mod serve_support;

use futures::StreamExt;
use serde_json::{json, Value};
use serve_support::{browser, contains, data_dir, url_of, Server, TestLogin};
use sqlx::PgPool;

async fn body(r: reqwest::Response) -> (u16, Value, String) {
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null), text)
}

fn assert_error(status: u16, v: &Value, want_status: u16, want_code: &str) {
    assert_eq!(status, want_status, "{v}");
    assert_eq!(v["error"]["code"], want_code, "{v}");
    assert!(v["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
    assert_eq!(v.as_object().unwrap().len(), 1, "only `error` in an error body: {v}");
}

/// What the database itself says when `login` runs `sql`.
async fn database_says(pool: &PgPool, login: &TestLogin, sql: &str) -> String {
    let opts = pool.connect_options().as_ref().clone().username(&login.login).password(&login.password);
    let mut c = <sqlx::PgConnection as sqlx::Connection>::connect_with(&opts).await.unwrap();
    match sqlx::raw_sql(sql).execute(&mut c).await {
        Err(sqlx::Error::Database(e)) => e.message().to_owned(),
        other => panic!("expected the database to refuse {sql}: {other:?}"),
    }
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn sign_in_rbac_queries_and_error_shapes(pool: PgPool) {
    let dir = data_dir();
    let url = url_of(&pool);
    let server = Server::start(dir.path(), &[("EIO_DATABASE_URL", &url)], &["--no-worker"]);
    let viewer = TestLogin::new(&pool, "eio_viewer", "viewer", &[]).await;
    let operator = TestLogin::new(&pool, "eio_operator", "operator", &["maintenance_mode"]).await;
    let planted = format!("PLANTED-serve-pw-{}", uuid::Uuid::new_v4().simple());
    let mut seen = Vec::<String>::new();

    // No session: every operation is 401, shaped like every other error.
    let anon = browser();
    let (s, v, t) = body(anon.get(server.url("/api/status")).send().await.unwrap()).await;
    assert_error(s, &v, 401, "forbidden");
    seen.push(t);
    let (s, v, _) = body(anon.get(server.url("/api/session")).send().await.unwrap()).await;
    assert_eq!(s, 200);
    assert_eq!(v["mode"], "none");
    assert_eq!(v["sign_in_available"], true);
    // A visitor learns the database's name, never where it runs.
    let database_name = url::Url::parse(&url).unwrap().path().trim_start_matches('/').to_owned();
    assert_eq!(v["database"], database_name.as_str(), "{v}");

    // A login that doesn't exist, with the planted password: refused, and the password
    // is neither echoed nor logged.
    let (s, v, t) = body(
        anon.post(server.url("/api/session"))
            .json(&json!({"username": "eio_no_such_login_5d1", "password": planted}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    // One answer for every refusal (issue 22): it names no login (no role enumeration).
    assert_error(s, &v, 401, "forbidden");
    assert!(!v["error"]["message"].as_str().unwrap().contains("eio_no_such_login_5d1"), "{v}");
    seen.push(t);

    // The viewer signs in: an HttpOnly, SameSite=Strict session cookie.
    let b = browser();
    let r = b
        .post(server.url("/api/session"))
        .json(&json!({"username": viewer.login, "password": viewer.password}))
        .send()
        .await
        .unwrap();
    let cookie = r.headers().get("set-cookie").unwrap().to_str().unwrap().to_owned();
    assert!(cookie.starts_with("eio_session=") && cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    let (s, v, _) = body(r).await;
    assert_eq!((s, v["mode"].as_str(), v["login"].as_str()), (200, Some("session"), Some(viewer.login.as_str())));
    assert!(!cookie.contains(&viewer.password));
    // Signed in, the account menu says where: host, port and database.
    let parsed = url::Url::parse(&url).unwrap();
    assert_eq!(
        v["database"],
        format!("{}:{}/{database_name}", parsed.host_str().unwrap(), parsed.port().unwrap_or(5432)).as_str(),
        "{v}"
    );

    let (s, me, _) = body(b.get(server.url("/api/me")).send().await.unwrap()).await;
    assert_eq!(s, 200);
    assert_eq!(me["login"], viewer.login.as_str());
    assert_eq!(me["may"]["read"], true);
    assert_eq!(me["may"]["submit_jobs"], false);

    // A GET operation with its input in the query string.
    let (s, page, _) =
        body(b.get(server.url("/api/pages/inventory?q=web&kind=vms&limit=5&offset=0")).send().await.unwrap()).await;
    assert_eq!(s, 200, "{page}");
    assert_eq!((page["kind"].as_str(), page["total"].as_i64()), (Some("vms"), Some(0)));
    // A search leaves the facets out (the UI keeps those of the unsearched first page).
    assert!(page["facets"].is_null(), "{page}");
    let (s, page, _) =
        body(b.get(server.url("/api/pages/inventory?kind=vms&limit=5&offset=0")).send().await.unwrap()).await;
    assert_eq!(s, 200, "{page}");
    assert!(page["facets"]["power"].is_array(), "{page}");
    let (s, v, _) = body(b.get(server.url("/api/pages/inventory?limit=ten")).send().await.unwrap()).await;
    assert_error(s, &v, 400, "invalid_input");
    assert!(v["error"]["message"].as_str().unwrap().contains("\"limit\""), "{v}");
    let (s, v, _) = body(b.get(server.url("/api/pages/inventory?colour=blue")).send().await.unwrap()).await;
    assert_error(s, &v, 400, "invalid_input");
    let missing = uuid::Uuid::new_v4();
    let (s, v, _) = body(b.get(server.url(&format!("/api/jobs/detail?id={missing}"))).send().await.unwrap()).await;
    assert_error(s, &v, 404, "not_found");
    let (s, v, _) = body(b.get(server.url("/api/jobs/detail")).send().await.unwrap()).await;
    assert_error(s, &v, 400, "invalid_input");

    // RBAC reaches HTTP as 403 with the database's own sentence.
    let sentence = database_says(&pool, &viewer, "SELECT set_kill_switch(true, 'drill')").await;
    let (s, v, _) = body(
        b.post(server.url("/api/kill-switch")).json(&json!({"engaged": true, "reason": "drill"})).send().await.unwrap(),
    )
    .await;
    assert_error(s, &v, 403, "forbidden");
    assert_eq!(v["error"]["message"], sentence.as_str());

    // POST bodies: JSON only, readable, of the right shape.
    let (s, v, _) = body(b.post(server.url("/api/jobs/approve")).body("id=1").send().await.unwrap()).await;
    assert_error(s, &v, 415, "invalid_input");
    let (s, v, _) = body(
        b.post(server.url("/api/jobs/approve"))
            .header("content-type", "application/json")
            .body("{")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_error(s, &v, 400, "invalid_input");
    let (s, v, _) =
        body(b.post(server.url("/api/jobs/approve")).json(&json!({"comment": "ok"})).send().await.unwrap()).await;
    assert_error(s, &v, 422, "invalid_input");
    let (s, v, _) = body(b.get(server.url("/api/no/such/thing")).send().await.unwrap()).await;
    assert_error(s, &v, 404, "not_found");
    let (s, v, _) = body(b.delete(server.url("/api/status")).send().await.unwrap()).await;
    assert_error(s, &v, 405, "invalid_input");

    // The operator may engage the kill switch (a POST operation), and the dashboard shows it.
    let op = browser();
    let (s, v, _) = body(operator.sign_in(&server, &op).await).await;
    assert_eq!(s, 200, "{v}");
    let (s, v, _) = body(
        op.post(server.url("/api/kill-switch"))
            .json(&json!({"engaged": true, "reason": "drill"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((s, v["engaged"].as_bool()), (200, Some(true)), "{v}");
    let (s, dash, _) = body(b.get(server.url("/api/pages/dashboard")).send().await.unwrap()).await;
    assert_eq!(s, 200, "{dash}");
    assert_eq!(dash["kill_switch"]["engaged"], true);
    assert!(dash["warnings"].as_array().unwrap().iter().any(|w| w.as_str().unwrap().contains("kill switch")));

    // Anything unexpected is "Something went wrong", never the internals.
    sqlx::raw_sql(
        "CREATE FUNCTION test_boom() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN RAISE EXCEPTION 'internal detail 0xdeadbeef in relation pg_secret' USING ERRCODE = 'XX000'; END $$;
         CREATE TRIGGER test_boom BEFORE UPDATE ON kill_switch FOR EACH ROW EXECUTE FUNCTION test_boom();",
    )
    .execute(&pool)
    .await
    .unwrap();
    let (s, v, t) = body(
        op.post(server.url("/api/kill-switch"))
            .json(&json!({"engaged": true, "reason": "again"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_error(s, &v, 500, "internal");
    assert!(v["error"]["message"].as_str().unwrap().starts_with("Something went wrong"), "{v}");
    assert!(!t.contains("0xdeadbeef"), "{t}");

    // Signing out ends the session.
    let (s, v, _) = body(b.delete(server.url("/api/session")).send().await.unwrap()).await;
    assert_eq!((s, v["mode"].as_str()), (200, Some("none")));
    let (s, v, _) = body(b.get(server.url("/api/status")).send().await.unwrap()).await;
    assert_error(s, &v, 401, "forbidden");

    // The planted password is nowhere: not in an answer, not in the trace log.
    let (status, output) = server.stop();
    assert!(status.success(), "eio serve stops cleanly on SIGTERM: {status:?}\n{}", String::from_utf8_lossy(&output));
    assert!(contains(&output, "internal detail 0xdeadbeef"), "internal details go to the log");
    assert!(!contains(&output, &planted), "the planted password reached the server's log");
    assert!(seen.iter().all(|t| !t.contains(&planted)), "the planted password was echoed");
    assert!(!contains(&output, &viewer.password) && !contains(&output, &operator.password));
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn live_updates_relay_notify_as_server_sent_events(pool: PgPool) {
    let dir = data_dir();
    let server = Server::on(&pool, dir.path());
    let viewer = TestLogin::new(&pool, "eio_viewer", "viewer", &[]).await;
    let b = browser();
    assert_eq!(viewer.sign_in(&server, &b).await.status(), 200);

    let unauth = browser().get(server.url("/api/events")).send().await.unwrap();
    assert_eq!(unauth.status(), 401);

    let r = b.get(server.url("/api/events")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let mut stream = r.bytes_stream();
    let mut text = String::new();
    // Read until `needle` arrives (the stream is the clock: no sleeps).
    async fn until<B: AsRef<[u8]>, E: std::fmt::Debug>(
        stream: &mut (impl futures::Stream<Item = Result<B, E>> + Unpin),
        text: &mut String,
        needle: &str,
    ) {
        let found = tokio::time::timeout(std::time::Duration::from_secs(30), async {
            while !text.contains(needle) {
                match stream.next().await {
                    Some(Ok(chunk)) => text.push_str(&String::from_utf8_lossy(chunk.as_ref())),
                    Some(Err(e)) => panic!("stream failed before {needle}: {e:?}"),
                    None => panic!("stream ended before {needle}"),
                }
            }
        })
        .await;
        assert!(found.is_ok(), "no {needle} in {text}");
    }
    until(&mut stream, &mut text, "event: ready").await;

    let job = uuid::Uuid::new_v4();
    sqlx::query("SELECT pg_notify('eio_kill_switch', $1)")
        .bind(json!({"engaged": true, "reason": "secret reason 77", "changed_by": "alice"}).to_string())
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("SELECT pg_notify('eio_jobs', $1)")
        .bind(json!({"id": job, "type": "sync", "status": "paused", "initiated_by_user": null}).to_string())
        .execute(&pool)
        .await
        .unwrap();
    until(&mut stream, &mut text, &job.to_string()).await;
    assert!(text.contains("event: kill_switch"), "{text}");
    assert!(text.contains("event: job\n"), "{text}");
    // Anybody may NOTIFY: what a payload claims (a state, a status, a reason) is not relayed;
    // pages re-read with their own rights.
    assert!(!text.contains("\"engaged\":true") && !text.contains("\"status\":\"paused\""), "ids only: {text}");
    assert!(!text.contains("secret reason 77") && !text.contains("alice"), "only ids and kinds: {text}");

    // A stopping server ends its event streams (graceful shutdown doesn't hang on them).
    let (status, _) = server.stop();
    assert!(status.success(), "{status:?}");
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn the_ui_and_the_openapi_document_are_served(pool: PgPool) {
    let dir = data_dir();
    let ui = dir.path().join("ui");
    std::fs::create_dir_all(ui.join("assets")).unwrap();
    std::fs::write(ui.join("index.html"), "<!doctype html><div id=root>eio-test-ui</div>").unwrap();
    std::fs::write(ui.join("assets/app.js"), "console.log('eio')").unwrap();
    let server = Server::start(
        dir.path(),
        &[("EIO_DATABASE_URL", &url_of(&pool))],
        &["--no-worker", "--ui-dir", ui.to_str().unwrap()],
    );
    let c = browser();
    let index = c.get(server.url("/")).send().await.unwrap();
    assert_eq!(index.status(), 200);
    assert!(index.headers()["content-security-policy"].to_str().unwrap().contains("default-src 'self'"));
    assert!(index.text().await.unwrap().contains("eio-test-ui"));
    let js = c.get(server.url("/assets/app.js")).send().await.unwrap();
    assert!(js.headers()["content-type"].to_str().unwrap().contains("javascript"));
    // Client-side routes fall back to the app; /api paths never do.
    assert!(c.get(server.url("/jobs/1234")).send().await.unwrap().text().await.unwrap().contains("eio-test-ui"));
    assert_eq!(c.get(server.url("/api/nope")).send().await.unwrap().status(), 404);

    let (s, doc, _) = body(c.get(server.url("/api/openapi.json")).send().await.unwrap()).await;
    assert_eq!(s, 200);
    assert_eq!(doc["openapi"], "3.1.0");
    for op in eio_core::api::OPERATIONS {
        let method = if op.method == eio_core::api::HttpMethod::Get { "get" } else { "post" };
        assert_eq!(doc["paths"][op.path][method]["operationId"], op.name);
    }
    assert!(doc["paths"]["/api/session"]["post"]["requestBody"].is_object());
    assert!(doc["components"]["schemas"]["ErrorBody"].is_object());
}

#[test]
fn the_embedded_default_is_served_on_loopback_only() {
    let dir = data_dir();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_eio"))
        .env_remove("EIO_DATABASE_URL")
        .env("EIO_DATA_DIR", dir.path())
        .env("EIO_CONFIG", dir.path().join("none.toml"))
        .args(["serve", "--bind", "0.0.0.0:0", "--no-worker"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("loopback only"), "{err}");
}

/// On the embedded default nobody is the local login without the token printed at start,
/// not even on loopback (any local user or process reaches it): the printed link opens a
/// session, scripts send the token as a bearer, and a wrong token is refused.
#[tokio::test]
async fn on_the_embedded_default_only_the_start_token_acts_as_the_local_login() {
    let dir = data_dir();
    let server = Server::start(dir.path(), &[], &["--no-worker"]);
    let token = server.token();
    assert_eq!(token.len(), 64);
    let c = browser();
    let (s, v, _) = body(c.get(server.url("/api/session")).send().await.unwrap()).await;
    assert_eq!((s, v["mode"].as_str(), v["sign_in_available"].as_bool()), (200, Some("none"), Some(false)));
    for path in ["/api/me", "/api/users", "/api/events"] {
        let (s, v, _) = body(c.get(server.url(path)).send().await.unwrap()).await;
        assert_error(s, &v, 401, "forbidden");
    }
    let wrong = "0".repeat(64);
    let (s, v, _) = body(c.get(server.url("/api/me")).bearer_auth(&wrong).send().await.unwrap()).await;
    assert_error(s, &v, 401, "forbidden");
    let (s, v, _) = body(c.get(server.url(&format!("/?token={wrong}"))).send().await.unwrap()).await;
    assert_error(s, &v, 401, "forbidden");
    let (s, v, _) = body(c.get(server.url("/api/me")).send().await.unwrap()).await;
    assert_error(s, &v, 401, "forbidden");

    // A script: the bearer token.
    let (s, me, _) = body(browser().get(server.url("/api/me")).bearer_auth(&token).send().await.unwrap()).await;
    assert_eq!((s, me["login"].as_str()), (200, Some("eio_local")), "{me}");
    // A browser: the printed link sets a session cookie and drops the token from the address.
    let r = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(server.url(&format!("/?token={token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(r.headers()["location"], "/");
    let r = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(server.url(&format!("//evil.example/x?token={token}&tab=jobs")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["location"], "/evil.example/x?tab=jobs", "never another site");
    assert!(r.headers()["set-cookie"].to_str().unwrap().contains("HttpOnly"));
    c.get(server.url(&format!("/?token={token}"))).send().await.unwrap();
    let (s, v, _) = body(c.get(server.url("/api/session")).send().await.unwrap()).await;
    assert_eq!((s, v["mode"].as_str()), (200, Some("local")));
    let (s, me, _) = body(c.get(server.url("/api/me")).send().await.unwrap()).await;
    assert_eq!(s, 200, "{me}");
    assert_eq!(me["login"], "eio_local");
    // A page on another port of this host (cookies don't tell ports apart) can't change
    // anything with that session.
    let (s, v, _) = body(
        c.post(server.url("/api/kill-switch"))
            .header("origin", "http://127.0.0.1:9999")
            .header("sec-fetch-site", "same-site")
            .json(&json!({"engaged": true, "reason": "forged"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_error(s, &v, 403, "forbidden");
    // Signing that session out leaves the server working (it shares the server's pool).
    c.delete(server.url("/api/session")).send().await.unwrap();
    let (s, _, _) = body(browser().get(server.url("/api/me")).bearer_auth(&token).send().await.unwrap()).await;
    assert_eq!(s, 200);
    // The token is printed on stdout only, never in the log.
    let output = String::from_utf8_lossy(&server.output()).into_owned();
    let logged: Vec<&str> = output.lines().filter(|l| l.contains(&token)).collect();
    assert_eq!(logged.len(), 2, "the link and the script hint, nothing else: {logged:?}");
    let (s, v, _) =
        body(c.post(server.url("/api/session")).json(&json!({"username": "x", "password": "y"})).send().await.unwrap())
            .await;
    assert_error(s, &v, 400, "invalid_input");
    let (status, output) = server.stop();
    assert!(status.success(), "{}", String::from_utf8_lossy(&output));
    let _ = std::process::Command::new(env!("CARGO_BIN_EXE_eio"))
        .env("EIO_DATA_DIR", dir.path())
        .env("EIO_CONFIG", dir.path().join("none.toml"))
        .args(["embedded", "stop"])
        .output();
}

/// A browser downloads a report file by the same rule the desktop opens one: an execution
/// it may see, the file still there, inside an allowed folder, with its format's extension.
#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn a_report_file_downloads_only_as_the_desktop_would_open_it(pool: PgPool) {
    let dir = data_dir();
    let server = Server::on(&pool, dir.path());
    let operator = TestLogin::new(&pool, "eio_operator", "operator", &[]).await;
    let b = browser();
    let r = b
        .post(server.url("/api/session"))
        .json(&json!({"username": operator.login, "password": operator.password}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let (s, runs, _) = body(
        b.post(server.url("/api/reports/run"))
            .json(&json!({"type": "ipam_utilization", "format": "csv"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200, "{runs}");
    let id = runs[0]["id"].as_str().unwrap().to_owned();
    let path = std::path::PathBuf::from(runs[0]["storage_path"].as_str().unwrap());
    assert!(path.starts_with(dir.path().join("reports")), "{}", path.display());

    let r = b.get(server.url(&format!("/api/report-files/{id}/0"))).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let name = path.file_name().unwrap().to_str().unwrap().to_owned();
    assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
    assert_eq!(
        r.headers()["content-disposition"].to_str().unwrap(),
        format!("attachment; filename=\"{name}\"; filename*=UTF-8''{name}")
    );
    assert_eq!(r.bytes().await.unwrap().as_ref(), std::fs::read(&path).unwrap().as_slice());

    // Nobody without a session; no second file; no id that isn't one.
    let (s, v, _) = body(browser().get(server.url(&format!("/api/report-files/{id}/0"))).send().await.unwrap()).await;
    assert_error(s, &v, 401, "forbidden");
    let (s, v, _) = body(b.get(server.url(&format!("/api/report-files/{id}/1"))).send().await.unwrap()).await;
    assert_error(s, &v, 404, "not_found");
    assert_eq!(v["error"]["message"], "this ipam_utilization report wrote 1 file(s), not a file 2");
    let (s, v, _) = body(b.get(server.url("/api/report-files/etc-passwd/0")).send().await.unwrap()).await;
    assert_error(s, &v, 400, "invalid_input");

    // An execution whose recorded path was forged to a file outside every allowed folder
    // is refused by that rule, not served.
    let outside = tempfile::tempdir().unwrap();
    let planted = outside.path().join("secrets.csv");
    std::fs::write(&planted, "not a report").unwrap();
    sqlx::query("UPDATE report_executions SET storage_path = $2, files = ARRAY[$2] WHERE id = $1::uuid")
        .bind(&id)
        .bind(planted.display().to_string())
        .execute(&pool)
        .await
        .unwrap();
    let (s, v, _) = body(b.get(server.url(&format!("/api/report-files/{id}/0"))).send().await.unwrap()).await;
    assert_error(s, &v, 403, "forbidden");
    let message = v["error"]["message"].as_str().unwrap();
    assert!(message.contains("outside the reports folder"), "{v}");
    assert!(!message.contains(&planted.display().to_string()), "no server path in the answer: {v}");

    // Whether a file exists outside the folders is never said: gone, it is refused the same.
    std::fs::remove_file(&planted).unwrap();
    let (s, v, _) = body(b.get(server.url(&format!("/api/report-files/{id}/0"))).send().await.unwrap()).await;
    assert_error(s, &v, 403, "forbidden");
    // A report file that isn't on this server (run elsewhere, or deleted) says so.
    std::fs::remove_file(&path).unwrap();
    sqlx::query("UPDATE report_executions SET storage_path = $2, files = ARRAY[$2] WHERE id = $1::uuid")
        .bind(&id)
        .bind(path.display().to_string())
        .execute(&pool)
        .await
        .unwrap();
    let (s, v, _) = body(b.get(server.url(&format!("/api/report-files/{id}/0"))).send().await.unwrap()).await;
    assert_error(s, &v, 404, "not_found");
    assert_eq!(
        v["error"]["message"],
        "this report file is not on this server: it was moved or deleted, or the report ran on another machine"
    );
}

/// `/healthz` answers while the process is up; `/readyz` is ready while the database
/// answers with the schema this build expects, and says in words what is not: here a
/// schema behind the build, and ready again once it is current.
#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn healthz_and_readyz_say_what_monitoring_needs(pool: PgPool) {
    let dir = data_dir();
    let server = Server::on(&pool, dir.path());
    let c = browser();
    let health = c.get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(health.text().await.unwrap(), "ok\n");
    let (s, ready, _) = body(c.get(server.url("/readyz")).send().await.unwrap()).await;
    assert_eq!((s, ready), (200, serde_json::json!({"ready": true, "failed": []})));

    let latest = eio_core::db::MIGRATOR.iter().map(|m| m.version).max().unwrap();
    let row: (String, Vec<u8>) =
        sqlx::query_as("DELETE FROM _sqlx_migrations WHERE version = $1 RETURNING description, checksum")
            .bind(latest)
            .fetch_one(&pool)
            .await
            .unwrap();
    let (s, ready, _) = body(c.get(server.url("/readyz")).send().await.unwrap()).await;
    assert_eq!(s, 503);
    assert_eq!(
        ready,
        serde_json::json!({"ready": false,
                           "failed": ["schema: behind this build (1 migration(s) pending): run `eio migrate`"]})
    );
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
         VALUES ($1, $2, true, $3, 0)",
    )
    .bind(latest)
    .bind(&row.0)
    .bind(&row.1)
    .execute(&pool)
    .await
    .unwrap();
    assert_eq!(c.get(server.url("/readyz")).send().await.unwrap().status(), 200);
}
