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
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use eio_connectors::http::TlsPolicy;
use eio_connectors::vcenter::{Session, VcenterConfig};
use eio_core::config::{Config, DatabaseChoice};
use eio_core::error::ErrorCode;
use eio_core::identity::keystore;
use eio_core::identity::sealing::WorkerKey;
use eio_core::identity::service_identities as ids;
use eio_core::identity::users::{self, NewUser, UserRole};
use eio_core::ipam::findings::{self, FindingFilter};
use eio_core::ipam::prefixes::{self, NewPrefix, PrefixStatus};
use eio_core::jobs::{self, JobSpec, MaintenanceTarget, SubmitRequest};
use eio_core::sites::{self, NewSite, NewSiteRule, RuleMatch};
use eio_core::sources::{self, IdentityChoice, NewSource, SourceKind, TlsChoice};
use eio_core::{inventory, Database, Error};
use eio_engine::jobs::{Worker, WorkerConfig};
use eio_engine::sync::{dell, vcenter, Syncer};
use eio_lab::estate::{self, Estate, EstateLab, LabPorts};
use eio_lab::tls::LabCert;
use eio_secret::{Credentials, Secret};
use serde::Serialize;
use tokio::sync::watch;

/// The line (prefix) the demo prints on stdout once everything is set up.
pub const READY: &str = "EIO demo ready";

/// The demo operator who submits the job waiting for approval.
pub const OPERATOR_EMAIL: &str = "operator@demo.eio.example";
const OPERATOR_LOGIN: &str = "eio_demo_operator";
/// A demo approver (anyone but the operator may approve; the local login can too).
pub const APPROVER_EMAIL: &str = "approver@demo.eio.example";
const APPROVER_LOGIN: &str = "eio_demo_approver";

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

/// What `<data dir>/demo/lab.json` remembers between runs.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
struct LabState {
    ports: LabPorts,
    /// The lab certificate and its key, DER as hex (a lab's throwaway key, not a credential).
    cert_der: String,
    key_der: String,
}

