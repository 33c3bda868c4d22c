//! The third-party captures the Dell simulator is built from: sushy's and sushy-oem-idrac's
//! Redfish JSON and python-dracclient's WSMan XML (Apache-2.0, fetched into
//! `target/peers/samples` by `scripts/peers/fetch-dell-samples`, never committed).
//!
//! The simulator clones these documents and overwrites only values, so its resources keep
//! the samples' keys and `@odata.type`s — it can't drift into a dialect of its own.
use std::path::{Path, PathBuf};

use serde_json::Value;

/// The script that fetches the samples; named in every error about them.
pub const FETCH_SCRIPT: &str = "scripts/peers/fetch-dell-samples";

#[derive(thiserror::Error)]
pub enum SamplesError {
    #[error("Dell sample {file} is missing under {dir}: run {FETCH_SCRIPT} (or set EIO_PEER_SAMPLES)")]
    Missing { dir: PathBuf, file: String },
    #[error("Dell sample {file} cannot be read: {reason}; rerun {FETCH_SCRIPT}")]
    Unreadable { file: String, reason: String },
}

/// Debug says what Display says, so a test's `unwrap()` names the script to run.
impl std::fmt::Debug for SamplesError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

/// Where the samples are: `$EIO_PEER_SAMPLES`, else the workspace's `target/peers/samples`.
pub fn default_dir() -> PathBuf {
    match std::env::var_os("EIO_PEER_SAMPLES") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/peers/samples"),
    }
}

/// Every sample the simulator uses, parsed once.
#[derive(Debug, Clone)]
pub struct Samples {
    pub dir: PathBuf,
    // sushy-oem-idrac (real iDRAC9 captures)
    pub root: Value,
    pub system: Value,
    pub manager: Value,
    pub manager_collection: Value,
    pub task: Value,
    pub job_collection: Value,
    pub error_running_job: Value,
    pub job_service: Value,
    // sushy (generic DMTF shapes)
    pub system_collection: Value,
    pub session_service: Value,
    pub session: Value,
    pub update_service: Value,
    pub firmware_collection: Value,
    pub software_inventory: Value,
    pub ethernet_interface: Value,
    pub ethernet_collection: Value,
    // python-dracclient (real iDRAC WSMan responses)
    pub wsman_system_view: String,
    pub wsman_lifecycle_jobs: String,
    pub wsman_enumerate_context: String,
    pub wsman_pull_context: String,
    pub wsman_pull_end: String,
    /// A method that created a job: `Job` reference + ReturnValue 4096.
    pub wsman_invoke_job: String,
    /// A method refused: Message, MessageID, ReturnValue 2.
    pub wsman_invoke_error: String,
    /// A method done: Message, MessageID, ReturnValue 0.
    pub wsman_invoke_ok: String,
    /// `DCIM_ComputerSystem.RequestStateChange` done: ReturnValue 0 alone.
    pub wsman_state_change_ok: String,
    /// `DCIM_ComputerSystem.RequestStateChange` refused: Message, MessageArguments,
    /// MessageID SYS021, ReturnValue 2.
    pub wsman_state_change_error: String,
}

impl Samples {
    /// Load from [`default_dir`].
    pub fn load_default() -> Result<Samples, SamplesError> {
        Samples::load(&default_dir())
    }

    pub fn load(dir: &Path) -> Result<Samples, SamplesError> {
        let text = |file: &str| -> Result<String, SamplesError> {
            let path = dir.join(file);
            std::fs::read_to_string(&path)
                .map_err(|_| SamplesError::Missing { dir: dir.to_path_buf(), file: file.to_owned() })
        };
        let json = |file: &str| -> Result<Value, SamplesError> {
            serde_json::from_str(&text(file)?)
                .map_err(|e| SamplesError::Unreadable { file: file.to_owned(), reason: e.to_string() })
        };
        Ok(Samples {
            dir: dir.to_path_buf(),
            root: json("sushy-oem-idrac/root.json")?,
            system: json("sushy-oem-idrac/system.json")?,
            manager: json("sushy-oem-idrac/manager.json")?,
            manager_collection: json("sushy-oem-idrac/manager_collection.json")?,
            task: json("sushy-oem-idrac/task.json")?,
            job_collection: json("sushy-oem-idrac/job_collection_expanded.json")?,
            error_running_job: json("sushy-oem-idrac/error_running_job.json")?,
            job_service: json("sushy-oem-idrac/job_service.json")?,
            system_collection: json("sushy/system_collection.json")?,
            session_service: json("sushy/session_service.json")?,
            session: json("sushy/session.json")?,
            update_service: json("sushy/updateservice.json")?,
            firmware_collection: json("sushy/firmwareinventory_collection.json")?,
            software_inventory: json("sushy/softwareinventory.json")?,
            ethernet_interface: json("sushy/manager_ethernet_interfaces.json")?,
            ethernet_collection: json("sushy/manager_ethernet_interfaces_collection.json")?,
            wsman_system_view: text("dracclient/system_view-enum-ok.xml")?,
            wsman_lifecycle_jobs: text("dracclient/lifecycle_job-enum-ok.xml")?,
            wsman_enumerate_context: text("dracclient/wsman-enum_context-1.xml")?,
            wsman_pull_context: text("dracclient/wsman-enum_context-2.xml")?,
            wsman_pull_end: text("dracclient/wsman-enum_context-4.xml")?,
            wsman_invoke_job: text("dracclient/bios_service-invoke-create_targeted_config_job-ok.xml")?,
            wsman_invoke_error: text("dracclient/bios_service-invoke-create_targeted_config_job-error.xml")?,
            wsman_invoke_ok: text("dracclient/job_service-delete-job-id-ok.xml")?,
            wsman_state_change_ok: text("dracclient/computer_system-invoke-request_state_change-ok.xml")?,
            wsman_state_change_error: text("dracclient/computer_system-invoke-request_state_change-error.xml")?,
        })
    }
}
