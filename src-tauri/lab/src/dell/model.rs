//! The simulated fleet's facts: one [`ServerSpec`] per BMC, generated deterministically from
//! its index (so a test, the benchmark and the demo see the same servers every run), and the
//! Dell job state machine.
use eio_connectors::idrac::Generation;

/// One firmware image on a server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirmwareItem {
    pub component_id: String,
    pub fqdd: String,
    pub name: String,
    pub version: String,
    pub updateable: bool,
    /// The rollback image's version, listed as `Previous-…` (Redfish) / rollback (racadm).
    pub previous_version: Option<String>,
}

/// Everything one simulated server reports.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerSpec {
    pub index: usize,
    pub generation: Generation,
    /// 12..=16 ("14G Monolithic").
    pub server_generation: u8,
    pub service_tag: String,
    pub model: String,
    pub uuid: uuid::Uuid,
    pub bios_version: String,
    pub idrac_firmware: String,
    pub lifecycle_controller_version: String,
    pub hostname: String,
    pub idrac_ip: String,
    /// Lowercase, colon-separated.
    pub idrac_mac: String,
    /// Redfish PowerState: "On" / "Off".
    pub power_state: String,
    /// Redfish health: "OK" / "Warning" / "Critical".
    pub health: String,
    pub cpu_model: String,
    pub cpu_count: u32,
    pub memory_gib: u32,
    pub firmware: Vec<FirmwareItem>,
    /// Runs older BIOS/iDRAC firmware than the fleet baseline.
    pub outdated: bool,
    /// Redfish sessions offered (iDRAC8 2.40+ and iDRAC9 do).
    pub sessions: bool,
    /// Entries in each of the SEL and Lifecycle logs.
    pub log_entries: usize,
}

impl ServerSpec {
    /// "14G Monolithic": the Manager `Model` and `SystemGeneration`.
    pub fn manager_model(&self) -> String {
        format!("{}G Monolithic", self.server_generation)
    }

    pub fn has_redfish(&self) -> bool {
        self.generation != Generation::Idrac7
    }

    pub fn has_wsman(&self) -> bool {
        self.generation != Generation::Idrac9
    }

    /// The fleet's current versions for (BIOS, iDRAC) on a server generation: what the OME
    /// baseline expects.
    pub fn baseline_versions(server_generation: u8) -> (&'static str, &'static str) {
        match server_generation {
            12 => ("2.9.0", "2.65.65.65"),
            13 => ("2.19.0", "2.84.84.84"),
            14 => ("2.22.2", "7.00.00.173"),
            15 => ("1.15.2", "7.00.00.173"),
            _ => ("2.3.5", "7.10.50.00"),
        }
    }

