//! What `<data dir>/demo/lab.json` remembers between runs — the lab's ports and its
//! certificate, so the sources one run registered work for the next — and how it is read
//! (a lab that no longer fits is replaced) and written (mode 0600, atomically).
use std::path::{Path, PathBuf};

use eio_core::config::Config;
use eio_core::error::ErrorCode;
use eio_core::Error;
use eio_lab::estate::{Estate, LabPorts};
use eio_lab::tls::LabCert;
use serde::Serialize;

/// What `<data dir>/demo/lab.json` remembers between runs.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub(crate) struct LabState {
    pub(crate) ports: LabPorts,
    /// The lab certificate and its key, DER as hex (a lab's throwaway key, not a credential).
    cert_der: String,
    key_der: String,
}

pub(crate) fn state_path(config: &Config) -> PathBuf {
    config.data_dir.join("demo").join("lab.json")
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

/// The remembered lab (or a new one: nothing remembered, or unreadable).
pub(crate) fn lab_state(config: &Config, estate: &Estate) -> Result<(LabState, LabCert), Error> {
    let path = state_path(config);
    {
        if let Some(state) = std::fs::read_to_string(&path).ok().and_then(|t| serde_json::from_str::<LabState>(&t).ok())
        {
            if let (Some(c), Some(k)) = (unhex(&state.cert_der), unhex(&state.key_der)) {
                let fits =
                    state.ports.vcenters.len() == estate.vcenters.len() && state.ports.idracs.len() == estate.servers();
                if let (true, Ok(cert)) = (fits, LabCert::from_der(&c, &k)) {
                    if !state.ports.all_free() {
                        return Err(Error::new(
                            ErrorCode::Conflict,
                            format!(
                                "the demo lab's ports (remembered in {}) are in use: is another `eio demo` running?",
                                path.display()
                            ),
                        ));
                    }
                    return Ok((state, cert));
                }
            }
        }
    }
    let ports = LabPorts::pick(estate).map_err(|e| Error::internal(format!("picking the lab's ports: {e}")))?;
    let (cert, cert_der, key_der) =
        LabCert::generate_keepable().map_err(|e| Error::internal(format!("making the lab's certificate: {e}")))?;
    let state = LabState { ports, cert_der: hex(&cert_der), key_der: hex(&key_der) };
    write_private(&path, &serde_json::to_vec_pretty(&state).map_err(|e| Error::internal(e.to_string()))?)?;
    Ok((state, cert))
}

pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| Error::config(format!("cannot create {}: {e}", dir.display())))?;
    let tmp = path.with_extension("json.tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| Error::config(format!("cannot write {}: {e}", tmp.display())))?;
    f.write_all(bytes).and_then(|_| f.sync_all()).map_err(|e| Error::config(format!("{}: {e}", tmp.display())))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::config(format!("cannot write {}: {e}", path.display())))
}
