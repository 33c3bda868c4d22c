//! The embedded default: a private PostgreSQL cluster under the data directory.
//!
//! Created with the system's own `initdb`, started with its `pg_ctl`, listening on a Unix
//! socket only (`listen_addresses = ''`, socket directory 0700 inside the cluster folder),
//! started on demand and left running for the next command to reuse. A file lock
//! serialises two processes (the desktop and `eio status`, say) starting it at once.
//! `initdb` writes into a temporary folder that is renamed into place, so an interrupted
//! first run never leaves a half-made cluster behind.
//!
//! PostgreSQL refuses to run as root. When EIO runs as root the cluster belongs to an
//! unprivileged account (`postgres`, or `EIO_EMBEDDED_PG_USER`) and the programs run as it.
//!
//! This module must never listen on TCP, and never touch a cluster it did not create.
use std::fs;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::error::{Error, Result};

/// The superuser initdb creates; used only to create the database, migrate it and
/// manage the local login, never for day-to-day work.
pub const SUPERUSER: &str = "postgres";
/// The application database inside the cluster.
pub const DATABASE: &str = "eio";
/// The login the local user works as: admin and worker, never the schema owner.
pub const LOCAL_LOGIN: &str = "eio_local";
/// Only names the socket file (`.s.PGSQL.5432`); nothing listens on a port.
pub const PORT: u16 = 5432;
/// Sets the account the cluster runs as when EIO itself runs as root.
pub const ENV_PG_USER: &str = "EIO_EMBEDDED_PG_USER";
/// Sets the folder with initdb/pg_ctl/postgres when auto-detection isn't wanted.
pub const ENV_PG_BINDIR: &str = "EIO_PG_BINDIR";

const INSTALL_HINT: &str = "install the PostgreSQL server (Debian/Ubuntu: `sudo apt-get install postgresql`; \
Fedora/RHEL: `sudo dnf install postgresql-server`), or point EIO at an existing database with \
--database-url / EIO_DATABASE_URL";

#[derive(Debug, Clone)]
pub struct EmbeddedCluster {
    root: PathBuf,
    pgdata: PathBuf,
    socket_dir: PathBuf,
    log_file: PathBuf,
    run_as: Option<RunAs>,
}

#[derive(Debug, Clone)]
struct RunAs {
    user: String,
    uid: u32,
    gid: u32,
}

/// What [`EmbeddedCluster::ensure_running`] had to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StartReport {
    pub created: bool,
    pub started: bool,
}

