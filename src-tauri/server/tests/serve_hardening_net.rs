//! `eio serve`'s listener against a hostile network, over real sockets to a real process:
//! a header trickled byte by byte is cut off at the header timeout; over
//! `--max-connections` a new connection is closed unanswered, and served again once some
//! close; a request for a foreign `Host` (DNS rebinding) is refused with 421 unless the
//! name was allowed; and `--tls-cert/--tls-key` serve HTTPS with `Secure` session cookies,
//! refuse plain HTTP on the TLS port, and reject bad key files without quoting them.
mod serve_support;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::Value;
use serve_support::{browser, contains, data_dir, url_of, Server, TestLogin};
use sqlx::PgPool;

/// `host:port` of a server's base URL.
fn addr_of(server: &Server) -> String {
    server.base.split_once("://").map(|(_, a)| a.to_owned()).unwrap()
}

/// What a raw connection received before the server closed it: `Some(bytes)` once it is
/// closed (EOF or reset), `None` if it is still open after `within`.
fn until_closed(stream: &mut TcpStream, within: Duration) -> Option<Vec<u8>> {
    let deadline = Instant::now() + within;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        stream.set_read_timeout(Some(left.max(Duration::from_millis(1)))).unwrap();
        match stream.read(&mut buf) {
            Ok(0) => return Some(got),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted) => {
                return Some(got)
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => panic!("reading the connection failed: {e}"),
        }
    }
}

/// One raw HTTP/1.1 GET with `host`, read to the end of the response (Connection: close).
fn raw_get(addr: &str, path: &str, host: Option<&str>) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).unwrap();
    let host = host.map(|h| format!("Host: {h}\r\n")).unwrap_or_default();
    s.write_all(format!("GET {path} HTTP/1.1\r\n{host}Connection: close\r\n\r\n").as_bytes()).unwrap();
    until_closed(&mut s, Duration::from_secs(30)).expect("the server answered and closed")
}

fn status_line(response: &[u8]) -> String {
    String::from_utf8_lossy(response).lines().next().unwrap_or_default().to_owned()
}

