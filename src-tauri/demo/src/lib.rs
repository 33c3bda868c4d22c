//! # eio-demo — the demo lab wired to EIO: a newcomer sees a working product in one command
//!
//! What `eio demo` runs, and what the desktop's "Try the demo lab" button calls
//! ([`Demo::start`], then [`Demo::run_until`] with the window's close as the stop signal).
//!
//! Owns bringing up the demo lab ([`eio_lab::estate`]: simulated vCenters, iDRACs and an
//! OpenManage Enterprise on loopback) and wiring EIO to it the way an operator would —
//! through the same services and connectors as production: a worker key, service
//! identities and sources with pinned certificates, a full sync over HTTPS, sites and
//! prefixes, site inference and findings, and one maintenance-mode job submitted by a demo
//! operator that waits for approval. Then it keeps the lab alive until Ctrl-C: the job
//! worker pool and the vCenter change watchers run in this process (as `eio serve` and
//! `eio sync --watch` do), a VM powers on or off every 20–40 s, and one host's evacuation is
//! blocked so the maintenance gate can be tried.
//!
//! It never writes inventory to the database itself, never prints a password, and never
//! removes anything but its own sources, sites and prefixes (`--reset`). Its sources are
//! marked `demo_lab`: it pauses (disables) them when it stops and resumes them when it
//! starts, and never touches a source an operator added. The lab's ports and
//! certificate are remembered in `<data dir>/demo/lab.json`, so the sources registered by
//! one run work for the next.
//!
//! This file holds [`Demo`] (start, run) and what it reports; `state` is the remembered lab,
//! `setup` the wiring (worker key, geography, sources, first iDRAC sync) and `--reset`, `job`
//! the demo users and their job awaiting approval, `churn` the VMs powering on and off.
mod churn;
mod job;
mod setup;
mod state;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use eio_core::config::{Config, DatabaseChoice};
use eio_core::ipam::findings::{self, FindingFilter};
use eio_core::sites;
use eio_core::sources::{self, SourceKind};
use eio_core::{inventory, Database, Error};
use eio_engine::jobs::{Worker, WorkerConfig};
use eio_engine::sync::{dell, vcenter, Syncer};
use eio_lab::estate::{self, Estate, EstateLab};
use serde::Serialize;
use tokio::sync::watch;

use churn::Churn;
use job::pending_job;
use setup::{geography, register_sources, reset_demo_data, sync_demo_idracs, worker_key};
use state::lab_state;

/// The line (prefix) the demo prints on stdout once everything is set up.
pub const READY: &str = "EIO demo ready";

/// The demo operator who submits the job waiting for approval.
pub const OPERATOR_EMAIL: &str = "operator@demo.eio.example";
/// A demo approver (anyone but the operator may approve; the local login can too).
pub const APPROVER_EMAIL: &str = "approver@demo.eio.example";

/// How to run the demo.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Cancel the demo's open jobs, drop its sites and prefixes, and set everything up again.
    pub reset: bool,
    /// This worker's key file (None: the data directory's, or the OS keyring).
    pub key_file: Option<PathBuf>,
    /// Run a job worker pool in [`Demo::run_until`] (false when the caller runs its own, as
    /// a desktop with local workers does).
    pub run_worker: bool,
    /// `worker` for `eio demo`, `desktop` for the app's local workers.
    pub worker_mode: &'static str,
    /// A random VM powers on or off every `churn_every` to 2×`churn_every`.
    pub churn_every: Duration,
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions {
            reset: false,
            key_file: None,
            run_worker: true,
            worker_mode: "desktop",
            churn_every: Duration::from_secs(20),
        }
    }
}