impl EmbeddedCluster {
    /// A cluster rooted at `root` (`<data dir>/postgres`). Nothing is touched yet.
    pub fn new(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        let root = if root.is_absolute() { root } else { std::env::current_dir()?.join(root) };
        let run_as = if crate::config::running_as_root() { Some(RunAs::lookup()?) } else { None };
        let socket_dir = root.join("run");
        let socket = socket_dir.join(format!(".s.PGSQL.{PORT}"));
        if socket.as_os_str().len() >= 100 {
            return Err(Error::embedded(format!(
                "the embedded PostgreSQL's socket path {} is too long for a Unix socket; choose a shorter data directory (--data-dir / EIO_DATA_DIR)",
                socket.display()
            )));
        }
        Ok(EmbeddedCluster { pgdata: root.join("data"), log_file: root.join("postgres.log"), socket_dir, root, run_as })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn socket_dir(&self) -> &Path {
        &self.socket_dir
    }

    pub fn log_file(&self) -> &Path {
        &self.log_file
    }

    pub fn exists(&self) -> bool {
        self.pgdata.join("PG_VERSION").is_file()
    }

    pub fn connect_options(&self, user: &str, database: &str) -> sqlx::postgres::PgConnectOptions {
        sqlx::postgres::PgConnectOptions::new()
            .socket(&self.socket_dir)
            .port(PORT)
            .username(user)
            .database(database)
            .application_name("eio")
    }

    /// Create the cluster if it doesn't exist and start it if it isn't running.
    /// Blocking: call from `spawn_blocking` in async code.
    pub fn ensure_running(&self) -> Result<StartReport> {
        self.make_root()?;
        let _lock = self.lock()?;
        self.prepare_root()?;
        let mut report = StartReport { created: false, started: false };
        let bindir = find_bindir(self.cluster_major()?)?;
        if !self.exists() {
            self.initdb(&bindir)?;
            report.created = true;
        }
        if !self.status(&bindir)? {
            self.start(&bindir)?;
            report.started = true;
        }
        Ok(report)
    }

    /// Whether the cluster's postmaster is running. Never starts anything.
    pub fn is_running(&self) -> Result<bool> {
        if !self.exists() {
            return Ok(false);
        }
        let bindir = find_bindir(self.cluster_major()?)?;
        self.status(&bindir)
    }

    /// Stop the cluster (fast shutdown: running sessions are ended, nothing is lost).
    /// Returns whether it was running.
    pub fn stop(&self) -> Result<bool> {
        if !self.exists() {
            return Ok(false);
        }
        let _lock = self.lock()?;
        let bindir = find_bindir(self.cluster_major()?)?;
        if !self.status(&bindir)? {
            return Ok(false);
        }
        let out = self
            .command(&bindir, "pg_ctl")
            .args(["stop", "-D"])
            .arg(&self.pgdata)
            .args(["-m", "fast", "-w", "-t", "60", "-s"])
            .output()
            .map_err(|e| Error::embedded(format!("cannot run pg_ctl: {e}")))?;
        if !out.status.success() {
            return Err(Error::embedded(format!(
                "stopping the embedded PostgreSQL in {} failed: {}",
                self.root.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(true)
    }

    /// The cluster folder, made race-free: processes starting at once on a new data
    /// directory may all get here before any holds the lock (the lock file lives inside
    /// this folder), so a folder another one made a moment ago is not an error.
    fn make_root(&self) -> Result<()> {
        if let Some(parent) = self.root.parent() {
            fs::create_dir_all(parent)
                .map_err(|e| Error::embedded(format!("cannot create the data directory {}: {e}", parent.display())))?;
        }
        make_private_dir(&self.root)
    }

    /// Modes, owner and the socket folder. Called with the lock held.
    fn prepare_root(&self) -> Result<()> {
        fs::set_permissions(&self.root, fs::Permissions::from_mode(0o700))?;
        if let Some(run_as) = &self.run_as {
            run_as.check_can_reach(&self.root)?;
            chown(&self.root, run_as)?;
        }
        make_private_dir(&self.socket_dir)?;
        fs::set_permissions(&self.socket_dir, fs::Permissions::from_mode(0o700))?;
        if let Some(run_as) = &self.run_as {
            chown(&self.socket_dir, run_as)?;
        }
        Ok(())
    }

    fn lock(&self) -> Result<fs::File> {
        self.lock_file("eio.lock")
    }

    /// Held while the application database is created, migrated and its local login made
    /// (`db::bootstrap_embedded`), so processes starting at once on a new data directory
    /// take turns instead of racing `CREATE DATABASE`. Blocking: call from `spawn_blocking`.
    pub fn bootstrap_lock(&self) -> Result<fs::File> {
        self.lock_file("eio-bootstrap.lock")
    }

    fn lock_file(&self, name: &str) -> Result<fs::File> {
        let path = self.root.join(name);
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Error::embedded(format!("cannot open {}: {e}", path.display())))?;
        file.lock().map_err(|e| Error::embedded(format!("cannot lock {}: {e}", path.display())))?;
        Ok(file)
    }

    /// The major version the existing cluster was made with, if any.
    fn cluster_major(&self) -> Result<Option<u32>> {
        match fs::read_to_string(self.pgdata.join("PG_VERSION")) {
            Ok(v) => Ok(v.trim().parse().ok()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::embedded(format!("cannot read the embedded cluster's version: {e}"))),
        }
    }

    fn command(&self, bindir: &Path, program: &str) -> Command {
        let mut cmd = Command::new(bindir.join(program));
        cmd.stdin(Stdio::null()).env("LC_ALL", "C").env_remove("PGDATA");
        if let Some(run_as) = &self.run_as {
            // std drops root's supplementary groups when it changes uid.
            cmd.uid(run_as.uid).gid(run_as.gid).env("HOME", &self.root).env("USER", &run_as.user);
        }
        cmd
    }

    fn initdb(&self, bindir: &Path) -> Result<()> {
        let staging = self.root.join("data.initdb");
        if staging.exists() {
            fs::remove_dir_all(&staging)?;
        }
        tracing::info!(dir = %self.root.display(), "creating the embedded PostgreSQL cluster");
        let out = self
            .command(bindir, "initdb")
            .arg("-D")
            .arg(&staging)
            .args([
                "-U",
                SUPERUSER,
                "--auth-local=trust",
                "--auth-host=reject",
                "-E",
                "UTF8",
                "--no-locale",
                "--no-instructions",
            ])
            .output()
            .map_err(|e| Error::embedded(format!("cannot run initdb: {e}")))?;
        if !out.status.success() {
            let _ = fs::remove_dir_all(&staging);
            return Err(Error::embedded(format!(
                "initdb failed for {}: {}",
                self.root.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        let mut conf = fs::OpenOptions::new().append(true).open(staging.join("postgresql.conf"))?;
        writeln!(
            conf,
            "\n# --- EIO embedded cluster: Unix socket only, private to this account ---\n\
             listen_addresses = ''\n\
             unix_socket_directories = '{}'\n\
             unix_socket_permissions = 0700\n\
             port = {PORT}\n\
             max_connections = 100\n\
             logging_collector = off\n",
            self.socket_dir.display().to_string().replace('\'', "''")
        )?;
        drop(conf);
        fs::rename(&staging, &self.pgdata)?;
        Ok(())
    }

    fn status(&self, bindir: &Path) -> Result<bool> {
        let out = self
            .command(bindir, "pg_ctl")
            .args(["status", "-D"])
            .arg(&self.pgdata)
            .output()
            .map_err(|e| Error::embedded(format!("cannot run pg_ctl: {e}")))?;
        // 0 = running, 3 = not running, 4 = no accessible data directory.
        Ok(out.status.code() == Some(0))
    }

    fn start(&self, bindir: &Path) -> Result<()> {
        tracing::info!(dir = %self.root.display(), "starting the embedded PostgreSQL");
        let out = self
            .command(bindir, "pg_ctl")
            .args(["start", "-D"])
            .arg(&self.pgdata)
            .arg("-l")
            .arg(&self.log_file)
            .args(["-w", "-t", "60", "-s"])
            // Its own process group: a Ctrl-C in the terminal that started us must not
            // reach the postmaster, which outlives this process on purpose.
            .process_group(0)
            .output()
            .map_err(|e| Error::embedded(format!("cannot run pg_ctl: {e}")))?;
        if !out.status.success() {
            return Err(Error::embedded(format!(
                "the embedded PostgreSQL in {} did not start: {}{}",
                self.root.display(),
                String::from_utf8_lossy(&out.stderr).trim(),
                tail(&self.log_file, 5).map(|t| format!("; log: {t}")).unwrap_or_default()
            )));
        }
        Ok(())
    }
}

impl RunAs {
    fn lookup() -> Result<Self> {
        let user = std::env::var(ENV_PG_USER).unwrap_or_else(|_| "postgres".to_owned());
        let cuser = std::ffi::CString::new(user.clone())
            .map_err(|_| Error::embedded(format!("{ENV_PG_USER} is not a valid user name")))?;
        // SAFETY: getpwnam returns NULL or a pointer to static storage valid until the next
        // getpw* call; we copy the two integers out immediately.
        let pw = unsafe { libc::getpwnam(cuser.as_ptr()) };
        if pw.is_null() {
            return Err(Error::embedded(format!(
                "EIO is running as root, and PostgreSQL refuses to run as root: the embedded database needs an \
                 unprivileged account to run as, but user '{user}' does not exist. Create it, set {ENV_PG_USER}, \
                 run EIO as a normal user, or use --database-url"
            )));
        }
        // SAFETY: pw is non-null and points to a valid passwd struct (see above).
        let (uid, gid) = unsafe { ((*pw).pw_uid, (*pw).pw_gid) };
        Ok(RunAs { user, uid, gid })
    }

    /// Every folder above the cluster must let the account through.
    fn check_can_reach(&self, root: &Path) -> Result<()> {
        for dir in root.ancestors().skip(1) {
            let Ok(meta) = fs::metadata(dir) else { continue };
            let mode = meta.mode();
            let ok = mode & 0o001 != 0
                || (meta.uid() == self.uid && mode & 0o100 != 0)
                || (meta.gid() == self.gid && mode & 0o010 != 0);
            if !ok {
                return Err(Error::embedded(format!(
                    "EIO is running as root, so the embedded PostgreSQL runs as '{}', which cannot enter {}; \
                     choose a data directory it can reach (--data-dir / EIO_DATA_DIR; the default for root is /var/lib/eio)",
                    self.user,
                    dir.display()
                )));
            }
        }
        Ok(())
    }
}

fn chown(path: &Path, run_as: &RunAs) -> Result<()> {
    std::os::unix::fs::chown(path, Some(run_as.uid), Some(run_as.gid))
        .map_err(|e| Error::embedded(format!("cannot hand {} to '{}': {e}", path.display(), run_as.user)))
}

fn tail(path: &Path, lines: usize) -> Option<String> {
    let text = fs::read_to_string(path).ok()?;
    let v: Vec<&str> = text.lines().rev().take(lines).collect();
    Some(v.into_iter().rev().collect::<Vec<_>>().join(" | "))
}

/// The folder holding initdb, pg_ctl and postgres, of the wanted major version when a
/// cluster already exists (a cluster can only be run by its own major version).
pub fn find_bindir(wanted_major: Option<u32>) -> Result<PathBuf> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    // An explicit choice is used alone: falling back to another install would hide the mistake.
    if let Some(dir) = std::env::var_os(ENV_PG_BINDIR).filter(|d| !d.is_empty()) {
        candidates.push(PathBuf::from(dir));
        return pick_bindir(candidates, wanted_major);
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").stderr(Stdio::null()).output() {
        if out.status.success() {
            candidates.push(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
        }
    }
    // Distribution layouts, newest first.
    for pattern_root in ["/usr/lib/postgresql", "/usr/local/pgsql", "/usr/pgsql"] {
        let mut versioned: Vec<(u32, PathBuf)> = Vec::new();
        if let Ok(entries) = fs::read_dir(pattern_root) {
            for e in entries.flatten() {
                if let Some(v) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) {
                    versioned.push((v, e.path().join("bin")));
                }
            }
        }
        versioned.sort_by_key(|v| std::cmp::Reverse(v.0));
        candidates.extend(versioned.into_iter().map(|(_, p)| p));
    }
    if let Ok(entries) = fs::read_dir("/usr") {
        let mut rh: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("pgsql-")))
            .map(|p| p.join("bin"))
            .collect();
        rh.sort();
        rh.reverse();
        candidates.extend(rh);
    }
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path));
    }
    pick_bindir(candidates, wanted_major)
}

fn pick_bindir(candidates: Vec<PathBuf>, wanted_major: Option<u32>) -> Result<PathBuf> {
    let mut found_other: Vec<(u32, PathBuf)> = Vec::new();
    for dir in candidates {
        let complete = ["initdb", "pg_ctl", "postgres"].iter().all(|p| dir.join(p).is_file());
        if !complete {
            continue;
        }
        let Some(major) = major_version(&dir) else { continue };
        match wanted_major {
            Some(w) if w != major => found_other.push((major, dir)),
            _ => return Ok(dir),
        }
    }
    match (wanted_major, found_other.first()) {
        (Some(w), Some((other, _))) => Err(Error::embedded(format!(
            "the embedded cluster was created by PostgreSQL {w}, but only PostgreSQL {other} programs are installed; \
             install PostgreSQL {w} (Debian/Ubuntu: `sudo apt-get install postgresql-{w}`) or move the cluster away"
        ))),
        _ => Err(Error::embedded(format!(
            "PostgreSQL server programs (initdb, pg_ctl, postgres) were not found: {INSTALL_HINT}"
        ))),
    }
}

/// Create `path` as a folder only its owner can enter; one that already exists (made by a
/// process starting at the same moment, or by an earlier run) is fine, anything else
/// in its place is a clear error.
fn make_private_dir(path: &Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    match fs::DirBuilder::new().mode(0o700).create(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && path.is_dir() => Ok(()),
        Err(e) => Err(Error::embedded(format!("cannot create {}: {e}", path.display()))),
    }
}

fn major_version(bindir: &Path) -> Option<u32> {
    let out = Command::new(bindir.join("pg_ctl")).arg("--version").output().ok()?;
    // "pg_ctl (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)"
    let text = String::from_utf8_lossy(&out.stdout);
    let after = text.split(')').nth(1)?.trim();
    after.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_installed_server_programs() {
        let dir = find_bindir(None).expect("PostgreSQL server programs are part of the test setup");
        assert!(dir.join("initdb").is_file());
        assert!(major_version(&dir).unwrap() >= 13);
    }

    #[test]
    fn a_missing_version_is_named_with_the_package() {
        let e = find_bindir(Some(7)).unwrap_err();
        assert_eq!(e.code, crate::error::ErrorCode::EmbeddedPostgres);
        assert!(e.message.contains("PostgreSQL 7"), "{}", e.message);
        assert!(e.message.contains("apt-get install postgresql-7"), "{}", e.message);
    }

    #[test]
    fn a_folder_made_by_a_concurrent_start_is_reused_and_a_file_in_its_place_is_named() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("postgres");
        make_private_dir(&dir).unwrap();
        assert_eq!(fs::metadata(&dir).unwrap().mode() & 0o777, 0o700);
        // The loser of the race (EEXIST on a folder) goes on to wait for the lock.
        make_private_dir(&dir).unwrap();

        let file = tmp.path().join("run");
        fs::write(&file, b"").unwrap();
        let e = make_private_dir(&file).unwrap_err();
        assert_eq!(e.code, crate::error::ErrorCode::EmbeddedPostgres);
        assert!(e.message.starts_with(&format!("cannot create {}: ", file.display())), "{}", e.message);
        assert!(e.message.contains("exists"), "{}", e.message);
    }

    #[test]
    fn overlong_socket_paths_are_refused_up_front() {
        let long = PathBuf::from("/tmp").join("x".repeat(120));
        let e = EmbeddedCluster::new(long).unwrap_err();
        assert!(e.message.contains("too long"), "{}", e.message);
    }
}