    /// The facts of server `index` of `generation`.
    pub fn generate(index: usize, generation: Generation, outdated: bool) -> ServerSpec {
        let server_generation: u8 = match generation {
            Generation::Idrac7 => 12,
            Generation::Idrac8 => 13,
            Generation::Idrac9 => 14 + (index % 3) as u8,
        };
        let model = match server_generation {
            12 => ["PowerEdge R620", "PowerEdge R720"][index % 2],
            13 => ["PowerEdge R630", "PowerEdge R730"][index % 2],
            14 => ["PowerEdge R640", "PowerEdge R740"][index % 2],
            15 => "PowerEdge R650",
            _ => "PowerEdge R660",
        };
        let (bios, idrac) = ServerSpec::baseline_versions(server_generation);
        let (bios, idrac) = if outdated {
            match server_generation {
                12 => ("2.5.4", "2.60.60.60"),
                13 => ("2.11.0", "2.75.75.75"),
                14 | 15 => ("2.10.2", "4.40.00.00"),
                _ => ("1.6.5", "6.10.30.00"),
            }
        } else {
            (bios, idrac)
        };
        let cpu_model = match server_generation {
            12 => "Intel(R) Xeon(R) CPU E5-2660 0 @ 2.20GHz",
            13 => "Intel(R) Xeon(R) CPU E5-2680 v4 @ 2.40GHz",
            14 => "Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz",
            15 => "Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz",
            _ => "Intel(R) Xeon(R) Gold 6438Y+",
        };
        let i = index as u32;
        let mac = format!("d0:94:66:{:02x}:{:02x}:{:02x}", (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff);
        let lc = idrac.to_owned();
        let mut firmware = vec![
            fw("159", "BIOS.Setup.1-1", "BIOS", bios, Some("2.1.0")),
            fw("25227", "iDRAC.Embedded.1-1", "Integrated Dell Remote Access Controller", idrac, Some("2.50.50.50")),
            fw(
                "102302",
                "NIC.Integrated.1-1-1",
                &format!("Intel(R) Ethernet 10G 4P X710 rNDC - {mac}"),
                "19.5.12",
                None,
            ),
            fw("102302", "NIC.Integrated.1-2-1", "Intel(R) Ethernet 10G 4P X710 rNDC", "19.5.12", None),
            fw("104290", "RAID.Integrated.1-1", "PERC H730P Mini", "25.5.9.0001", None),
            fw(
                "104229",
                "Disk.Bay.0:Enclosure.Internal.0-1:RAID.Integrated.1-1",
                "Disk 0 in Backplane 1 of Integrated RAID Controller 1",
                "DN03",
                None,
            ),
            fw("25806", "PSU.Slot.1", "Power Supply.Slot.1", "00.1D.7D", None),
            fw("27763", "CPLD.Embedded.1", "System CPLD", "1.0.6", None),
        ];
        if server_generation < 14 {
            firmware.push(fw("28897", "USC.Embedded.1:LC.Embedded.1", "Lifecycle Controller", &lc, None));
        }
        let power_state = if index % 10 == 9 { "Off" } else { "On" };
        let health = if index % 17 == 16 { "Warning" } else { "OK" };
        ServerSpec {
            index,
            generation,
            server_generation,
            service_tag: format!("EIO{index:04}"),
            model: model.to_owned(),
            uuid: uuid::Uuid::from_u128(0x4c4c4544_0045_4910_8030_000000000000 | index as u128),
            bios_version: bios.to_owned(),
            idrac_firmware: idrac.to_owned(),
            lifecycle_controller_version: lc,
            hostname: format!("esx{index:03}.lab.eio.example"),
            idrac_ip: format!("198.18.{}.{}", index / 250, index % 250 + 1),
            idrac_mac: mac,
            power_state: power_state.to_owned(),
            health: health.to_owned(),
            cpu_model: cpu_model.to_owned(),
            cpu_count: 2,
            memory_gib: [256, 384, 512][index % 3],
            firmware,
            outdated,
            sessions: true,
            log_entries: 40,
        }
    }

    /// The firmware item for an FQDD.
    pub fn firmware(&self, fqdd: &str) -> Option<&FirmwareItem> {
        self.firmware.iter().find(|f| f.fqdd == fqdd)
    }

    /// `Installed-<ComponentID>-<Version>__<FQDD>` ids, then `Previous-…` for rollback images.
    pub fn firmware_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> =
            self.firmware.iter().map(|f| format!("Installed-{}-{}__{}", f.component_id, f.version, f.fqdd)).collect();
        ids.extend(self.firmware.iter().filter_map(|f| {
            f.previous_version.as_ref().map(|v| format!("Previous-{}-{}__{}", f.component_id, v, f.fqdd))
        }));
        ids
    }
}

fn fw(component_id: &str, fqdd: &str, name: &str, version: &str, previous: Option<&str>) -> FirmwareItem {
    FirmwareItem {
        component_id: component_id.to_owned(),
        fqdd: fqdd.to_owned(),
        name: name.to_owned(),
        version: version.to_owned(),
        updateable: !fqdd.starts_with("CPLD"),
        previous_version: previous.map(str::to_owned),
    }
}

/// Dell job states, in the order a firmware update walks them.
pub const JOB_STATES: &[&str] = &[
    "New",
    "Scheduled",
    "Downloading",
    "Downloaded",
    "Running",
    "RebootPending",
    "Completed",
    "CompletedWithErrors",
    "Failed",
];

/// The first line of a lab firmware image: `EIO-LAB-DUP fqdd=<FQDD> version=<VERSION>`.
/// Real Dell Update Packages carry the component and version inside; the lab reads them
/// from this line. Anything after it (any bytes) is ignored; an image without it is
/// accepted and walks Dell's states by its file name only (see [`SimJob::firmware_update`]).
pub const IMAGE_MAGIC: &str = "EIO-LAB-DUP";

