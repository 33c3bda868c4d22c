//! The instance through an outage and a rolling upgrade: `/readyz` turns unready while its
//! database is unreachable and ready again when it returns (no restart); an instance whose
//! schema a newer release migrated keeps serving its API, is not ready, and names the
//! release to install.
mod serve_support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use serve_support::{browser, data_dir, url_of, Server, TestLogin};
use sqlx::PgPool;

/// A TCP relay to the test's PostgreSQL that can be cut: while down it ends every relayed
/// connection and closes each new one at once, as a stopped database does.
struct Relay {
    port: u16,
    up: Arc<AtomicBool>,
    cut: tokio::sync::watch::Sender<u64>,
}

impl Relay {
    /// On a runtime of its own: the test's runtime blocks while `Server::start` waits.
    fn start(to: std::net::SocketAddr) -> Relay {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(AtomicBool::new(true));
        let (cut, cuts) = tokio::sync::watch::channel(0u64);
        let accepting = up.clone();
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        std::thread::spawn(move || {
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                while let Ok((mut client, _)) = listener.accept().await {
                    if !accepting.load(Ordering::SeqCst) {
                        drop(client);
                        continue;
                    }
                    let mut cuts = cuts.clone();
                    cuts.borrow_and_update();
                    tokio::spawn(async move {
                        let Ok(mut server) = tokio::net::TcpStream::connect(to).await else { return };
                        tokio::select! {
                            _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                            _ = cuts.changed() => {}
                        }
                    });
                }
            })
        });
        Relay { port, up, cut }
    }

    fn down(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.cut.send_modify(|n| *n += 1);
    }

    fn up(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

async fn readyz(c: &reqwest::Client, server: &Server) -> (u16, Value) {
    let r = c.get(server.url("/readyz")).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

/// Poll `/readyz` (a monitoring system's view) until it answers `want`, for at most a minute.
async fn until_readyz(c: &reqwest::Client, server: &Server, want: u16) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let (status, body) = readyz(c, server).await;
        if status == want {
            return body;
        }
        assert!(tokio::time::Instant::now() < deadline, "/readyz stayed {status} (wanted {want}): {body}");
        tokio::time::sleep(Duration::from_millis(200)).await; // a poll interval, not a synchronisation
    }
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn readyz_follows_the_database_down_and_back(pool: PgPool) {
    let url = url::Url::parse(&url_of(&pool)).unwrap();
    let target = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap_or(5432));
    let relay = Relay::start(tokio::net::lookup_host(&target).await.unwrap().next().unwrap());
    let mut through = url.clone();
    through.set_host(Some("127.0.0.1")).unwrap();
    through.set_port(Some(relay.port)).unwrap();
    let dir = data_dir();
    let server = Server::start(dir.path(), &[("EIO_DATABASE_URL", through.as_str())], &["--no-worker"]);
    let c = browser();
    assert_eq!(readyz(&c, &server).await, (200, json!({"ready": true, "failed": []})));

    relay.down();
    let down = until_readyz(&c, &server, 503).await;
    assert_eq!(down["ready"], false, "{down}");
    let failed: Vec<&str> = down["failed"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(
        failed == ["database: unreachable"] || failed == ["database: no answer within 3 s"],
        "the failure says the database, and nothing internal: {down}"
    );
    // Still alive: a liveness probe must not restart it for its database's outage.
    assert_eq!(c.get(server.url("/healthz")).send().await.unwrap().status(), 200);

    relay.up();
    assert_eq!(until_readyz(&c, &server, 200).await, json!({"ready": true, "failed": []}));
}

#[sqlx::test(migrator = "eio_core::db::MIGRATOR")]
async fn an_instance_behind_the_schema_serves_but_is_not_ready_and_names_the_release(pool: PgPool) {
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
         VALUES (99999, 'from a newer release', true, '\\x00', 0)",
    )
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query("INSERT INTO schema_releases (version, release) VALUES (99999, '7.1.0')").execute(&pool).await.unwrap();
    let dir = data_dir();
    let server = Server::on(&pool, dir.path());
    let c = browser();
    let (status, ready) = readyz(&c, &server).await;
    assert_eq!(status, 503);
    assert_eq!(
        ready["failed"],
        json!([format!(
            "schema: the database was migrated by EIO 7.1.0 (migration 99999 is unknown to EIO {}): install EIO 7.1.0 \
             or later; this instance takes no jobs",
            env!("CARGO_PKG_VERSION")
        )])
    );
    // The API still works for its users meanwhile (migrations are additive).
    let viewer = TestLogin::new(&pool, "eio_viewer", "viewer", &[]).await;
    let b = browser();
    assert_eq!(viewer.sign_in(&server, &b).await.status(), 200);
    let me = b.get(server.url("/api/me")).send().await.unwrap();
    assert_eq!(me.status(), 200);
    let out = server.output_with("install EIO 7.1.0 or later; this instance serves its API but takes no jobs");
    assert!(out.contains("install EIO 7.1.0 or later; this instance serves its API but takes no jobs"), "{out}");
}
