//! # racadm — Dell's remote command line, as the driver of last resort
//!
//! Owns: finding an installed `racadm` (none installed → the capability is off with a clear
//! reason, never a panic), running it in remote mode (`racadm -r HOST -u USER -p … CMD`)
//! with a timeout, turning its failures into [`RacadmError`]s, and parsing `getsysinfo`,
//! `getversion` and `swinventory` ([`parse`]) into the same records Redfish and WSMan fill.
//!
//! The password: remote racadm takes it only as `-p` on its command line — it reads no
//! environment variable and its `-i` prompt wants a terminal — so while racadm runs, the
//! password is visible to local users who can list this process's children (`ps`,
//! `/proc/PID/cmdline`). That is why the facade prefers Redfish and WSMan and picks racadm only
//! when nothing else answers (e.g. iDRACs stuck on TLS 1.0/1.1). Run EIO's workers on a host
//! where other users can't see its processes (`hidepid=2` on /proc) when racadm is in use.
//!
//! Must never: put the password in an error, a log line or Debug output (output excerpts are
//! scrubbed of it), or pass anything to a shell (arguments go straight to `execve`).
pub mod parse;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use crate::idrac::records::{
    meaningful, normalize_mac, Capabilities, DriverKind, Generation, Health, ManagerInfo, ServerInventory,
};
use crate::Credentials;

/// Where Dell installs racadm (OpenManage / iDRAC Tools for Linux), besides `$PATH`.
const KNOWN_LOCATIONS: &[&str] = &["/opt/dell/srvadmin/sbin/racadm", "/opt/dell/srvadmin/bin/idracadm7"];

#[derive(Debug, thiserror::Error)]
pub enum RacadmError {
    #[error("racadm is not installed: {reason}")]
    NotInstalled { reason: String },
    #[error("cannot run racadm: {reason}")]
    Spawn { reason: String },
    #[error("{host} refused the credentials (racadm: login failed)")]
    Unauthorized { host: String },
    #[error("racadm cannot reach {host}: {reason}")]
    Unreachable { host: String, reason: String },
    #[error("racadm {command} on {host} did not finish within {seconds} s")]
    Timeout { host: String, command: String, seconds: u64 },
    #[error("racadm {command} on {host} failed (exit {exit}): {excerpt}")]
    Failed { host: String, command: String, exit: i32, excerpt: String },
    #[error("racadm {command} on {host} printed nothing usable: {reason}")]
    Unparseable { host: String, command: String, reason: String },
}

/// An installed racadm binary.
#[derive(Debug, Clone)]
pub struct Racadm {
    binary: PathBuf,
}

impl Racadm {
    /// Find `racadm` on `$PATH` or where Dell installs it.
    pub fn locate() -> Result<Racadm, RacadmError> {
        Racadm::locate_in(&std::env::var_os("PATH").unwrap_or_default())
    }

    /// Find `racadm` on a `PATH`-style list of directories, or where Dell installs it.
    pub fn locate_in(path: &std::ffi::OsStr) -> Result<Racadm, RacadmError> {
        let found = std::env::split_paths(path)
            .map(|dir| dir.join("racadm"))
            .chain(KNOWN_LOCATIONS.iter().map(PathBuf::from))
            .find(|p| is_executable(p));
        match found {
            Some(binary) => Ok(Racadm { binary }),
            None => Err(RacadmError::NotInstalled {
                reason: "no racadm on PATH or in /opt/dell/srvadmin; install Dell's \"iDRAC Tools for Linux\" \
                         (racadm) to reach iDRACs that speak neither Redfish nor WS-Management over TLS 1.2"
                    .into(),
            }),
        }
    }

    /// Use this binary.
    pub fn at(binary: impl Into<PathBuf>) -> Racadm {
        Racadm { binary: binary.into() }
    }

    /// Whether the binary is there and executable.
    pub fn check(&self) -> Result<(), RacadmError> {
        if is_executable(&self.binary) {
            Ok(())
        } else {
            Err(RacadmError::NotInstalled { reason: format!("{} is not an executable file", self.binary.display()) })
        }
    }

    pub fn binary(&self) -> &Path {
        &self.binary
    }