/// Poll `attempt` until it returns true (at most 30 s).
fn eventually(what: &str, mut attempt: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !attempt() {
        assert!(Instant::now() < deadline, "not within 30 s: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Read an event stream until `needle` arrives (the stream is the clock).
async fn until<B: AsRef<[u8]>, E: std::fmt::Debug>(
    stream: &mut (impl futures::Stream<Item = Result<B, E>> + Unpin),
    text: &mut String,
    needle: &str,
) {
    let found = tokio::time::timeout(Duration::from_secs(30), async {
        while !text.contains(needle) {
            match stream.next().await {
                Some(Ok(chunk)) => text.push_str(&String::from_utf8_lossy(chunk.as_ref())),
                Some(Err(e)) => panic!("the stream failed before {needle}: {e:?}"),
                None => panic!("the stream ended before {needle}"),
            }
        }
    })
    .await;
    assert!(found.is_ok(), "no {needle} in {text}");
}

async fn json(r: reqwest::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    (status, serde_json::from_str(&r.text().await.unwrap()).unwrap_or(Value::Null))
}

/// The attacker's report: a socket sending one byte every 10 s stayed open 45 s and was
/// then served. Now the request's head must arrive within the header timeout, however
/// steadily its bytes trickle in.
#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn a_header_trickled_byte_by_byte_is_cut_off(pool: PgPool) {
    let dir = data_dir();
    let url = url_of(&pool);
    let server =
        Server::start(dir.path(), &[("EIO_DATABASE_URL", &url), ("EIO_HEADER_TIMEOUT_SECONDS", "2")], &["--no-worker"]);
    let addr = addr_of(&server);
    let request = format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nX-Slow: {}\r\n\r\n", "a".repeat(200));

    let (sent, answer) = tokio::task::spawn_blocking(move || {
        let mut s = TcpStream::connect(&addr).unwrap();
        let started = Instant::now();
        // One byte, then up to 250 ms listening for the close: the reads pace the trickle.
        for (i, byte) in request.bytes().enumerate() {
            if s.write_all(&[byte]).is_err() {
                return (i, until_closed(&mut s, Duration::from_secs(5)));
            }
            if let Some(got) = until_closed(&mut s, Duration::from_millis(250)) {
                return (i + 1, Some(got));
            }
            assert!(started.elapsed() < Duration::from_secs(40), "still open after 40 s of trickling");
        }
        (request.len(), None)
    })
    .await
    .unwrap();
    let got = answer.expect("the server closed the trickling connection before the request was complete");
    assert!(sent < 230, "closed only after {sent} bytes: the whole head arrived");
    assert!(!contains(&got, "200 OK"), "served: {}", String::from_utf8_lossy(&got));

    // An ordinary request is served as before.
    let addr = addr_of(&server);
    let ok = tokio::task::spawn_blocking(move || raw_get(&addr, "/healthz", Some("127.0.0.1"))).await.unwrap();
    assert_eq!(status_line(&ok), "HTTP/1.1 200 OK");
    let (status, _) = server.stop();
    assert!(status.success(), "{status:?}");
}

/// A request whose head arrived but whose body never does is cut off too (the body is due
/// within the header timeout, whole): it can't hold one of the connection slots forever.
#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn a_stalled_body_is_cut_off(pool: PgPool) {
    let dir = data_dir();
    let url = url_of(&pool);
    let server =
        Server::start(dir.path(), &[("EIO_DATABASE_URL", &url), ("EIO_HEADER_TIMEOUT_SECONDS", "2")], &["--no-worker"]);
    let addr = addr_of(&server);
    let got = tokio::task::spawn_blocking(move || {
        let mut s = TcpStream::connect(&addr).unwrap();
        let head = format!(
            "POST /api/session HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"username\""
        );
        s.write_all(head.as_bytes()).unwrap();
        // Then nothing: the server must give up on its own.
        until_closed(&mut s, Duration::from_secs(60))
    })
    .await
    .unwrap()
    .expect("the connection with a stalled body was still open after 60 s");
    assert!(!contains(&got, "200 OK"), "served: {}", String::from_utf8_lossy(&got));
    let addr = addr_of(&server);
    let ok = tokio::task::spawn_blocking(move || raw_get(&addr, "/healthz", Some("127.0.0.1"))).await.unwrap();
    assert_eq!(status_line(&ok), "HTTP/1.1 200 OK");
}

/// Over `--max-connections` a new connection is closed at once, unanswered; the open ones
/// are still served, and once they close new ones are served again.
#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn over_the_connection_cap_new_connections_are_closed_unanswered(pool: PgPool) {
    let dir = data_dir();
    let url = url_of(&pool);
    let server = Server::start(
        dir.path(),
        &[("EIO_DATABASE_URL", &url), ("EIO_HEADER_TIMEOUT_SECONDS", "120")],
        &["--no-worker", "--max-connections", "3"],
    );
    let addr = addr_of(&server);
    tokio::task::spawn_blocking(move || {
        // Three idle connections: the server accepts them in order, so they hold the slots.
        let mut held: Vec<TcpStream> = (0..3).map(|_| TcpStream::connect(&addr).unwrap()).collect();

        let mut fourth = TcpStream::connect(&addr).unwrap();
        let _ = fourth.write_all(format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes());
        let got = until_closed(&mut fourth, Duration::from_secs(30)).expect("the fourth connection was closed");
        assert!(got.is_empty(), "the fourth connection got an answer: {}", String::from_utf8_lossy(&got));

        // A held connection is still served.
        held[0]
            .write_all(format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes())
            .unwrap();
        let answer = until_closed(&mut held[0], Duration::from_secs(30)).expect("the held connection was answered");
        assert_eq!(status_line(&answer), "HTTP/1.1 200 OK");

        drop(held);
        eventually("a new connection is served once the held ones closed", || {
            let mut s = TcpStream::connect(&addr).unwrap();
            if s.write_all(format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes())
                .is_err()
            {
                return false;
            }
            until_closed(&mut s, Duration::from_secs(30)).is_some_and(|r| status_line(&r) == "HTTP/1.1 200 OK")
        });
    })
    .await
    .unwrap();
    let (status, out) = server.stop();
    assert!(status.success(), "{status:?}");
    assert!(contains(&out, "--max-connections"), "the operator is told the cap was reached");
}

