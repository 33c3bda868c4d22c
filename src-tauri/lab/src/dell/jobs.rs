//! One iDRAC's job queue and what changes the server: update jobs (SimpleUpdate, multipart
//! push, WSMan InstallFromURI) that walk Dell's states and install lab images, power actions
//! (`ComputerSystem.Reset`, WSMan RequestPowerStateChange) that reboot the server so
//! waiting jobs run, DeleteJobQueue, WSMan reboot jobs and SetupJobQueue, the HttpPushUri
//! staging area, and the test knobs that make jobs fail, refuse or stall. Every action lands
//! in the BMC's ledger.
use std::sync::atomic::Ordering;

use super::model::{self, ImageManifest, JobOutcome, SimJob};
use super::{guard, BmcState, Refused};

/// Test knobs for the job simulation.
#[derive(Debug, Default)]
pub(super) struct JobKnobs {
    /// The next started jobs end like this (then Completed again).
    pub(super) outcomes: Vec<JobOutcome>,
    /// Refuse this many next update requests with RAC0679, queue or not.
    pub(super) refuse_next: u32,
    /// Looks each state of an install job lasts (0/1: one).
    pub(super) looks_per_state: u32,
    /// The next this many requests are answered 503 (an iDRAC busy or restarting).
    pub(super) unreachable: u32,
    /// After each accepted reset, this many requests are answered 503.
    pub(super) unreachable_after_reset: u32,
    /// After its own firmware installs (the iDRAC restarts itself), this many requests are
    /// answered 503.
    pub(super) unreachable_after_idrac_update: u32,
}

/// An image uploaded to HttpPushUri, waiting for SimpleUpdate.
#[derive(Debug, Clone)]
pub(super) struct Staged {
    /// `Available-<ComponentID>-<Version>__<FQDD>`
    id: String,
    file_name: String,
    manifest: Option<ImageManifest>,
}

impl BmcState {
    /// Start an update job (`action` names how it was asked for): a lab image with a
    /// manifest installs what it says; any other image walks the states by its name.
    /// RAC0679 while another job is busy (staged ones only wait for the restart).
    pub(crate) fn start_update(
        &self,
        action: &str,
        image: &str,
        manifest: Option<ImageManifest>,
        on_reset: bool,
    ) -> Result<SimJob, Refused> {
        let refuse = {
            let mut knobs = guard(&self.knobs);
            let forced = knobs.refuse_next > 0;
            knobs.refuse_next = knobs.refuse_next.saturating_sub(1);
            forced
        };
        let mut jobs = guard(&self.jobs);
        if refuse || jobs.iter().any(SimJob::is_busy) {
            drop(jobs);
            self.record(action, image, None, Some("RAC0679"));
            return Err((
                axum::http::StatusCode::BAD_REQUEST,
                "RAC0679",
                "A job operation is already running. Retry the operation after the existing job is completed.".into(),
            ));
        }
        let n = self.next_id.fetch_add(1, Ordering::Relaxed);
        let id = format!("JID_{:012}", 700_000_000_000u64 + n);
        let job = match manifest {
            Some(m) => {
                let (outcome, looks) = {
                    let mut knobs = guard(&self.knobs);
                    let outcome =
                        if knobs.outcomes.is_empty() { JobOutcome::Completed } else { knobs.outcomes.remove(0) };
                    (outcome, knobs.looks_per_state)
                };
                let applicable = self.spec().firmware(&m.fqdd).is_some_and(|f| f.updateable);
                let mut job = SimJob::install(id, m, outcome, on_reset, looks);
                if !applicable {
                    job.fail("The update package is not applicable to any component of this server.");
                }
                job
            }
            None => SimJob::firmware_update(id, image),
        };
        jobs.push(job.clone());
        drop(jobs);
        self.record(action, image, Some(&job.id), None);
        Ok(job)
    }