fn state_path(config: &Config) -> PathBuf {
    config.data_dir.join("demo").join("lab.json")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

/// The remembered lab (or a new one: nothing remembered, or unreadable).
fn lab_state(config: &Config, estate: &Estate) -> Result<(LabState, LabCert), Error> {
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

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), Error> {
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

/// A running demo: the lab, the database, and this machine's worker.
pub struct Demo {
    pub report: DemoReport,
    options: DemoOptions,
    db: Database,
    syncer: Syncer,
    lab: EstateLab,
}

/// Treat "already exists" as done (set-up steps are repeated on every start).
fn done_if_exists<T>(r: Result<T, Error>) -> Result<(), Error> {
    match r {
        Ok(_) => Ok(()),
        Err(e) if e.code == ErrorCode::Conflict => Ok(()),
        Err(e) => Err(e),
    }
}

/// The source name of the iDRAC of host `i`: `idrac-esx-fra-01`.
fn idrac_name(estate: &Estate, i: usize) -> String {
    format!("idrac-{}", estate.hosts[i].name.split('.').next().unwrap_or_default())
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

/// Powers random VMs on and off through the vCenter API, as someone in vCenter would.
struct Churn {
    state: u64,
    sessions: Vec<Option<Session>>,
}

impl Churn {
    fn new(lab: &EstateLab) -> Churn {
        let mut seed = [0u8; 8];
        let _ = getrandom::fill(&mut seed);
        Churn { state: u64::from_le_bytes(seed) | 1, sessions: lab.vcenters.iter().map(|_| None).collect() }
    }

    /// xorshift64*
    fn next(&mut self) -> u64 {
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    async fn toggle(&mut self, lab: &EstateLab) -> Result<Option<String>, String> {
        let e = &lab.estate;
        let candidates: Vec<&estate::EstateVm> = e
            .vms
            .iter()
            .filter(|v| v.moid != e.blocked.vm_moid || v.vcenter != e.blocked.vcenter)
            .filter(|v| !e.hosts.iter().any(|h| h.vcenter == v.vcenter && h.moid == v.host && h.in_maintenance_mode))
            .collect();
        if candidates.is_empty() {
            return Ok(None);
        }
        let vm = candidates[(self.next() % candidates.len() as u64) as usize];
        let lab_vc = &lab.vcenters[vm.vcenter];
        let Some(power) = lab_vc.vm_power(&vm.moid) else { return Ok(None) };
        if self.sessions[vm.vcenter].is_none() {
            let url = url::Url::parse(&lab_vc.sdk_url).map_err(|e| e.to_string())?;
            let mut cfg = VcenterConfig::new(url, Credentials::new(lab_vc.username(), Secret::new(lab_vc.password())));
            cfg.http.tls = TlsPolicy::Pinned(lab_vc.thumbprint);
            self.sessions[vm.vcenter] = Some(Session::login(&cfg).await.map_err(|e| e.to_string())?);
        }
        let Some(session) = self.sessions[vm.vcenter].as_ref() else { return Ok(None) };
        let on = power != "poweredOn";
        let task = if on { session.power_on_vm(&vm.moid).await } else { session.power_off_vm(&vm.moid).await };
        match task {
            Ok(task) => {
                let _ = session.wait_for_task(&task, Duration::from_secs(30)).await;
                Ok(Some(format!("lab: {} powered {}", vm.name, if on { "on" } else { "off" })))
            }
            Err(err) => {
                // Log in again next time (the session may have expired).
                self.sessions[vm.vcenter] = None;
                Err(err.to_string())
            }
        }
    }
}

/// `host:pid`: who ran a sync or holds a lease.
fn worker_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").map(|s| s.trim().to_owned()).unwrap_or_default();
    format!("{}:{}", if host.is_empty() { "eio" } else { &host }, std::process::id())
}

/// This machine's worker key, created (and trusted) on first use; in the OS keyring when
/// one answers, else in the data directory's key file.
async fn worker_key(config: &Config, key_file: Option<&Path>, db: &Database) -> Result<WorkerKey, Error> {
    let mut location = keystore::locate(config, key_file);
    let loaded = match keystore::load(&location).await {
        Err(e) if matches!(location, keystore::KeyLocation::Keyring { .. }) && e.code != ErrorCode::NotFound => {
            // The demo lab is throwaway and must start on a headless machine: it keeps its
            // key in the data directory's key file, and says so.
            location = keystore::KeyLocation::File(keystore::default_key_file(config));
            eprintln!(
                "eio demo: no Secret Service (OS keyring) here: the demo keeps its worker key in {location} \
                 (mode 0600); a real instance names its key file with --key-file"
            );
            keystore::load(&location).await
        }
        other => other,
    };
    let key = match loaded {
        Ok(k) => k,
        Err(e) if e.code == ErrorCode::NotFound => {
            let key = WorkerKey::generate();
            keystore::save(&location, &key, false).await?;
            key
        }
        Err(e) => return Err(e),
    };
    ids::trust_worker_key(db, &key.public_key(), "eio demo").await?;
    Ok(key)
}

async fn geography(db: &Database, estate: &Estate) -> Result<(), Error> {
    for (code, name) in estate.regions() {
        done_if_exists(sites::add_region(db, code, name).await)?;
    }
    for s in &estate.sites {
        done_if_exists(sites::add_country(db, &s.country, &s.region, &s.country_name).await)?;
        done_if_exists(
            sites::add(
                db,
                &NewSite {
                    code: s.code.clone(),
                    country: s.country.clone(),
                    name: Some(s.name.clone()),
                    timezone: Some(s.timezone.clone()),
                    status: None,
                },
            )
            .await,
        )?;
    }
    let rules = sites::rules(db).await?;
    for s in &estate.sites {
        let pattern = format!("^{}(-|$)", s.datacenter);
        if !rules.iter().any(|r| r.site == s.code && r.pattern.as_deref() == Some(pattern.as_str())) {
            done_if_exists(
                sites::add_rule(
                    db,
                    &NewSiteRule {
                        site: s.code.clone(),
                        rule: RuleMatch::Vcenter(pattern),
                        confidence: None,
                        description: Some(format!("the {} datacenter and its clusters (demo)", s.datacenter)),
                    },
                )
                .await,
            )?;
        }
    }
    for p in &estate.prefixes {
        done_if_exists(
            prefixes::add(
                db,
                &NewPrefix {
                    domain: None,
                    cidr: p.cidr.parse()?,
                    site: Some(p.site.clone()),
                    vlan_id: p.vlan,
                    status: PrefixStatus::Active,
                    description: Some(p.description.clone()),
                    utilization_threshold: None,
                },
            )
            .await,
        )?;
    }
    Ok(())
}

/// Add (or keep) one source: kept when it already points at `url` with `thumbprint`,
/// replaced when the lab moved.
async fn ensure_source(db: &Database, new: NewSource, thumbprint: &str) -> Result<(), Error> {
    match sources::get(db, new.kind, &new.name).await {
        Ok(s)
            if s.url == sources::normalize_url(new.kind, &new.url, false)?
                && s.thumbprint_sha256.as_deref() == Some(thumbprint) =>
        {
            // Sources a previous run added are the lab's too.
            return sources::mark_demo_lab(db, new.kind, &new.name).await;
        }
        Ok(_) => sources::remove(db, new.kind, &new.name, false).await.map(|_| ()).map_err(|e| {
            e.context(format!(
                "the demo lab moved, and its {} source {} could not be replaced",
                new.kind.as_str(),
                new.name
            ))
        })?,
        Err(e) if e.code == ErrorCode::NotFound => {}
        Err(e) => return Err(e),
    }
    let (kind, name) = (new.kind, new.name.clone());
    sources::add(db, &new).await?;
    sources::mark_demo_lab(db, kind, &name).await
}

async fn identity_choice(db: &Database, name: &str, credentials: Credentials) -> Result<IdentityChoice, Error> {
    match ids::get(db, name).await {
        Ok(_) => Ok(IdentityChoice::Existing(name.to_owned())),
        Err(e) if e.code == ErrorCode::NotFound => {
            Ok(IdentityChoice::New { name: Some(name.to_owned()), credentials, rotation_period_days: 90 })
        }
        Err(e) => Err(e),
    }
}

async fn register_sources(db: &Database, lab: &EstateLab) -> Result<(), Error> {
    let e = &lab.estate;
    for (v, vc) in e.vcenters.iter().enumerate() {
        let sim = &lab.vcenters[v];
        let thumbprint = sources::normalize_thumbprint(&sim.thumbprint.to_string())?;
        let creds = Credentials::new(sim.username(), Secret::new(sim.password()));
        let site = (vc.datacenter_sites.len() == 1).then(|| e.sites[vc.datacenter_sites[0]].code.clone());
        let new = NewSource {
            kind: SourceKind::Vcenter,
            name: vc.name.clone(),
            url: sim.sdk_url.clone(),
            identity: identity_choice(db, &format!("demo-{}", vc.name), creds).await?,
            tls: TlsChoice { thumbprint: Some(thumbprint.clone()), insecure: false },
            site,
            driver: None,
        };
        ensure_source(db, new, &thumbprint).await?;
    }
    let dell_creds = lab.dell.credentials();
    if let Some(ome) = &lab.dell.ome {
        let thumbprint = sources::normalize_thumbprint(&ome.thumbprint.to_string())?;
        let new = NewSource {
            kind: SourceKind::Ome,
            name: OME_NAME.into(),
            url: ome.url.to_string(),
            identity: identity_choice(db, "demo-ome", dell_creds.clone()).await?,
            tls: TlsChoice { thumbprint: Some(thumbprint.clone()), insecure: false },
            site: None,
            driver: None,
        };
        ensure_source(db, new, &thumbprint).await?;
    }
    for (i, bmc) in lab.dell.bmcs.iter().enumerate() {
        let Some(t) = bmc.thumbprint else { continue };
        let thumbprint = sources::normalize_thumbprint(&t.to_string())?;
        let new = NewSource {
            kind: SourceKind::Idrac,
            name: idrac_name(e, i),
            url: bmc.url.to_string(),
            identity: identity_choice(db, "demo-idrac-fleet", dell_creds.clone()).await?,
            tls: TlsChoice { thumbprint: Some(thumbprint.clone()), insecure: false },
            site: Some(e.sites[e.hosts[i].site].code.clone()),
            driver: None,
        };
        ensure_source(db, new, &thumbprint).await?;
    }
    Ok(())
}

/// Sync the demo's iDRACs (all of them at once, as `eio sync` does a fleet).
async fn sync_demo_idracs(syncer: &Syncer, estate: &Estate) -> Result<Vec<eio_engine::sync::ledger::RunReport>, Error> {
    let names: std::collections::HashSet<String> = (0..estate.servers()).map(|i| idrac_name(estate, i)).collect();
    let all = sources::list(&syncer.db).await?;
    if all.iter().filter(|s| s.kind == SourceKind::Idrac).all(|s| names.contains(&s.name)) {
        return dell::sync_idracs(syncer, None).await;
    }
    // Other iDRACs are registered too: sync only the demo's.
    let mut reports = Vec::new();
    for source in eio_engine::sync::sources(&syncer.db, SourceKind::Idrac, None).await? {
        if names.contains(&source.name) {
            reports.push(dell::sync_idrac(syncer, &source).await?);
        }
    }
    dell::refresh_mappings(syncer).await?;
    Ok(reports)
}

/// The demo users, and the one maintenance job the demo operator submitted that waits for
/// approval (kept if it is still waiting from an earlier run).
async fn pending_job(config: &Config, db: &Database, estate: &Estate) -> Result<Option<uuid::Uuid>, Error> {
    let password = demo_password()?;
    for (email, login, role, caps, name) in [
        (OPERATOR_EMAIL, OPERATOR_LOGIN, UserRole::Operator, vec!["maintenance_mode".to_owned()], "Demo Operator"),
        (APPROVER_EMAIL, APPROVER_LOGIN, UserRole::Approver, vec!["maintenance_mode".to_owned()], "Demo Approver"),
    ] {
        let new = NewUser {
            email: email.into(),
            role,
            login: login.into(),
            capabilities: caps,
            display_name: Some(name.into()),
            password: Some(password.clone()),
        };
        match users::add(db, &new).await {
            Ok(_) => {}
            Err(e) if e.code == ErrorCode::Conflict => users::set_password(db, email, &password).await?,
            // The login outlived an earlier demo database (roles are cluster-wide): link it as
            // it is, then give it this run's password.
            Err(e) if e.code == ErrorCode::Forbidden && e.message.contains("already exists") => {
                match users::add(db, &NewUser { password: None, ..new }).await {
                    Ok(_) => {}
                    Err(e) if e.code == ErrorCode::Conflict => {} // already this database's user
                    Err(e) => return Err(e),
                }
                users::set_password(db, email, &password).await?;
            }
            Err(e) => return Err(e),
        }
    }
    let waiting = jobs::list(db, Some("awaiting_approval"), 200).await?;
    if let Some(j) = waiting.iter().find(|j| j.initiated_by.as_deref() == Some(OPERATOR_EMAIL)) {
        return Ok(Some(j.id));
    }
    let operator = connect_as(config, OPERATOR_LOGIN, &password).await?;
    let b = &estate.blocked;
    let submitted = jobs::submit(
        &operator,
        &SubmitRequest {
            spec: JobSpec::MaintenanceMode(MaintenanceTarget {
                hosts: vec![b.host.clone()],
                cluster: None,
                exit: false,
            }),
            title: Some(format!("Patch window: maintenance mode for {}", b.host)),
            policy_name: None,
            policy: None,
            idempotency_key: None,
            run_at: None,
            schedule: None,
            dry_run: false,
        },
    )
    .await;
    operator.pool().close().await;
    Ok(submitted?.job.map(|j| j.id))
}

/// A throwaway password for the demo logins, new every run (never printed or kept).
fn demo_password() -> Result<Secret, Error> {
    let mut bytes = [0u8; 18];
    getrandom::fill(&mut bytes).map_err(|e| Error::internal(format!("no randomness: {e}")))?;
    Ok(Secret::new(hex(&bytes)))
}

/// A connection as `login` to the same database.
async fn connect_as(config: &Config, login: &str, password: &Secret) -> Result<Database, Error> {
    let options = match &config.database {
        DatabaseChoice::Embedded => eio_core::db::embedded_connect_options(config, login)?,
        DatabaseChoice::External { url, .. } => {
            let options =
                url.connect_options().username(login).password(password.expose()).application_name("eio-demo");
            eio_core::db::guard_password(&options, true).await?;
            options
        }
    };
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect_with(options)
        .await
        .map_err(|e| Error::from(e).context(format!("connecting as the demo login {login}")))?;
    Ok(Database::from_pool(pool))
}

/// Drop what the demo set up: its open jobs are cancelled (the ledgers keep their history)
/// and its sites and prefixes go (to be added again). Its sources stay: the lab comes back
/// fresh at the same addresses, and the next sync brings their inventory back in step.
async fn reset_demo_data(db: &Database, estate: &Estate) -> Result<(), Error> {
    for j in jobs::list(db, None, 500).await? {
        if j.status.is_open() && j.initiated_by.as_deref() == Some(OPERATOR_EMAIL) {
            let _ = jobs::cancel(db, j.id, "eio demo --reset").await;
        }
    }
    // Children before parents.
    for p in estate.prefixes.iter().rev() {
        match prefixes::remove(db, None, &p.cidr.parse()?).await {
            Ok(()) => {}
            Err(e) if e.code == ErrorCode::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    for s in &estate.sites {
        match sites::remove(db, &s.code).await {
            Ok(()) => {}
            Err(e) if e.code == ErrorCode::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    findings::run(db, None).await?;
    Ok(())
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
