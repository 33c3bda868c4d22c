//! Running `eio serve` as a process for the tests: a free loopback port, a clean
//! environment, stderr (trace log) captured for the secret sweeps, SIGTERM at the end;
//! and real PostgreSQL logins in an EIO group role, mapped to users, for signing in.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use sqlx::PgPool;
use uuid::Uuid;

/// What the server printed so far, and a signal each time more arrives (it is read on
/// other threads, so a line the server has written may not be here yet).
#[derive(Default)]
struct Output {
    bytes: Mutex<Vec<u8>>,
    grew: Condvar,
}

impl Output {
    fn push(&self, more: &[u8]) {
        self.bytes.lock().unwrap().extend_from_slice(more);
        self.grew.notify_all();
    }
}

/// A running `eio serve`.
pub struct Server {
    child: Option<Child>,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    output: Arc<Output>,
    /// The start-token line on the embedded default, as it arrives.
    token: Mutex<std::sync::mpsc::Receiver<String>>,
}

impl Server {
    /// `eio serve --bind 127.0.0.1:0 ARGS` with `env`; returns once it listens.
    pub fn start(data_dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Server {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_eio"));
        for (k, _) in std::env::vars() {
            if k.starts_with("EIO_") {
                cmd.env_remove(k);
            }
        }
        cmd.env("EIO_DATA_DIR", data_dir)
            .env("EIO_CONFIG", data_dir.join("no-config.toml"))
            .env("EIO_LOG", "trace")
            .env_remove("DBUS_SESSION_BUS_ADDRESS")
            .args(["serve", "--bind", "127.0.0.1:0"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start eio serve");
        let output = Arc::new(Output::default());
        let stderr = child.stderr.take().unwrap();
        let sink = output.clone();
        std::thread::spawn(move || {
            let mut stderr = stderr;
            let mut buf = [0u8; 8192];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.push(&buf[..n]);
            }
        });
        let (tx, rx) = std::sync::mpsc::channel();
        let (token_tx, token_rx) = std::sync::mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        let sink = output.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                sink.push(format!("{line}\n").as_bytes());
                if let Some(url) = line.strip_prefix("EIO serves ") {
                    let _ = tx.send(url.trim().to_owned());
                }
                if let Some((_, rest)) = line.split_once("?token=") {
                    let _ = token_tx.send(rest.split_whitespace().next().unwrap_or_default().to_owned());
                }
            }
        });
        let base = match rx.recv_timeout(Duration::from_secs(120)) {
            Ok(b) => b,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("eio serve did not start:\n{}", String::from_utf8_lossy(&output.bytes.lock().unwrap()));
            }
        };
        Server { child: Some(child), base, output, token: Mutex::new(token_rx) }
    }

    /// `eio serve --no-worker` on the test's database (`dir`: its data directory).
    pub fn on(pool: &PgPool, dir: &Path) -> Server {
        Server::start(dir, &[("EIO_DATABASE_URL", &url_of(pool))], &["--no-worker"])
    }

    /// The start token an embedded-default server printed (it prints it right after its address).
    pub fn token(&self) -> String {
        self.token.lock().unwrap().recv_timeout(Duration::from_secs(30)).expect("eio serve printed no start token")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Everything it printed so far (stdout and its trace log on stderr).
    pub fn output(&self) -> Vec<u8> {
        self.output.bytes.lock().unwrap().clone()
    }

    /// Its output once it contains `needle`: waits for the reader threads to bring it in
    /// (bounded: after 30 s it returns what it has, for the caller's assertion to show).
    pub fn output_with(&self, needle: &str) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let mut bytes = self.output.bytes.lock().unwrap();
        // Search only what arrived since the last look (a trace log runs to megabytes),
        // from far enough back to catch a needle split across two reads.
        let mut from = 0;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if contains(&bytes[from..], needle) || left.is_zero() {
                return String::from_utf8_lossy(&bytes).into_owned();
            }
            from = bytes.len().saturating_sub(needle.len());
            bytes = self.output.grew.wait_timeout(bytes, left).unwrap().0;
        }
    }

    /// SIGTERM, then wait (bounded) for it to exit; returns its exit status and output.
    pub fn stop(mut self) -> (std::process::ExitStatus, Vec<u8>) {
        let status = terminate(self.child.take().unwrap());
        (status, self.output())
    }
}