/// DNS rebinding: a page on `evil.example` whose name resolves to 127.0.0.1 reaches the
/// server with `Host: evil.example`. Only loopback names, the bound address and names
/// given with `--allowed-host` / `EIO_ALLOWED_HOSTS` are answered.
#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn a_foreign_host_is_misdirected(pool: PgPool) {
    let dir = data_dir();
    let url = url_of(&pool);
    let server = Server::start(dir.path(), &[("EIO_DATABASE_URL", &url)], &["--no-worker"]);
    let port = addr_of(&server).rsplit_once(':').unwrap().1.to_owned();
    let c = browser();
    for (path, host) in [("/healthz", "evil.example"), ("/api/session", "evil.example:80"), ("/readyz", "127.0.0.2")] {
        let (s, v) = json(c.get(server.url(path)).header("host", host).send().await.unwrap()).await;
        assert_eq!(s, 421, "{path} for {host}: {v}");
        assert_eq!(v["error"]["code"], "forbidden", "{v}");
        assert!(v["error"]["message"].as_str().unwrap().contains("--allowed-host"), "{v}");
    }
    for host in [format!("localhost:{port}"), format!("LocalHost:{port}"), format!("127.0.0.1:{port}"), "[::1]".into()]
    {
        let r = c.get(server.url("/healthz")).header("host", &host).send().await.unwrap();
        assert_eq!(r.status(), 200, "{host}");
    }
    // HTTP/1.0 without a Host header names nothing: refused too.
    let addr = addr_of(&server);
    let raw = tokio::task::spawn_blocking(move || {
        let mut s = TcpStream::connect(&addr).unwrap();
        s.write_all(b"GET /healthz HTTP/1.0\r\n\r\n").unwrap();
        until_closed(&mut s, Duration::from_secs(30)).unwrap()
    })
    .await
    .unwrap();
    assert!(status_line(&raw).contains(" 421 "), "{}", String::from_utf8_lossy(&raw));
    drop(server);

    let allowed = Server::start(
        dir.path(),
        &[("EIO_DATABASE_URL", &url)],
        &["--no-worker", "--allowed-host", "eio.example.com", "--allowed-host", "Ops.Example.Org"],
    );
    let port = addr_of(&allowed).rsplit_once(':').unwrap().1.to_owned();
    for host in [format!("eio.example.com:{port}"), "ops.example.org".into(), format!("localhost:{port}")] {
        let r = c.get(allowed.url("/healthz")).header("host", &host).send().await.unwrap();
        assert_eq!(r.status(), 200, "{host}");
    }
    let r = c.get(allowed.url("/healthz")).header("host", "evil.example").send().await.unwrap();
    assert_eq!(r.status(), 421);
    drop(allowed);

    let from_env = Server::start(
        dir.path(),
        &[("EIO_DATABASE_URL", &url), ("EIO_ALLOWED_HOSTS", "one.example, two.example")],
        &["--no-worker"],
    );
    for (host, want) in [("two.example", 200), ("one.example", 200), ("three.example", 421)] {
        let r = c.get(from_env.url("/healthz")).header("host", host).send().await.unwrap();
        assert_eq!(r.status(), want, "{host}");
    }
}

/// A self-signed certificate (for `localhost` and 127.0.0.1) and its key, as PEM files.
fn self_signed(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf, String) {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let (cert_pem, key_pem) = (cert.cert.pem(), cert.signing_key.serialize_pem());
    let (cert_file, key_file) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_file, &cert_pem).unwrap();
    std::fs::write(&key_file, key_pem).unwrap();
    (cert_file, key_file, cert_pem)
}

/// `--tls-cert/--tls-key`: HTTPS that a client trusting the certificate uses, session
/// cookies marked `Secure` (with `HttpOnly` and `SameSite=Strict`), and plain HTTP on the
/// TLS port not served.
#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn tls_serves_https_with_secure_cookies(pool: PgPool) {
    let dir = data_dir();
    let url = url_of(&pool);
    let (cert, key, cert_pem) = self_signed(dir.path());
    let server = Server::start(
        dir.path(),
        &[("EIO_DATABASE_URL", &url)],
        &["--no-worker", "--tls-cert", cert.to_str().unwrap(), "--tls-key", key.to_str().unwrap()],
    );
    assert!(server.base.starts_with("https://127.0.0.1:"), "{}", server.base);
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert_pem.as_bytes()).unwrap())
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let r = client.get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "ok\n");

    let viewer = TestLogin::new(&pool, "eio_viewer", "viewer", &[]).await;
    let r = viewer.sign_in(&server, &client).await;
    assert_eq!(r.status(), 200);
    let cookie = r.headers().get("set-cookie").expect("a session cookie").to_str().unwrap().to_owned();
    let attributes: Vec<&str> = cookie.split(';').map(str::trim).collect();
    for want in ["Secure", "HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(attributes.contains(&want), "{want} in {cookie}");
    }
    let session = attributes[0].to_owned();
    let (s, v) = json(client.get(server.url("/api/session")).header("cookie", &session).send().await.unwrap()).await;
    assert_eq!((s, v["mode"].as_str()), (200, Some("session")), "{v}");
    let r = client.delete(server.url("/api/session")).header("cookie", &session).send().await.unwrap();
    let cleared = r.headers().get("set-cookie").unwrap().to_str().unwrap().to_owned();
    assert!(cleared.contains("Max-Age=0") && cleared.split(';').any(|a| a.trim() == "Secure"), "{cleared}");

    // Plain HTTP to the TLS port is not served.
    let addr = addr_of(&server);
    let plain = tokio::task::spawn_blocking(move || raw_get(&addr, "/healthz", Some("127.0.0.1"))).await.unwrap();
    assert!(!contains(&plain, "HTTP/1."), "plain HTTP got an HTTP answer: {}", String::from_utf8_lossy(&plain));
    let (status, out) = server.stop();
    assert!(status.success(), "{status:?}");
    let key_text = std::fs::read_to_string(&key).unwrap();
    let key_body = key_text.lines().nth(1).unwrap();
    assert!(!contains(&out, key_body), "the private key appears in the output");
}