/// What the demo set up: printed, and returned to callers (the desktop's first-run screen).
#[derive(Debug, Clone, Serialize)]
pub struct DemoReport {
    pub ready: bool,
    /// Where the data is (never with a password).
    pub database: String,
    pub data_dir: PathBuf,
    pub vcenters: Vec<LabEndpoint>,
    pub ome: LabEndpoint,
    pub idracs: usize,
    pub counts: DemoCounts,
    /// Open findings by type.
    pub findings: BTreeMap<String, i64>,
    pub job_awaiting_approval: Option<uuid::Uuid>,
    pub blocked_host: String,
    pub blocked_vm: String,
    pub operator: String,
    /// Sources that failed their first sync (name: error).
    pub sync_failures: Vec<String>,
    pub startup_ms: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct LabEndpoint {
    pub name: String,
    pub url: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct DemoCounts {
    pub regions: usize,
    pub sites: usize,
    pub prefixes: usize,
    pub vcenters: usize,
    pub clusters: usize,
    pub hosts: usize,
    pub vms: usize,
    pub servers: usize,
    pub noncompliant_servers: usize,
}

/// A running demo: the lab, the database, and this machine's worker.
pub struct Demo {
    pub report: DemoReport,
    options: DemoOptions,
    db: Database,
    syncer: Syncer,
    lab: EstateLab,
}

const OME_NAME: &str = "ome-lab";

impl Demo {
    /// Set everything up; `progress` hears each step.
    pub async fn start(config: &Config, options: DemoOptions, progress: impl Fn(&str)) -> Result<Demo, Error> {
        let reset = options.reset;
        let started = Instant::now();
        let estate = Estate::demo();

        progress("opening the database");
        if matches!(config.database, DatabaseChoice::Embedded) {
            eio_core::db::migrate(config).await?;
        }
        let db = Database::open(config).await?;
        db.require_current_schema().await?;
        eio_core::identity::record_login(&db, "eio-demo").await;
        if !eio_core::identity::me(&db).await?.may.manage_service_identities {
            return Err(Error::forbidden(
                "the demo sets up sources, sites and users: run it as an admin (the embedded default's local login is one)",
            ));
        }
        if reset {
            progress("dropping the previous demo's data");
            reset_demo_data(&db, &estate).await?;
        }

        let (state, cert) = lab_state(config, &estate)?;
        progress("starting the lab (2 vCenters, 60 iDRACs, an OpenManage Enterprise)");
        let lab = estate::start(estate, &state.ports, &cert)
            .await
            .map_err(|e| Error::internal(format!("the demo lab did not start: {e}")))?;

        progress("worker key");
        let key = worker_key(config, options.key_file.as_deref(), &db).await?;
        let syncer = Syncer::new(db.clone(), key, worker_name());

        progress("regions, sites, rules and prefixes");
        geography(&db, &lab.estate).await?;
        progress("service identities and sources (certificates pinned)");
        register_sources(&db, &lab).await?;
        // Resume the sources a previous run paused when it stopped.
        sources::set_demo_lab_enabled(&db, true).await?;

        progress("first sync (OME, vCenters, iDRACs) over HTTPS");
        let mut reports = dell::sync_omes(&syncer, Some(OME_NAME)).await?;
        for vc in &lab.estate.vcenters {
            reports.extend(vcenter::sync_vcenters(&syncer, Some(&vc.name)).await?);
        }
        reports.extend(sync_demo_idracs(&syncer, &lab.estate).await?);
        let sync_failures: Vec<String> = reports
            .iter()
            .filter(|r| r.outcome != eio_engine::sync::ledger::Outcome::Succeeded)
            .map(|r| format!("{}: {}", r.source_name, r.error.clone().unwrap_or_else(|| "partial".into())))
            .collect();

        progress("site inference and findings");
        sites::infer(&db).await?;
        findings::run(&db, None).await?;

        progress("demo users and a maintenance job awaiting approval");
        let job = pending_job(config, &db, &lab.estate).await?;

        let report = report(config, &db, &lab, job, sync_failures, started).await?;
        Ok(Demo { report, options, db, syncer, lab })
    }

    /// Keep the lab living until `stop` resolves: the job worker pool, the vCenter watchers,
    /// and a VM powering on or off now and then; `events` hears what the lab did (and what
    /// went wrong in the background).
    pub async fn run_until(
        self,
        stop: impl std::future::Future<Output = ()>,
        events: impl Fn(&str) + Send + Sync + 'static,
    ) -> Result<(), Error> {
        let events = std::sync::Arc::new(events);
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut tasks = tokio::task::JoinSet::new();
        let mut cfg = WorkerConfig::new(worker_name(), self.options.worker_mode);
        cfg.slots = 4;
        cfg.task_poll = Duration::from_millis(500);
        let worker = Worker::new(self.syncer.clone(), cfg);
        if self.options.run_worker {
            let (s, events) = (stop_rx.clone(), events.clone());
            tasks.spawn(async move {
                if let Err(e) = worker.run(s).await {
                    events(&format!("the worker stopped: {}", e.message));
                }
            });
        }
        let churn_every = self.options.churn_every.max(Duration::from_millis(100));
        for vc in &self.lab.estate.vcenters {
            let source = eio_engine::sync::sources(&self.db, SourceKind::Vcenter, Some(&vc.name)).await?;
            for source in source {
                let (syncer, s, events) = (self.syncer.clone(), stop_rx.clone(), events.clone());
                tasks.spawn(async move {
                    if let Err(e) = vcenter::watch(&syncer, &source, s).await {
                        events(&format!("watching {} stopped: {}", source.name, e.message));
                    }
                });
            }
        }
        let lab = std::sync::Arc::new(self.lab);
        {
            let (lab, mut s, events) = (lab.clone(), stop_rx.clone(), events.clone());
            tasks.spawn(async move {
                let mut churn = Churn::new(&lab);
                loop {
                    let wait =
                        churn_every + Duration::from_millis(churn.next() % (churn_every.as_millis() as u64).max(1));
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = s.changed() => return,
                    }
                    match churn.toggle(&lab).await {
                        Ok(Some(what)) => events(&what),
                        Ok(None) => {}
                        Err(e) => events(&format!("the lab could not change a VM's power: {e}")),
                    }
                }
            });
        }
        stop.await;
        let _ = stop_tx.send(true);
        while tasks.join_next().await.is_some() {}
        drop(lab);
        // The lab is gone: pause its sources, so syncs don't fail on them until it is back.
        sources::set_demo_lab_enabled(&self.db, false).await?;
        events("demo lab stopped: its sources are paused until it runs again");
        Ok(())
    }
}

/// `host:pid`: who ran a sync or holds a lease.
fn worker_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").map(|s| s.trim().to_owned()).unwrap_or_default();
    format!("{}:{}", if host.is_empty() { "eio" } else { &host }, std::process::id())
}