/// What a lab firmware image installs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageManifest {
    pub fqdd: String,
    pub version: String,
}

impl ImageManifest {
    /// Read the manifest line of an image, if it has one.
    pub fn parse(bytes: &[u8]) -> Option<ImageManifest> {
        let line = bytes.split(|b| *b == b'\n').next()?;
        let line = std::str::from_utf8(line).ok()?.trim();
        let rest = line.strip_prefix(IMAGE_MAGIC)?;
        let field = |name: &str| {
            rest.split_whitespace()
                .find_map(|kv| kv.strip_prefix(name).and_then(|v| v.strip_prefix('=')))
                .map(str::to_owned)
        };
        Some(ImageManifest { fqdd: field("fqdd")?, version: field("version")? })
    }
}

/// A lab firmware image that installs `version` on component `fqdd` (padded with `size`
/// filler bytes, like a real package's payload).
pub fn lab_image(fqdd: &str, version: &str, size: usize) -> Vec<u8> {
    let mut out = format!("{IMAGE_MAGIC} fqdd={fqdd} version={version}\n").into_bytes();
    out.extend(std::iter::repeat_n(0x5a, size));
    out
}

/// Components whose update needs the server to reboot (everything but the iDRAC itself and
/// the OS-side packages).
pub fn needs_host_reboot(fqdd: &str) -> bool {
    !(fqdd.starts_with("iDRAC.") || fqdd.starts_with("DriverPack") || fqdd.starts_with("OSCollector"))
}

/// How a job is going to end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobOutcome {
    Completed,
    CompletedWithErrors,
    Failed,
}

impl JobOutcome {
    fn state(self) -> &'static str {
        match self {
            JobOutcome::Completed => "Completed",
            JobOutcome::CompletedWithErrors => "CompletedWithErrors",
            JobOutcome::Failed => "Failed",
        }
    }
}

/// A job in a simulated iDRAC's queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimJob {
    /// `JID_…`
    pub id: String,
    pub name: String,
    pub job_type: String,
    pub state: String,
    pub percent: u32,
    pub message: String,
    pub message_id: String,
    /// What the job will end as: Completed, CompletedWithErrors or Failed.
    outcome: String,
    /// Goes through RebootPending (an image that needs a host reboot).
    needs_reboot: bool,
    /// What the image installs (a lab image with a manifest): the job then waits in
    /// RebootPending until the server is reset, and a Completed job changes the inventory.
    pub target: Option<ImageManifest>,
    /// Reset happened while the job waited (or the iDRAC rebooted by itself).
    pub rebooted: bool,
    /// `Immediate`: the iDRAC reboots the server by itself when the job is ready.
    pub immediate: bool,
    /// Looks each state lasts (a slow iDRAC).
    pub looks_per_state: u32,
    looks: u32,
    /// Created over WS-Management (`InstallFromURI`, `CreateRebootJob`): walks the Lifecycle
    /// Controller's states, spelled as `DCIM_LifecycleJob.JobStatus` spells them.
    pub wsman: bool,
}

/// What one look at a job did besides moving it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobEffect {
    None,
    /// Install `version` on `fqdd` (the job just completed).
    Install(ImageManifest),
    /// The iDRAC rebooted the server by itself (Immediate apply time).
    AutoReboot,
}

impl SimJob {
    /// A firmware update job for `image` (a URI or file name). Names containing "fail" end
    /// Failed, "partial" CompletedWithErrors; "reboot" waits in RebootPending once.
    pub fn firmware_update(id: String, image: &str) -> SimJob {
        let lower = image.to_ascii_lowercase();
        let outcome = if lower.contains("fail") {
            "Failed"
        } else if lower.contains("partial") {
            "CompletedWithErrors"
        } else {
            "Completed"
        };
        SimJob {
            id,
            name: "Firmware Update: Repository update".into(),
            job_type: "FirmwareUpdate".into(),
            state: "New".into(),
            percent: 0,
            message: "Task successfully scheduled.".into(),
            message_id: "JCP001".into(),
            outcome: outcome.into(),
            needs_reboot: lower.contains("reboot"),
            target: None,
            rebooted: false,
            immediate: false,
            looks_per_state: 1,
            looks: 0,
            wsman: false,
        }
    }