    /// Look at a job (which moves it one state on; a completed lab image changes the
    /// firmware inventory).
    pub(crate) fn advance_job(&self, id: &str) -> Option<SimJob> {
        let (seen, effect) = {
            let mut jobs = guard(&self.jobs);
            let job = jobs.iter_mut().find(|j| j.id == id)?;
            let seen = job.clone();
            (seen, job.advance())
        };
        match effect {
            model::JobEffect::None => {}
            model::JobEffect::Install(m) => self.install(&m),
            model::JobEffect::AutoReboot => {
                self.record("AutoReboot", "the iDRAC rebooted the server to apply an Immediate update", Some(id), None);
                self.rebooted();
            }
        }
        Some(seen)
    }

    /// A completed update: the component runs the new version; the old one is the rollback.
    fn install(&self, m: &ImageManifest) {
        let mut spec = self.spec.write().unwrap_or_else(|p| p.into_inner());
        if let Some(item) = spec.firmware.iter_mut().find(|f| f.fqdd == m.fqdd) {
            let old = std::mem::replace(&mut item.version, m.version.clone());
            item.previous_version = Some(old);
        }
        if m.fqdd.starts_with("BIOS.") {
            spec.bios_version = m.version.clone();
        }
        if m.fqdd.starts_with("iDRAC.") {
            spec.idrac_firmware = m.version.clone();
            if spec.server_generation >= 14 {
                spec.lifecycle_controller_version = m.version.clone();
            }
        }
        drop(spec);
        self.etag.fetch_add(1, Ordering::Relaxed);
        if m.fqdd.starts_with("iDRAC.") {
            // It restarts itself to run the new firmware.
            let mut knobs = guard(&self.knobs);
            knobs.unreachable += knobs.unreachable_after_idrac_update;
        }
    }

    /// The server went through POST: jobs waiting for a reboot may run.
    fn rebooted(&self) {
        for j in guard(&self.jobs).iter_mut() {
            if !j.is_finished() {
                j.rebooted = true;
            }
        }
        let mut knobs = guard(&self.knobs);
        knobs.unreachable += knobs.unreachable_after_reset;
    }

    /// `ComputerSystem.Reset`.
    pub(crate) fn reset(&self, reset_type: &str) -> Result<(), Refused> {
        self.power_action("ComputerSystem.Reset", reset_type, reset_type)
    }

    /// WSMan `DCIM_CSPowerManagementService.RequestPowerStateChange`: the PowerState values
    /// Dell's profile lists, as the Redfish reset they amount to; any other is refused the
    /// way the iDRAC refuses a state change (python-dracclient's capture: SYS021).
    pub(crate) fn request_power_state_change(&self, power_state: &str) -> Result<(), Refused> {
        let reset_type = match power_state {
            "2" => "On",
            "5" => "GracefulRestart",
            "8" => "ForceOff",
            "9" => "PowerCycle",
            "10" => "ForceRestart",
            "11" => "Nmi",
            "12" => "GracefulShutdown",
            _ => {
                self.record("RequestPowerStateChange", power_state, None, Some("SYS021"));
                return Err((axum::http::StatusCode::OK, "SYS021", "The command failed to set RequestedState".into()));
            }
        };
        self.power_action("RequestPowerStateChange", power_state, reset_type)
    }

    /// A power action recorded in the ledger as `action` with `detail`, done as the Redfish
    /// `reset_type` does it.
    fn power_action(&self, action: &str, detail: &str, reset_type: &str) -> Result<(), Refused> {
        const ALLOWED: &[&str] = &[
            "On",
            "ForceOff",
            "ForceRestart",
            "GracefulRestart",
            "GracefulShutdown",
            "PushPowerButton",
            "Nmi",
            "PowerCycle",
        ];
        let refuse = |status, id, msg: &str| -> Result<(), Refused> {
            self.record(action, detail, None, Some(id));
            Err((status, id, msg.to_owned()))
        };
        if !ALLOWED.contains(&reset_type) {
            return refuse(
                axum::http::StatusCode::BAD_REQUEST,
                "Base.1.8.ActionParameterValueNotInList",
                &format!("The value {reset_type} for the parameter ResetType is not in the list of acceptable values."),
            );
        }
        let on = self.spec().power_state == "On";
        let (power, booted) = match (reset_type, on) {
            ("On", true) => {
                return refuse(axum::http::StatusCode::CONFLICT, "RAC0509", "The server is already powered on.")
            }
            ("On", false) | ("PushPowerButton", false) => ("On", true),
            ("ForceOff" | "GracefulShutdown" | "PushPowerButton", true) => ("Off", false),
            ("ForceOff" | "GracefulShutdown", false) => ("Off", false),
            ("ForceRestart" | "GracefulRestart" | "PowerCycle", true) => ("On", true),
            ("Nmi", _) => (if on { "On" } else { "Off" }, false),
            _ => {
                return refuse(
                    axum::http::StatusCode::CONFLICT,
                    "RAC0508",
                    "The server is powered off: it cannot be restarted.",
                )
            }
        };
        self.spec.write().unwrap_or_else(|p| p.into_inner()).power_state = power.into();
        self.record(action, detail, None, None);
        if booted {
            self.rebooted();
        }
        Ok(())
    }

