//! Sign-in and session hardening of `eio serve` (issue 22), as an attacker on loopback
//! meets it: a sign-in flood is rate-limited and can't multiply connections; only logins
//! mapped to EIO users sign in, and every refusal says the same thing without internals;
//! a form-encoded empty POST is not an empty JSON input; the password isn't kept, so an
//! old cookie is dead after `disable` + `enable`; logout ends the event stream at once.
mod serve_support;

use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{json, Value};
use serve_support::{browser, contains, data_dir, url_of, Server, TestLogin};
use sqlx::PgPool;

/// The one answer to every refused sign-in.
const REFUSED: &str = "the login or password is not right, or this login is not an EIO user; ask an admin";

async fn body(r: reqwest::Response) -> (u16, Value, String) {
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null), text)
}

fn assert_error(status: u16, v: &Value, want_status: u16, want_code: &str) {
    assert_eq!(status, want_status, "{v}");
    assert_eq!(v["error"]["code"], want_code, "{v}");
    assert!(v["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
}

async fn sign_in(server: &Server, client: &reqwest::Client, login: &str, password: &str) -> reqwest::Response {
    client
        .post(server.url("/api/session"))
        .json(&json!({"username": login, "password": password}))
        .send()
        .await
        .unwrap()
}

/// The backends `login` has open now.
async fn connections_of(pool: &PgPool, login: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM pg_stat_activity WHERE usename = $1")
        .bind(login)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Poll until `login` has at most `most` backends (closing ones leave pg_stat_activity a
/// moment after their pool closed them); the count last seen.
async fn settles_at_most(pool: &PgPool, login: &str, most: i64) -> i64 {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let n = connections_of(pool, login).await;
        if n <= most || Instant::now() > deadline {
            return n;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Read an event stream until `needle` arrives.
async fn read_until<B: AsRef<[u8]>, E: std::fmt::Debug>(
    stream: &mut (impl futures::Stream<Item = Result<B, E>> + Unpin),
    needle: &str,
) {
    let mut text = String::new();
    let found = tokio::time::timeout(Duration::from_secs(30), async {
        while !text.contains(needle) {
            match stream.next().await {
                Some(Ok(chunk)) => text.push_str(&String::from_utf8_lossy(chunk.as_ref())),
                Some(Err(e)) => panic!("the stream failed before {needle}: {e:?} after {text}"),
                None => panic!("the stream ended before {needle}: {text}"),
            }
        }
    })
    .await;
    assert!(found.is_ok(), "no {needle} in {text}");
}

/// The session's live-update stream, once the server said `ready`.
async fn events_ready(
    b: &reqwest::Client,
    server: &Server,
) -> impl futures::Stream<Item = reqwest::Result<bytes::Bytes>> + Unpin {
    let events = b.get(server.url("/api/events")).send().await.unwrap();
    assert_eq!(events.status(), 200);
    let mut stream = events.bytes_stream();
    read_until(&mut stream, "event: ready").await;
    stream
}

/// Read an event stream to its end; fails if it is still open at the deadline.
async fn read_to_end<B, E>(stream: &mut (impl futures::Stream<Item = Result<B, E>> + Unpin)) {
    let ended = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match stream.next().await {
                Some(Ok(_)) => continue,
                // The server closing the response mid-stream is an end too.
                Some(Err(_)) | None => return,
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the event stream is still open 30 s after its session ended");
}

/// A PostgreSQL login that is no EIO user (no `users` row), dropped when the guard goes.
struct BareRole {
    name: String,
    admin: PgPool,
}

impl BareRole {
    async fn new(admin: &PgPool, password: &str) -> BareRole {
        let name = format!("eio_bare_{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        // Even in an EIO group role: only the `users` mapping makes an EIO user.
        sqlx::raw_sql(&format!("CREATE ROLE {name} LOGIN PASSWORD '{password}' IN ROLE eio_viewer"))
            .execute(admin)
            .await
            .unwrap();
        BareRole { name, admin: admin.clone() }
    }
}

impl Drop for BareRole {
    fn drop(&mut self) {
        let opts = self.admin.connect_options().as_ref().clone();
        let name = self.name.clone();
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            rt.block_on(async move {
                use sqlx::Connection;
                let mut c = sqlx::PgConnection::connect_with(&opts).await.ok()?;
                let _ = sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1")
                    .bind(&name)
                    .execute(&mut c)
                    .await;
                let _ = sqlx::raw_sql(&format!("DROP ROLE IF EXISTS {name}")).execute(&mut c).await;
                Some(())
            })
        })
        .join();
    }
}

/// Failed sign-ins are limited per login (then per client) with 429 + Retry-After, before
/// any password is tried; other logins go on; a flood of successful sign-ins can't hold
/// more than 5 sessions × 2 connections of one login.
#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn a_sign_in_flood_is_limited_and_its_connections_stay_bounded(pool: PgPool) {
    let dir = data_dir();
    let server = Server::on(&pool, dir.path());
    let victim = TestLogin::new(&pool, "eio_viewer", "viewer", &[]).await;
    let other = TestLogin::new(&pool, "eio_viewer", "viewer", &[]).await;

    // Five refused sign-ins of one login (the test server trusts loopback, so no password
    // is ever wrong here: the login is disabled instead), the one refusal each time.
    let set_disabled = |disabled: bool| {
        sqlx::query("UPDATE users SET disabled_at = CASE WHEN $2 THEN now() END WHERE login_role = $1")
            .bind(&victim.login)
            .bind(disabled)
            .execute(&pool)
    };
    set_disabled(true).await.unwrap();
    for _ in 0..5 {
        let (s, v, _) = body(victim.sign_in(&server, &browser()).await).await;
        assert_error(s, &v, 401, "forbidden");
        assert_eq!(v["error"]["message"], REFUSED);
    }
    // The sixth waits, even enabled again with the right password: guessing stops here.
    set_disabled(false).await.unwrap();
    let r = sign_in(&server, &browser(), &victim.login, &victim.password).await;
    let retry: u64 = r.headers().get("retry-after").expect("Retry-After").to_str().unwrap().parse().unwrap();
    assert!((1..=300).contains(&retry), "{retry}");
    let (s, v, _) = body(r).await;
    assert_error(s, &v, 429, "unavailable");
    assert!(v["error"]["message"].as_str().unwrap().contains(&format!("try again in {retry} s")), "{v}");
    assert_eq!(connections_of(&pool, &victim.login).await, 0, "no connection was tried for a waiting login");

    // Another login from the same client is not blocked by those failures.
    let (s, v, _) = body(other.sign_in(&server, &browser()).await).await;
    assert_eq!(s, 200, "{v}");

    // A flood of cookieless sign-ins of one login, one after another and all at once: each
    // a session of 2 connections, but the login keeps at most 5 sessions (the oldest close).
    for _ in 0..8 {
        let (s, v, _) = body(other.sign_in(&server, &browser()).await).await;
        assert_eq!(s, 200, "{v}");
    }
    let burst: Vec<reqwest::Response> =
        futures::future::join_all((0..12).map(|_| async { other.sign_in(&server, &browser()).await })).await;
    let statuses: Vec<u16> = burst.iter().map(|r| r.status().as_u16()).collect();
    assert!(statuses.iter().all(|s| *s == 200 || *s == 429), "{statuses:?}");
    assert!(statuses.contains(&200), "{statuses:?}");
    let n = settles_at_most(&pool, &other.login, 10).await;
    assert!(n <= 10, "one login holds {n} connections after a sign-in flood");
    assert!(n >= 2, "its newest session is open: {n}");

    // Failures on any login count against the client: 20 in all, then it waits too.
    for i in 0..15 {
        let (s, v, _) = body(sign_in(&server, &browser(), &format!("eio_nobody_{i}"), "x").await).await;
        assert_error(s, &v, 401, "forbidden");
    }
    let r = sign_in(&server, &browser(), &other.login, &other.password).await;
    assert!(r.headers().get("retry-after").is_some());
    let (s, v, _) = body(r).await;
    assert_error(s, &v, 429, "unavailable");

    let (status, output) = server.stop();
    assert!(status.success(), "{status:?}");
    assert!(!contains(&output, &victim.password) && !contains(&output, &other.password));
}

/// A PostgreSQL role that is no EIO user can't be signed into — not even with its right
/// password, not `postgres` on a trust-authenticated server — and every refusal is the
/// same sentence, naming no role, no database address, no PostgreSQL text.
#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn only_eio_users_sign_in_and_every_refusal_is_the_same(pool: PgPool) {
    let dir = data_dir();
    let url = url_of(&pool);
    let server = Server::start(dir.path(), &[("EIO_DATABASE_URL", &url)], &["--no-worker"]);
    let bare_password = format!("bare-{}", uuid::Uuid::new_v4().simple());
    let bare = BareRole::new(&pool, &bare_password).await;
    let user = TestLogin::new(&pool, "eio_viewer", "viewer", &[]).await;
    // An EIO user whose role may not log in: the database itself refuses it (class 28).
    let nologin = TestLogin::new(&pool, "eio_viewer", "viewer", &[]).await;
    sqlx::raw_sql(&format!("ALTER ROLE {} NOLOGIN", nologin.login)).execute(&pool).await.unwrap();
    let disabled = TestLogin::new(&pool, "eio_viewer", "viewer", &[]).await;
    sqlx::query("UPDATE users SET disabled_at = now() WHERE login_role = $1")
        .bind(&disabled.login)
        .execute(&pool)
        .await
        .unwrap();
    let port = pool.connect_options().get_port().to_string();

    let attempts = [
        (bare.name.as_str(), bare_password.as_str()),
        ("postgres", "anything"),
        ("eio_no_such_login_5d1", "whatever"),
        (nologin.login.as_str(), nologin.password.as_str()),
        (disabled.login.as_str(), disabled.password.as_str()),
    ];
    let mut first: Option<String> = None;
    for (login, password) in attempts {
        let c = browser();
        let (s, v, text) = body(sign_in(&server, &c, login, password).await).await;
        assert_error(s, &v, 401, "forbidden");
        assert_eq!(v["error"]["message"], REFUSED, "{login}");
        for leak in [login, "postgres://", "127.0.0.1:", &format!(":{port}"), "role", "password authentication"] {
            assert!(!text.contains(leak), "{leak:?} in the refusal of {login}: {text}");
        }
        assert_eq!(first.get_or_insert_with(|| text.clone()), &text, "every refusal is the same body");
        let (s, v, _) = body(c.get(server.url("/api/me")).send().await.unwrap()).await;
        assert_error(s, &v, 401, "forbidden");
    }
    assert_eq!(connections_of(&pool, &bare.name).await, 0, "no connection was opened as a non-user");
    // The user signs in with the right password.
    let (s, v, _) = body(user.sign_in(&server, &browser()).await).await;
    assert_eq!((s, v["login"].as_str()), (200, Some(user.login.as_str())), "{v}");

    let (status, output) = server.stop();
    assert!(status.success(), "{status:?}");
    let log = String::from_utf8_lossy(&output);
    assert!(log.contains("not an enabled EIO user"), "the real reason is logged");
    assert!(log.contains("the database refused the login or password"), "the real reason is logged");
    assert!(!contains(&output, &bare_password) && !contains(&output, &disabled.password));
}

/// A change needs the JSON content type even with no body: a form-encoded or text/plain
/// empty POST (what another site can make a browser send) is 415, never `{}`.
#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn a_form_encoded_empty_post_is_refused(pool: PgPool) {
    let dir = data_dir();
    let server = Server::on(&pool, dir.path());
    let operator = TestLogin::new(&pool, "eio_admin", "admin", &[]).await;
    let b = browser();
    assert_eq!(operator.sign_in(&server, &b).await.status(), 200);

    // A bodiless operation (NoInput, admins and workers): /api/mappings/refresh.
    for content_type in
        [Some("application/x-www-form-urlencoded"), Some("text/plain"), Some("multipart/form-data"), None]
    {
        let mut request = b.post(server.url("/api/mappings/refresh"));
        if let Some(t) = content_type {
            request = request.header("content-type", t);
        }
        let (s, v, _) = body(request.send().await.unwrap()).await;
        assert_error(s, &v, 415, "invalid_input");
        assert!(v["error"]["message"].as_str().unwrap().contains("application/json"), "{v}");
    }
    // The same with the JSON content type: an empty body is `{}`, and the operation runs.
    let (s, v, _) = body(
        b.post(server.url("/api/mappings/refresh")).header("content-type", "application/json").send().await.unwrap(),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    // A sign-in form post is refused the same way.
    let (s, v, _) = body(
        browser()
            .post(server.url("/api/session"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("username={}&password={}", operator.login, operator.password))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_error(s, &v, 415, "invalid_input");
    // Logging out from another site's page is refused; the session stays.
    let (s, v, _) = body(
        b.delete(server.url("/api/session"))
            .header("origin", "http://evil.example")
            .header("sec-fetch-site", "cross-site")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_error(s, &v, 403, "forbidden");
    assert_eq!(b.get(server.url("/api/me")).send().await.unwrap().status(), 200);
}

/// The password is not kept: a session whose connections were ended (here by a DBA, the
/// user still enabled) never reconnects with it — 401 "sign in again", no new backend.
#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn a_lost_connection_is_never_reopened_with_the_password(pool: PgPool) {
    let dir = data_dir();
    let server = Server::on(&pool, dir.path());
    let viewer = TestLogin::new(&pool, "eio_viewer", "viewer", &[]).await;
    let b = browser();
    assert_eq!(viewer.sign_in(&server, &b).await.status(), 200);
    assert_eq!(b.get(server.url("/api/me")).send().await.unwrap().status(), 200);
    let ended: i64 = sqlx::query_scalar(
        "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = $1",
    )
    .bind(&viewer.login)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(ended, 2, "the session held its two connections");
    assert_eq!(settles_at_most(&pool, &viewer.login, 0).await, 0);
    let (s, v, _) = body(b.get(server.url("/api/me")).send().await.unwrap()).await;
    assert_error(s, &v, 401, "forbidden");
    assert!(v["error"]["message"].as_str().unwrap().contains("sign in again"), "{v}");
    assert_eq!(connections_of(&pool, &viewer.login).await, 0, "the session reconnected with a kept password");
    assert_eq!(viewer.sign_in(&server, &b).await.status(), 200, "signing in again works");
}

/// After `disable` + `enable` (through the API, as an admin) the old cookie is dead and its
/// event stream gone; signing in again works.
#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn an_old_cookie_is_dead_after_disable_and_enable(pool: PgPool) {
    let dir = data_dir();
    let server = Server::on(&pool, dir.path());
    let admin = TestLogin::new(&pool, "eio_admin", "admin", &[]).await;
    let viewer = TestLogin::new(&pool, "eio_viewer", "viewer", &[]).await;
    let b = browser();
    assert_eq!(viewer.sign_in(&server, &b).await.status(), 200);
    assert_eq!(b.get(server.url("/api/me")).send().await.unwrap().status(), 200);
    let mut stream = events_ready(&b, &server).await;

    let a = browser();
    assert_eq!(admin.sign_in(&server, &a).await.status(), 200);
    for path in ["/api/users/disable", "/api/users/enable"] {
        let (s, v, _) =
            body(a.post(server.url(path)).json(&json!({"email": viewer.email})).send().await.unwrap()).await;
        assert_eq!(s, 200, "{path}: {v}");
    }
    assert_eq!(connections_of(&pool, &viewer.login).await, 0, "disable ended the login's backends");

    let (s, v, _) = body(b.get(server.url("/api/me")).send().await.unwrap()).await;
    assert_error(s, &v, 401, "forbidden");
    // The server ended the session when the user was disabled: the cookie names nothing now.
    assert_eq!(v["error"]["message"], "Sign in first: this server needs your own database login.", "{v}");
    read_to_end(&mut stream).await;
    assert_eq!(connections_of(&pool, &viewer.login).await, 0, "the old session reconnected");
    let (s, v, _) = body(b.get(server.url("/api/session")).send().await.unwrap()).await;
    assert_eq!((s, v["mode"].as_str()), (200, Some("none")), "{v}");

    // A new sign-in, with the password, works again.
    assert_eq!(viewer.sign_in(&server, &b).await.status(), 200);
    let (s, me, _) = body(b.get(server.url("/api/me")).send().await.unwrap()).await;
    assert_eq!((s, me["login"].as_str()), (200, Some(viewer.login.as_str())), "{me}");
}

/// Disabling a user ends their sessions here at once — the event stream included — without
/// waiting for the session's next call (the server LISTENs for it and reads it back).
#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn disabling_a_user_ends_their_event_stream_at_once(pool: PgPool) {
    let dir = data_dir();
    let server = Server::on(&pool, dir.path());
    let admin = TestLogin::new(&pool, "eio_admin", "admin", &[]).await;
    let viewer = TestLogin::new(&pool, "eio_viewer", "viewer", &[]).await;
    let other = TestLogin::new(&pool, "eio_viewer", "viewer", &[]).await;
    let (b, o) = (browser(), browser());
    assert_eq!(viewer.sign_in(&server, &b).await.status(), 200);
    assert_eq!(other.sign_in(&server, &o).await.status(), 200);
    let mut stream = events_ready(&b, &server).await;

    // A forged notification (any login may NOTIFY) ends nobody's session.
    sqlx::query("SELECT pg_notify('eio_user_disabled', '')").execute(&pool).await.unwrap();
    let a = browser();
    assert_eq!(admin.sign_in(&server, &a).await.status(), 200);
    let (s, v, _) =
        body(a.post(server.url("/api/users/disable")).json(&json!({"email": viewer.email})).send().await.unwrap())
            .await;
    assert_eq!(s, 200, "{v}");
    // No call from the disabled session: its stream ends because the server was told.
    read_to_end(&mut stream).await;
    // The log is read on other threads and can trail the stream's end (and at trace level
    // it is long): wait for the line, then count it.
    let out = server.output_with("the login was disabled: its session ends at once");
    assert_eq!(out.matches("the login was disabled: its session ends at once").count(), 1, "{out}");
    assert!(out.contains(&viewer.login), "the log names whose session ended");
    // The others are untouched.
    assert_eq!(o.get(server.url("/api/me")).send().await.unwrap().status(), 200);
    assert_eq!(a.get(server.url("/api/me")).send().await.unwrap().status(), 200);
}

/// Logout ends the session's event stream at once, and its connections.
#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn the_event_stream_ends_at_logout(pool: PgPool) {
    let dir = data_dir();
    let server = Server::on(&pool, dir.path());
    let viewer = TestLogin::new(&pool, "eio_viewer", "viewer", &[]).await;
    let b = browser();
    assert_eq!(viewer.sign_in(&server, &b).await.status(), 200);
    let mut stream = events_ready(&b, &server).await;

    let (s, v, _) = body(b.delete(server.url("/api/session")).send().await.unwrap()).await;
    assert_eq!((s, v["mode"].as_str()), (200, Some("none")), "{v}");
    read_to_end(&mut stream).await;
    assert_eq!(settles_at_most(&pool, &viewer.login, 0).await, 0, "logout closed the session's connections");
    let (s, v, _) = body(b.get(server.url("/api/events")).send().await.unwrap()).await;
    assert_error(s, &v, 401, "forbidden");
}

/// One session holds exactly its 2 connections, however many calls it makes at once.
#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn a_session_holds_at_most_two_connections(pool: PgPool) {
    let dir = data_dir();
    let server = Server::on(&pool, dir.path());
    let viewer = TestLogin::new(&pool, "eio_viewer", "viewer", &[]).await;
    let b = browser();
    assert_eq!(viewer.sign_in(&server, &b).await.status(), 200);
    let calls = futures::future::join_all((0..40).map(|i| {
        let b = b.clone();
        let url = server.url(if i % 2 == 0 { "/api/me" } else { "/api/pages/dashboard" });
        async move { b.get(url).send().await.unwrap().status().as_u16() }
    }))
    .await;
    assert_eq!(calls.iter().filter(|s| **s == 200).count(), 40, "{calls:?}");
    assert_eq!(connections_of(&pool, &viewer.login).await, 2);
}

/// A sign-in that says it was forwarded for `forwarded_for`.
async fn sign_in_via(server: &Server, forwarded_for: &str, login: &str, password: &str) -> reqwest::Response {
    browser()
        .post(server.url("/api/session"))
        .header("x-forwarded-for", forwarded_for)
        .json(&json!({"username": login, "password": password}))
        .send()
        .await
        .unwrap()
}

/// Behind a trusted reverse proxy each user is the client its `X-Forwarded-For` names, so a
/// flood from one user doesn't lock the others out; from any other peer the header is
/// ignored, so a flooding client can't make itself look like many.
#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn behind_a_trusted_proxy_the_client_is_the_forwarded_address(pool: PgPool) {
    let dir = data_dir();
    let url = url_of(&pool);
    let user = TestLogin::new(&pool, "eio_viewer", "viewer", &[]).await;

    let proxied =
        Server::start(dir.path(), &[("EIO_DATABASE_URL", &url)], &["--no-worker", "--trusted-proxy", "127.0.0.1"]);
    for i in 0..20 {
        let (s, v, _) = body(sign_in_via(&proxied, "203.0.113.7", &format!("eio_nobody_{i}"), "x").await).await;
        assert_error(s, &v, 401, "forbidden");
    }
    let r = sign_in_via(&proxied, "203.0.113.7", &user.login, &user.password).await;
    assert!(r.headers().get("retry-after").is_some());
    let (s, v, _) = body(r).await;
    assert_error(s, &v, 429, "unavailable");
    // Another user behind the same proxy goes on; a hop written before the client's own
    // (anyone can send one) is not who it is.
    let (s, v, _) = body(sign_in_via(&proxied, "203.0.113.7, 203.0.113.8", &user.login, &user.password).await).await;
    assert_eq!((s, v["login"].as_str()), (200, Some(user.login.as_str())), "{v}");
    let (s, v, _) = body(sign_in_via(&proxied, "203.0.113.8, 203.0.113.7", &user.login, &user.password).await).await;
    assert_error(s, &v, 429, "unavailable");
    drop(proxied);

    // Without --trusted-proxy the header means nothing: varying it doesn't buy a new budget.
    let direct = Server::start(dir.path(), &[("EIO_DATABASE_URL", &url)], &["--no-worker"]);
    for i in 0..20 {
        let (s, v, _) =
            body(sign_in_via(&direct, &format!("203.0.113.{i}"), &format!("eio_nobody_{i}"), "x").await).await;
        assert_error(s, &v, 401, "forbidden");
    }
    let (s, v, _) = body(sign_in_via(&direct, "198.51.100.99", &user.login, &user.password).await).await;
    assert_error(s, &v, 429, "unavailable");
}

/// Sign-ins of one login can't race its limit: while one runs, another for the same login
/// waits (429), so a burst from many clients at once gets at most 5 tries of it.
#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn concurrent_sign_ins_of_one_login_get_at_most_its_five_tries(pool: PgPool) {
    let dir = data_dir();
    // Every request its own client (through a trusted proxy: the env form, a list), so only
    // the per-login rules stand between the burst and the database.
    let server = Server::start(
        dir.path(),
        &[("EIO_DATABASE_URL", &url_of(&pool)), ("EIO_TRUSTED_PROXIES", "10.9.9.9, 127.0.0.1")],
        &["--no-worker"],
    );
    // The database refuses this EIO user (NOLOGIN): every try that runs is a 401.
    let nologin = TestLogin::new(&pool, "eio_viewer", "viewer", &[]).await;
    sqlx::raw_sql(&format!("ALTER ROLE {} NOLOGIN", nologin.login)).execute(&pool).await.unwrap();
    let statuses: Vec<u16> = futures::future::join_all((0..40).map(|i| {
        let (server, nologin) = (&server, &nologin);
        async move {
            sign_in_via(server, &format!("198.51.100.{i}"), &nologin.login, &nologin.password).await.status().as_u16()
        }
    }))
    .await;
    let refused = statuses.iter().filter(|s| **s == 401).count();
    let waiting = statuses.iter().filter(|s| **s == 429).count();
    assert!((1..=5).contains(&refused), "{statuses:?}");
    assert_eq!(refused + waiting, statuses.len(), "{statuses:?}");
}