    /// `InstallFromURI`: a job downloading the package for `fqdd`. It stays `Downloading`
    /// until the download ends ([`SimJob::downloaded`]), then waits in `Downloaded` until
    /// `SetupJobQueue` schedules it, then in `Scheduled` until the server reboots.
    pub fn install_from_uri(id: String, fqdd: &str, outcome: JobOutcome) -> SimJob {
        SimJob {
            name: format!("Firmware Update: {fqdd}"),
            state: "Downloading".into(),
            percent: 0,
            message: "Downloading the update package.".into(),
            message_id: "RED003".into(),
            outcome: match outcome {
                JobOutcome::CompletedWithErrors => "Completed with Errors".into(),
                o => o.state().into(),
            },
            needs_reboot: true,
            wsman: true,
            ..SimJob::firmware_update(id, "")
        }
    }

    /// `CreateRebootJob`: a reboot job (`RID_…`), not scheduled yet.
    pub fn reboot(id: String, reboot_type: &str) -> SimJob {
        SimJob {
            name: format!("Reboot{reboot_type}"),
            job_type: "RebootNoForce".into(),
            state: "Reboot Pending".into(),
            message: "Reboot is pending.".into(),
            message_id: "RED035".into(),
            wsman: true,
            ..SimJob::firmware_update(id, "")
        }
    }

    /// The download of an `InstallFromURI` job ended: the package's manifest (it installs
    /// what it says), or why it could not be used.
    pub fn downloaded(&mut self, package: Result<ImageManifest, String>) {
        if self.state != "Downloading" {
            return;
        }
        match package {
            Ok(m) => {
                self.target = Some(m);
                self.state = "Downloaded".into();
                self.percent = 0;
                self.message = "Package successfully downloaded.".into();
                self.message_id = "RED002".into();
            }
            Err(why) => self.fail(&why),
        }
    }

    /// `SetupJobQueue` put this update job in the queue.
    pub fn schedule(&mut self) {
        self.state = "Scheduled".into();
        self.message = "Task successfully scheduled.".into();
        self.message_id = "JCP001".into();
    }

    /// The reboot job ran.
    pub fn reboot_completed(&mut self) {
        self.state = "Reboot Completed".into();
        self.percent = 100;
        self.message = "Reboot is complete.".into();
        self.message_id = "RED030".into();
    }

    /// A firmware update job installing what `manifest` says; `on_reset`: applied at the
    /// next reset even for components that need no host reboot.
    pub fn install(
        id: String,
        manifest: ImageManifest,
        outcome: JobOutcome,
        on_reset: bool,
        looks_per_state: u32,
    ) -> SimJob {
        let needs_reboot = on_reset || needs_host_reboot(&manifest.fqdd);
        SimJob {
            name: format!("Firmware Update: {}", manifest.fqdd),
            outcome: outcome.state().into(),
            needs_reboot,
            immediate: !on_reset,
            looks_per_state: looks_per_state.max(1),
            target: Some(manifest),
            ..SimJob::firmware_update(id, "")
        }
    }

    /// Running in the iDRAC's sense: not finished and not staged, waiting for the server's
    /// restart (Scheduled after its download, RebootPending; WSMan: Downloaded, Scheduled).
    /// A new update is refused with RAC0679 only while a job is busy: staging several
    /// updates for one restart is how Dell's own tools update a server.
    pub fn is_busy(&self) -> bool {
        let staged = match self.state.as_str() {
            "RebootPending" => true,
            "Scheduled" => self.wsman || self.target.is_some(),
            "Downloaded" => self.wsman,
            _ => false,
        };
        !self.is_finished() && !staged
    }

    pub fn is_finished(&self) -> bool {
        matches!(
            self.state.as_str(),
            "Completed"
                | "CompletedWithErrors"
                | "Completed with Errors"
                | "Failed"
                | "Reboot Completed"
                | "Reboot Failed"
        )
    }

    /// Mark the job to fail now (e.g. an image for a component the server does not have).
    pub fn fail(&mut self, message: &str) {
        self.state = "Failed".into();
        self.percent = 100;
        self.message = message.into();
        self.message_id = "RED007".into();
    }