    /// `DellJobService.DeleteJobQueue` of one job or `JID_CLEARALL`.
    pub(crate) fn delete_jobs(&self, which: &str) -> Result<(), Refused> {
        let mut jobs = guard(&self.jobs);
        if which == "JID_CLEARALL" {
            jobs.clear();
            guard(&self.staged).clear();
        } else if let Some(i) = jobs.iter().position(|j| j.id == which) {
            jobs.remove(i);
        } else {
            drop(jobs);
            self.record("DeleteJobQueue", which, None, Some("SUP011"));
            return Err((axum::http::StatusCode::BAD_REQUEST, "SUP011", format!("Job ID {which} not found.")));
        }
        drop(jobs);
        self.record("DeleteJobQueue", which, None, None);
        Ok(())
    }

    /// WSMan `InstallFromURI` for the installed `DCIM_SoftwareIdentity` `target`: a job that
    /// downloads `uri` (the caller starts the download and reports it to
    /// [`BmcState::download_finished`]). SUP024 for an unknown instance, SUP007 for a
    /// component that can't be updated.
    pub(crate) fn install_from_uri(&self, target: &str, uri: &str) -> Result<SimJob, Refused> {
        let spec = self.spec();
        let item = spec.firmware.iter().find(|f| target == format!("DCIM:INSTALLED#{}__{}", f.component_id, f.fqdd));
        let refused = |id: &'static str, msg: &str| {
            self.record("InstallFromURI", uri, None, Some(id));
            Err((axum::http::StatusCode::OK, id, msg.to_owned()))
        };
        let Some(item) = item else { return refused("SUP024", "Invalid InstanceID") };
        if !item.updateable {
            return refused("SUP007", "Component is not updateable");
        }
        let outcome = {
            let mut knobs = guard(&self.knobs);
            if knobs.outcomes.is_empty() {
                JobOutcome::Completed
            } else {
                knobs.outcomes.remove(0)
            }
        };
        let n = self.next_id.fetch_add(1, Ordering::Relaxed);
        let job = SimJob::install_from_uri(format!("JID_{:012}", 700_000_000_000u64 + n), &item.fqdd, outcome);
        guard(&self.jobs).push(job.clone());
        self.record("InstallFromURI", uri, Some(&job.id), None);
        Ok(job)
    }

    /// The download of job `id` ended with these bytes (or failed): a package for another
    /// component than the job's, or without a lab manifest, fails the job.
    pub(crate) fn download_finished(&self, id: &str, bytes: Result<Vec<u8>, String>) {
        let mut jobs = guard(&self.jobs);
        let Some(job) = jobs.iter_mut().find(|j| j.id == id) else { return };
        let fqdd = job.name.trim_start_matches("Firmware Update: ").to_owned();
        let package = bytes.and_then(|b| {
            let m = ImageManifest::parse(&b).ok_or_else(|| "The update package is not a valid package.".to_owned())?;
            if m.fqdd != fqdd {
                return Err(format!("The update package is not applicable to {fqdd}."));
            }
            Ok(m)
        });
        job.downloaded(package);
    }

    /// WSMan `CreateRebootJob`: a `RID_…`.
    pub(crate) fn create_reboot_job(&self, reboot_type: &str) -> Result<SimJob, Refused> {
        if !matches!(reboot_type, "1" | "2" | "3") {
            self.record("CreateRebootJob", reboot_type, None, Some("SUP001"));
            return Err((axum::http::StatusCode::OK, "SUP001", "Insufficient Method Parameters".into()));
        }
        let n = self.next_id.fetch_add(1, Ordering::Relaxed);
        let job = SimJob::reboot(format!("RID_{:012}", 700_000_000_000u64 + n), reboot_type);
        guard(&self.jobs).push(job.clone());
        self.record("CreateRebootJob", reboot_type, Some(&job.id), None);
        Ok(job)
    }

    /// WSMan `SetupJobQueue`: the update jobs (each `Downloaded`) are scheduled in order; a
    /// reboot job in the array reboots the server now (`TIME_NOW`), so they run.
    pub(crate) fn setup_job_queue(&self, ids: &[String], start: &str) -> Result<(), Refused> {
        let detail = ids.join(",");
        let refused = |id: &'static str, msg: String| {
            self.record("SetupJobQueue", &detail, None, Some(id));
            Err((axum::http::StatusCode::OK, id, msg))
        };
        if ids.is_empty() || start.is_empty() {
            return refused("SUP001", "Insufficient Method Parameters".into());
        }
        let mut jobs = guard(&self.jobs);
        for id in ids {
            match jobs.iter().find(|j| &j.id == id) {
                None => {
                    drop(jobs);
                    return refused("SUP011", format!("Invalid Job ID {id}"));
                }
                Some(j) if id.starts_with("JID_") && j.state != "Downloaded" => {
                    let state = j.state.clone();
                    drop(jobs);
                    return refused("JCP007", format!("Job {id} cannot be scheduled: it is {state}"));
                }
                Some(j) if id.starts_with("RID_") && j.is_finished() => {
                    drop(jobs);
                    return refused("JCP007", format!("Reboot job {id} already ran"));
                }
                Some(_) => {}
            }
        }
        let mut reboot = None;
        for j in jobs.iter_mut().filter(|j| ids.contains(&j.id)) {
            if j.id.starts_with("RID_") {
                reboot = Some(j.id.clone());
            } else {
                j.schedule();
            }
        }
        drop(jobs);
        self.record("SetupJobQueue", &detail, None, None);
        if let (Some(rid), "TIME_NOW") = (reboot, start) {
            self.record("RebootJob", "the reboot job restarted the server", Some(&rid), None);
            if let Some(j) = guard(&self.jobs).iter_mut().find(|j| j.id == rid) {
                j.reboot_completed();
            }
            self.rebooted();
        }
        Ok(())
    }

    /// An image uploaded to HttpPushUri: staged as `Available-…`, its id returned.
    pub(crate) fn stage(&self, file_name: &str, bytes: &[u8]) -> String {
        let manifest = ImageManifest::parse(bytes);
        let spec = self.spec();
        let n = self.next_id.fetch_add(1, Ordering::Relaxed);
        let id = match &manifest {
            Some(m) => {
                let component = spec.firmware(&m.fqdd).map(|f| f.component_id.clone()).unwrap_or_else(|| "0".into());
                format!("Available-{component}-{}__{}", m.version, m.fqdd)
            }
            None => format!("Available-0-{n}"),
        };
        let mut staged = guard(&self.staged);
        staged.retain(|s| s.id != id);
        staged.push(Staged { id: id.clone(), file_name: file_name.into(), manifest });
        drop(staged);
        self.etag.fetch_add(1, Ordering::Relaxed);
        self.record("HttpPushUpload", file_name, None, None);
        id
    }

    /// The staged image an ImageURI names (`…/FirmwareInventory/Available-…`), removed
    /// from the staging area.
    pub(crate) fn take_staged(&self, uri: &str) -> Option<(String, Option<ImageManifest>)> {
        let id = uri.trim_end_matches('/').rsplit('/').next()?;
        let mut staged = guard(&self.staged);
        let i = staged.iter().position(|s| s.id == id)?;
        let s = staged.remove(i);
        Some((s.file_name, s.manifest))
    }

    /// Staged images: (id, version) for the FirmwareInventory.
    pub(crate) fn staged(&self) -> Vec<(String, String)> {
        guard(&self.staged)
            .iter()
            .map(|s| (s.id.clone(), s.manifest.as_ref().map(|m| m.version.clone()).unwrap_or_else(|| "0".into())))
            .collect()
    }
}