/// Bad TLS files stop `eio serve` before it starts, naming the file and never quoting it.
#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn bad_tls_files_are_named_not_quoted(pool: PgPool) {
    let dir = data_dir();
    let url = url_of(&pool);
    let (cert, _, _) = self_signed(dir.path());
    let planted = format!("PLANTED-key-{}", uuid::Uuid::new_v4().simple());
    let bad_key = dir.path().join("bad-key.pem");
    std::fs::write(&bad_key, format!("-----BEGIN PRIVATE KEY-----\n{planted}!!\n-----END PRIVATE KEY-----\n")).unwrap();
    let missing = dir.path().join("missing.pem");
    let eio = |args: &[&std::path::Path]| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_eio"));
        cmd.env("EIO_DATA_DIR", dir.path())
            .env("EIO_CONFIG", dir.path().join("no-config.toml"))
            .env("EIO_DATABASE_URL", &url)
            .env_remove("EIO_TLS_CERT")
            .env_remove("EIO_TLS_KEY")
            .args(["serve", "--bind", "127.0.0.1:0", "--no-worker"]);
        for (flag, path) in ["--tls-cert", "--tls-key"].iter().zip(args) {
            cmd.arg(flag).arg(path);
        }
        cmd.output().unwrap()
    };

    let out = eio(&[&cert, &bad_key]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("--tls-key") && stderr.contains("bad-key.pem"), "{stderr}");
    assert!(!stderr.contains(&planted) && !String::from_utf8_lossy(&out.stdout).contains(&planted), "{stderr}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("EIO serves"), "it must not start");

    let out = eio(&[&missing, &bad_key]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("--tls-cert") && stderr.contains("missing.pem"), "{stderr}");

    // Both or neither (clap's usage error: exit status 2).
    let out = eio(&[&cert]);
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--tls-key"));
}

/// The header timeout cuts idle connections, never a live event stream: a stream opened
/// before an idle connection was cut still delivers events after.
#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn event_streams_outlive_the_header_timeout(pool: PgPool) {
    let dir = data_dir();
    let url = url_of(&pool);
    let server =
        Server::start(dir.path(), &[("EIO_DATABASE_URL", &url), ("EIO_HEADER_TIMEOUT_SECONDS", "1")], &["--no-worker"]);
    let viewer = TestLogin::new(&pool, "eio_viewer", "viewer", &[]).await;
    let b = browser();
    assert_eq!(viewer.sign_in(&server, &b).await.status(), 200);
    let r = b.get(server.url("/api/events")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let mut stream = r.bytes_stream();
    let mut text = String::new();
    until(&mut stream, &mut text, "event: ready").await;

    // An idle connection opened now is cut at the header timeout: by then the stream has
    // been open longer than that.
    let addr = addr_of(&server);
    let cut = tokio::task::spawn_blocking(move || {
        let mut idle = TcpStream::connect(&addr).unwrap();
        until_closed(&mut idle, Duration::from_secs(30))
    })
    .await
    .unwrap();
    assert_eq!(cut, Some(Vec::new()), "the idle connection is closed, unanswered");

    let job = uuid::Uuid::new_v4();
    sqlx::query("SELECT pg_notify('eio_jobs', $1)")
        .bind(serde_json::json!({"id": job, "type": "sync", "status": "running"}).to_string())
        .execute(&pool)
        .await
        .unwrap();
    until(&mut stream, &mut text, &job.to_string()).await;
}