    /// One step forward (each time someone looks at the job: deterministic, no clocks).
    pub fn advance(&mut self) -> JobEffect {
        if self.wsman {
            return self.advance_wsman();
        }
        if self.target.is_some() {
            return self.advance_install();
        }
        let next = match self.state.as_str() {
            "New" => "Scheduled",
            "Scheduled" => "Downloading",
            "Downloading" => "Downloaded",
            "Downloaded" if self.needs_reboot => "RebootPending",
            "Downloaded" | "RebootPending" => "Running",
            "Running" => self.outcome.as_str(),
            done => done,
        }
        .to_owned();
        self.enter(next);
        JobEffect::None
    }

    /// A lab image's job: New → Downloading → Downloaded → [Scheduled → RebootPending, until
    /// the server resets] → Running → outcome.
    fn advance_install(&mut self) -> JobEffect {
        if self.is_finished() {
            return JobEffect::None;
        }
        self.looks += 1;
        if self.looks < self.looks_per_state {
            return JobEffect::None;
        }
        let mut effect = JobEffect::None;
        let next = match self.state.as_str() {
            "New" => "Downloading",
            "Downloading" => "Downloaded",
            "Downloaded" if self.needs_reboot => "Scheduled",
            "Downloaded" => "Running",
            "Scheduled" => "RebootPending",
            "RebootPending" if self.rebooted => "Running",
            "RebootPending" if self.immediate => {
                self.rebooted = true;
                effect = JobEffect::AutoReboot;
                "RebootPending"
            }
            "RebootPending" => "RebootPending",
            "Running" => {
                if self.outcome == "Completed" {
                    if let Some(m) = &self.target {
                        effect = JobEffect::Install(m.clone());
                    }
                }
                self.outcome.as_str()
            }
            done => done,
        }
        .to_owned();
        if next != self.state {
            self.looks = 0;
        }
        self.enter(next);
        effect
    }

    /// A WSMan job moves by itself only once scheduled and rebooted: `Scheduled` → `Running`
    /// → its outcome (a completed one installs its package). Downloads and scheduling move it
    /// otherwise; a reboot job ends when the reboot runs.
    fn advance_wsman(&mut self) -> JobEffect {
        match self.state.as_str() {
            "Scheduled" if self.rebooted => {
                self.state = "Running".into();
                self.percent = 50;
                self.message = "Job in progress.".into();
                self.message_id = "PR20".into();
                JobEffect::None
            }
            "Running" => {
                self.state = self.outcome.clone();
                self.percent = 100;
                (self.message, self.message_id) = match self.state.as_str() {
                    "Completed" => ("Job completed successfully.".into(), "PR19".into()),
                    "Failed" => ("Unable to complete the firmware update operation.".into(), "RED007".into()),
                    _ => ("Job completed with errors.".into(), "SUP0516".into()),
                };
                match (&self.target, self.state.as_str()) {
                    (Some(m), "Completed") => JobEffect::Install(m.clone()),
                    _ => JobEffect::None,
                }
            }
            _ => JobEffect::None,
        }
    }

    fn enter(&mut self, next: String) {
        self.percent = match next.as_str() {
            "New" | "Scheduled" => 0,
            "Downloading" => 20,
            "Downloaded" | "RebootPending" => 40,
            "Running" => 70,
            _ => 100,
        };
        (self.message, self.message_id) = match next.as_str() {
            "Completed" => ("The specified job has completed successfully.".into(), "PR19".into()),
            "CompletedWithErrors" => ("Job completed with errors.".into(), "SUP0516".into()),
            "Failed" => ("Unable to complete the firmware update operation.".into(), "RED007".into()),
            "RebootPending" => ("Task successfully scheduled. Reboot the server to apply.".into(), "JCP001".into()),
            "Running" => ("Job in progress.".into(), "PR20".into()),
            "Downloading" if self.target.is_some() => ("Downloading the update package.".into(), "RED003".into()),
            "Downloaded" if self.target.is_some() => ("The update package was downloaded.".into(), "RED002".into()),
            _ => (self.message.clone(), self.message_id.clone()),
        };
        self.state = next;
    }
}