/// SIGTERM; wait for the exit (SIGKILL after 30 s, which fails the graceful-stop checks).
fn terminate(mut child: Child) -> std::process::ExitStatus {
    let pid = child.id().to_string();
    let _ = Command::new("kill").args(["-TERM", &pid]).status();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait());
    });
    match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(status) => status.unwrap(),
        Err(_) => {
            let _ = Command::new("kill").args(["-KILL", &pid]).status();
            rx.recv().unwrap().unwrap()
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(child) = self.child.take() {
            terminate(child);
        }
    }
}

/// A client that keeps cookies, like a browser.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder().cookie_store(true).timeout(Duration::from_secs(60)).build().unwrap()
}

/// A real PostgreSQL login in `group`, mapped to a user with `app_role` and `caps`;
/// dropped (with its user) when the guard goes.
pub struct TestLogin {
    pub login: String,
    pub password: String,
    pub email: String,
    admin: PgPool,
}

impl TestLogin {
    pub async fn new(admin: &PgPool, group: &str, app_role: &str, caps: &[&str]) -> TestLogin {
        let login = format!("eio_st_{}", &Uuid::new_v4().simple().to_string()[..12]);
        let password = format!("pw-{}", Uuid::new_v4().simple());
        sqlx::raw_sql(&format!("CREATE ROLE {login} LOGIN PASSWORD '{password}' IN ROLE {group}"))
            .execute(admin)
            .await
            .expect("create login");
        let email = format!("{login}@example.test");
        sqlx::query("INSERT INTO users (email, role, login_role, capabilities) VALUES ($1, $2::user_role, $3, $4)")
            .bind(&email)
            .bind(app_role)
            .bind(&login)
            .bind(caps.iter().map(|c| c.to_string()).collect::<Vec<_>>())
            .execute(admin)
            .await
            .expect("create user");
        TestLogin { login, password, email, admin: admin.clone() }
    }

    /// Sign `client` in as this login.
    pub async fn sign_in(&self, server: &Server, client: &reqwest::Client) -> reqwest::Response {
        client
            .post(server.url("/api/session"))
            .json(&serde_json::json!({"username": self.login, "password": self.password}))
            .send()
            .await
            .unwrap()
    }
}

impl Drop for TestLogin {
    fn drop(&mut self) {
        let opts = self.admin.connect_options().as_ref().clone();
        let login = self.login.clone();
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            rt.block_on(async move {
                use sqlx::Connection;
                let mut c = sqlx::PgConnection::connect_with(&opts).await.ok()?;
                // Sessions may still hold connections: end them before dropping the role.
                let _ = sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1")
                    .bind(&login)
                    .execute(&mut c)
                    .await;
                let _ = sqlx::raw_sql(&format!("DELETE FROM users WHERE login_role = '{login}'")).execute(&mut c).await;
                let _ = sqlx::raw_sql(&format!("DROP ROLE IF EXISTS {login}")).execute(&mut c).await;
                Some(())
            })
        })
        .join();
    }
}

/// The test database's URL (the superuser the tests connect as).
pub fn url_of(pool: &PgPool) -> String {
    let o = pool.connect_options();
    format!("postgres://{}@{}:{}/{}", o.get_username(), o.get_host(), o.get_port(), o.get_database().unwrap())
}

/// A data directory the embedded PostgreSQL's account can enter.
pub fn data_dir() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::Builder::new().prefix("eio-serve-").tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

/// Does `haystack` contain `needle`?
pub fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}
