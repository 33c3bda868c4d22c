//! Driving the `eio` binary as a user does.
#![allow(dead_code)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::Value;
use sqlx::PgPool;

/// `eio` with a clean environment: no inherited EIO_* settings, a private data dir.
pub fn eio(data_dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_eio"));
    for (k, _) in std::env::vars() {
        if k.starts_with("EIO_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("EIO_DATA_DIR", data_dir)
        .env("EIO_CONFIG", data_dir.join("no-config.toml"))
        .env_remove("DBUS_SESSION_BUS_ADDRESS");
    cmd
}

pub fn json_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// A URL for the test's own database as `user` (the pool's login by default).
pub fn url_as(pool: &PgPool, user: Option<&str>) -> String {
    let o = pool.connect_options();
    format!(
        "postgres://{}@{}:{}/{}",
        user.unwrap_or(o.get_username()),
        o.get_host(),
        o.get_port(),
        o.get_database().unwrap()
    )
}

pub fn url_of(pool: &PgPool) -> String {
    url_as(pool, None)
}

/// A data directory the embedded PostgreSQL's account can enter (when the tests run as
/// root, the cluster runs as `postgres`, and tempdirs are 0700).
pub fn data_dir() -> tempfile::TempDir {
    let dir = tempfile::Builder::new().prefix("eio-cli-").tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

pub fn ok(out: &Output) -> &Output {
    assert!(
        out.status.success(),
        "eio failed ({:?}):\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Drops login roles a test created (roles outlive test databases), however it ends.
pub struct DropRoles(pub PgPool, pub Vec<String>);
impl Drop for DropRoles {
    fn drop(&mut self) {
        let opts = self.0.connect_options().as_ref().clone();
        let roles = self.1.clone();
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            rt.block_on(async move {
                use sqlx::Connection;
                let mut c = sqlx::PgConnection::connect_with(&opts).await.ok()?;
                for r in roles {
                    let _ = sqlx::raw_sql(&format!("DROP ROLE IF EXISTS \"{r}\"")).execute(&mut c).await;
                }
                Some(())
            })
        })
        .join();
    }
}

/// Run `cmd` to its end with `stdin` written to it, on a blocking thread (the simulators a
/// test starts serve from its runtime).
pub async fn run_with(mut cmd: Command, stdin: Option<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        if let Some(s) = stdin {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
        }
        drop(child.stdin.take());
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap()
}