async fn report(
    config: &Config,
    db: &Database,
    lab: &EstateLab,
    job: Option<uuid::Uuid>,
    sync_failures: Vec<String>,
    started: Instant,
) -> Result<DemoReport, Error> {
    let e = &lab.estate;
    let servers = inventory::servers(db).await?;
    let mut by_type: BTreeMap<String, i64> = BTreeMap::new();
    for f in findings::list(db, &FindingFilter { limit: Some(100_000), ..Default::default() }).await? {
        *by_type.entry(f.kind.as_str().to_owned()).or_default() += 1;
    }
    let counts = DemoCounts {
        regions: e.regions().len(),
        sites: e.sites.len(),
        prefixes: e.prefixes.len(),
        vcenters: e.vcenters.len(),
        clusters: e.clusters(),
        hosts: inventory::hosts(db).await?.len(),
        vms: inventory::vms(db, None, 1_000_000).await?.len(),
        servers: servers.len(),
        noncompliant_servers: servers.iter().filter(|s| s.noncompliant_components > 0).count(),
    };
    Ok(DemoReport {
        ready: true,
        database: db.target().describe(),
        data_dir: config.data_dir.clone(),
        vcenters: e
            .vcenters
            .iter()
            .zip(&lab.vcenters)
            .map(|(v, sim)| LabEndpoint { name: v.name.clone(), url: sim.sdk_url.clone() })
            .collect(),
        ome: LabEndpoint {
            name: OME_NAME.into(),
            url: lab.dell.ome.as_ref().map(|o| o.url.to_string()).unwrap_or_default(),
        },
        idracs: lab.dell.bmcs.len(),
        counts,
        findings: by_type,
        job_awaiting_approval: job,
        blocked_host: e.blocked.host.clone(),
        blocked_vm: e.blocked.vm.clone(),
        operator: OPERATOR_EMAIL.into(),
        sync_failures,
        startup_ms: started.elapsed().as_millis() as u64,
    })
}