    /// Run one remote subcommand (e.g. `["getsysinfo"]`) against `host` (`host` or `host:port`).
    pub async fn run(
        &self,
        host: &str,
        credentials: &Credentials,
        subcommand: &[&str],
        timeout: Duration,
    ) -> Result<String, RacadmError> {
        let command = subcommand.join(" ");
        let password = credentials.password.expose();
        let mut cmd = tokio::process::Command::new(&self.binary);
        cmd.arg("-r")
            .arg(host)
            .arg("-u")
            .arg(&credentials.username)
            .arg("-p")
            .arg(password)
            .args(subcommand)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let child =
            cmd.spawn().map_err(|e| RacadmError::Spawn { reason: format!("{}: {e}", self.binary.display()) })?;
        let output = match tokio::time::timeout(timeout, child.wait_with_output()).await {
            Ok(Ok(o)) => o,
            Ok(Err(e)) => return Err(RacadmError::Spawn { reason: e.to_string() }),
            Err(_) => {
                return Err(RacadmError::Timeout { host: host.to_owned(), command, seconds: timeout.as_secs().max(1) })
            }
        };
        let stdout = scrub(&String::from_utf8_lossy(&output.stdout), password);
        let stderr = scrub(&String::from_utf8_lossy(&output.stderr), password);
        let combined = format!("{stdout}\n{stderr}");
        let lower = combined.to_ascii_lowercase();
        if lower.contains("login failed") || lower.contains("invalid username or password") {
            return Err(RacadmError::Unauthorized { host: host.to_owned() });
        }
        if lower.contains("unable to connect") || lower.contains("unable to establish") {
            return Err(RacadmError::Unreachable { host: host.to_owned(), reason: excerpt(&combined) });
        }
        if !output.status.success() || lower.trim_start().starts_with("error") {
            return Err(RacadmError::Failed {
                host: host.to_owned(),
                command,
                exit: output.status.code().unwrap_or(-1),
                excerpt: excerpt(&combined),
            });
        }
        Ok(stdout)
    }

    /// `getsysinfo` + `swinventory`, mapped into a server record.
    pub async fn read_inventory(
        &self,
        host: &str,
        credentials: &Credentials,
        timeout: Duration,
    ) -> Result<ServerInventory, RacadmError> {
        let sysinfo_text = self.run(host, credentials, &["getsysinfo"], timeout).await?;
        let sysinfo = parse::parse_getsysinfo(&sysinfo_text);
        if sysinfo.service_tag.is_none() && sysinfo.model.is_none() {
            return Err(RacadmError::Unparseable {
                host: host.to_owned(),
                command: "getsysinfo".into(),
                reason: "neither a service tag nor a system model in its output".into(),
            });
        }
        let software = self.run(host, credentials, &["swinventory"], timeout).await?;
        let firmware = parse::parse_swinventory(&software);
        let mut inv = ServerInventory::empty(DriverKind::Racadm);
        inv.service_tag = sysinfo.service_tag.clone();
        inv.model = sysinfo.model.clone();
        inv.manufacturer = sysinfo.model.as_ref().filter(|m| m.contains("PowerEdge")).map(|_| "Dell Inc.".to_owned());
        inv.bios_version = sysinfo.bios_version.clone();
        inv.hostname = sysinfo.host_name.clone();
        inv.power_state = sysinfo.power_state;
        inv.health = Health::Unknown;
        inv.manager = ManagerInfo {
            generation: sysinfo
                .rac_firmware_version
                .as_deref()
                .and_then(Generation::from_firmware_version)
                .or_else(|| sysinfo.model.as_deref().and_then(parse::generation_from_model)),
            firmware_version: sysinfo.rac_firmware_version.clone(),
            model: None,
            mac: normalize_mac(sysinfo.rac_mac.as_deref()),
            ip: meaningful(sysinfo.rac_ip.as_deref()),
        };
        inv.firmware = firmware;
        inv.capabilities = Capabilities {
            racadm: true,
            firmware_inventory: !inv.firmware.is_empty(),
            notes: vec!["racadm passes the password on its command line; prefer Redfish or WSMan".into()],
            ..Default::default()
        };
        inv.api_calls = 2;
        Ok(inv)
    }
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0).unwrap_or(false)
}

/// Replace every occurrence of the password (racadm echoes its arguments on some errors).
fn scrub(text: &str, password: &str) -> String {
    if password.is_empty() {
        text.to_owned()
    } else {
        text.replace(password, eio_secret::REDACTED)
    }
}

fn excerpt(text: &str) -> String {
    let joined: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let s = joined.join(" / ");
    if s.chars().count() > 300 {
        format!("{}…", s.chars().take(300).collect::<String>())
    } else {
        s
    }
}