/// An event stream can't be opened on a session whose connections were lost: 401 "sign in
/// again", and the session is over.
#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn a_lost_session_opens_no_event_stream(pool: PgPool) {
    let dir = data_dir();
    let server = Server::on(&pool, dir.path());
    let viewer = TestLogin::new(&pool, "eio_viewer", "viewer", &[]).await;
    let b = browser();
    assert_eq!(viewer.sign_in(&server, &b).await.status(), 200);
    let ended: i64 = sqlx::query_scalar(
        "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = $1",
    )
    .bind(&viewer.login)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(ended, 2, "the session held its two connections");
    assert_eq!(settles_at_most(&pool, &viewer.login, 0).await, 0);
    let (s, v, _) = body(b.get(server.url("/api/events")).send().await.unwrap()).await;
    assert_error(s, &v, 401, "forbidden");
    assert!(v["error"]["message"].as_str().unwrap().contains("sign in again"), "{v}");
    let (s, v, _) = body(b.get(server.url("/api/session")).send().await.unwrap()).await;
    assert_eq!((s, v["mode"].as_str()), (200, Some("none")), "the session ended: {v}");
    assert_eq!(connections_of(&pool, &viewer.login).await, 0, "the session reconnected with a kept password");
}

/// A malformed sign-in is refused without quoting what was sent (it may be the password).
#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn a_malformed_sign_in_never_echoes_the_password(pool: PgPool) {
    let dir = data_dir();
    let server = Server::on(&pool, dir.path());
    let (s, v, text) = body(
        browser()
            .post(server.url("/api/session"))
            .json(&json!({"username": "someone", "password": 8675309123_u64}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_error(s, &v, 422, "invalid_input");
    assert!(!text.contains("8675309123"), "{text}");
}
