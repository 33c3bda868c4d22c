//! `eio source …`, `eio sync`, `eio server …` and `eio mapping …`: registering what EIO
//! syncs from, running syncs as this machine's worker, and reading the Dell side.
use std::path::PathBuf;

use clap::{Args, Subcommand};
use eio_core::api::{self, op, NoInput, Session};
use eio_core::config::Config;
use eio_core::identity::keystore;
use eio_core::inventory::ops::{ServerNameInput, VmListInput};
use eio_core::jobs::baselines::{BaselineInput, BaselineNameInput};
use eio_core::pages::servers::ManualMappingInput;
use eio_core::sources::ops::{
    IdracImportInput, NewIdentityInput, SourceAddInput, SourceProbeInput, SourceRemoveInput, SourceUpdateInput,
    TrustInput,
};
use eio_core::sources::{self, SourceKind, TlsMode};
use eio_core::{Database, Error};
use eio_engine::sync::ledger::{Outcome, RunReport};
use eio_engine::sync::{dell, vcenter, Syncer};

use crate::identity_cmds::OptionalPassword;
use crate::output;

#[derive(Debug, Subcommand)]
pub enum SourceCommand {
    /// Register a vCenter, iDRAC or OpenManage Enterprise to sync from (or many iDRACs with --csv)
    Add(Box<SourceAdd>),
    /// List sources with their last sync
    List {
        #[arg(long)]
        json: bool,
    },
    /// Change a source's address, service identity, site or driver
    Edit(SourceEdit),
    /// Sync this source again (its inventory was kept while it was disabled)
    Enable { kind: SourceKind, name: String },
    /// Stop syncing this source; its inventory stays as last synced
    Disable { kind: SourceKind, name: String },
    /// Trust a source's certificate differently: pin (or re-pin after a change), verify, insecure
    Trust(SourceTrust),
    /// Show the certificate an endpoint presents, to decide whether to trust it (sends it nothing)
    Probe {
        kind: SourceKind,
        /// https://vcenter/sdk, https://idrac, https://ome
        url: String,
        /// Compare with the thumbprint this existing source pins
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Remove a source and its cached inventory (its service identity stays)
    Remove {
        kind: SourceKind,
        name: String,
        /// Only say what would go
        #[arg(long)]
        dry_run: bool,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct SourceAdd {
    /// vcenter, idrac or ome
    pub kind: SourceKind,
    /// A short name (vc-prod, r740-01); not needed with --csv
    #[arg(long, required_unless_present = "csv")]
    pub name: Option<String>,
    /// https://vcenter/sdk, https://idrac, https://ome; not needed with --csv
    #[arg(long, required_unless_present = "csv")]
    pub url: Option<String>,
    /// Reuse this existing service identity
    #[arg(long, conflicts_with = "username")]
    pub identity: Option<String>,
    /// Create a service identity with this username (named after the source, or --identity-name)
    #[arg(long)]
    pub username: Option<String>,
    /// Name of the service identity --username creates
    #[arg(long, requires = "username")]
    pub identity_name: Option<String>,
    #[command(flatten)]
    pub password: OptionalPassword,
    /// Pin the endpoint's certificate by its SHA-256 thumbprint (for self-signed certificates)
    #[arg(long, conflicts_with = "insecure")]
    pub thumbprint: Option<String>,
    /// Trust any certificate (and allow plain http): for labs only
    #[arg(long)]
    pub insecure: bool,
    /// Site code (US-EAST-01)
    #[arg(long)]
    pub site: Option<String>,
    /// iDRAC driver: auto (probe), redfish, wsman or racadm
    #[arg(long, default_value = "auto")]
    pub driver: String,
    /// Add many iDRACs from a CSV file with a header: name,url[,site][,driver][,thumbprint]
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
    /// With --csv: check every row and say what would happen, adding nothing
    #[arg(long, requires = "csv")]
    pub preview: bool,
    /// With --csv: print the per-row result as JSON
    #[arg(long, requires = "csv")]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SourceEdit {
    pub kind: SourceKind,
    pub name: String,
    /// A new address
    #[arg(long)]
    pub url: Option<String>,
    /// Authenticate with this existing service identity instead
    #[arg(long)]
    pub identity: Option<String>,
    /// Site code; "" takes the site away
    #[arg(long)]
    pub site: Option<String>,
    /// iDRAC driver: auto (probe), redfish, wsman or racadm
    #[arg(long)]
    pub driver: Option<String>,
}

#[derive(Debug, Args)]
#[group(required = true, multiple = false, id = "trust_mode")]
pub struct TrustMode {
    /// Pin exactly the certificate with this SHA-256 thumbprint (see `eio source probe`)
    #[arg(long)]
    pub thumbprint: Option<String>,
    /// Verify against the system's trusted roots
    #[arg(long)]
    pub verify: bool,
    /// Trust any certificate: for labs only
    #[arg(long)]
    pub insecure: bool,
}

#[derive(Debug, Args)]
pub struct SourceTrust {
    pub kind: SourceKind,
    pub name: String,
    #[command(flatten)]
    pub mode: TrustMode,
}

#[derive(Debug, Subcommand)]
pub enum ServerCommand {
    /// Physical servers: service tag, model, generation, power, health, iDRAC firmware, mapping
    List {
        #[arg(long)]
        json: bool,
    },
    /// A server's firmware, component by component, with its baseline verdict
    Firmware {
        /// Service tag, hostname, iDRAC name or ESXi host name
        server: String,
        #[arg(long)]
        json: bool,
    },
    /// Firmware baselines: defined in EIO, or OpenManage Enterprise's
    #[command(subcommand)]
    Baseline(BaselineCommand),
}

#[derive(Debug, Subcommand)]
pub enum BaselineCommand {
    /// Every baseline: EIO's with their components, then OME's; servers off each
    List {
        #[arg(long)]
        json: bool,
    },
    /// Define a baseline in EIO, or replace the one of that name (admins): a JSON file
    /// {"name", "description", "repository", "components": [{"component", "version",
    /// "package", "reboot_required"}]}
    Define {
        /// The baseline as JSON
        #[arg(long)]
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Remove a baseline defined in EIO (admins)
    Remove {
        name: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum MappingCommand {
    /// Server ↔ ESXi host mappings with method, confidence and status (ambiguities included)
    List {
        #[arg(long)]
        json: bool,
    },
    /// Map a server to a host by hand (always wins, survives resyncs)
    Set {
        /// Service tag, hostname or iDRAC name
        server: String,
        /// ESXi host name
        host: String,
    },
    /// Recompute the automatic mappings now
    Refresh,
}

#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Only the source with this name
    #[arg(long)]
    pub source: Option<String>,
    /// Only sources of this kind
    #[arg(long)]
    pub kind: Option<SourceKind>,
    /// After the full sync, keep applying vCenter changes as they happen (until Ctrl-C)
    #[arg(long)]
    pub watch: bool,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum VmCommand {
    /// VMs with the seed's fields (uuid, name, power_state, has_snapshot, …)
    List {
        /// Narrow to names, guest hostnames or IPs matching this (fuzzy)
        #[arg(long)]
        search: Option<String>,
        /// At most this many rows
        #[arg(long, default_value_t = 1000)]
        limit: i64,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum HostCommand {
    /// ESXi hosts: hardware, state, management IPs, VM count, mapped server
    List {
        #[arg(long)]
        json: bool,
    },
}

pub async fn vm(db: &Database, cmd: VmCommand) -> Result<(), Error> {
    let session = Session::new(db.clone());
    match cmd {
        VmCommand::List { search, limit, json } => {
            output::vms(&api::call::<op::vms>(&session, VmListInput { search, limit: Some(limit) }).await?, json)
        }
    }
}

pub async fn host(db: &Database, cmd: HostCommand) -> Result<(), Error> {
    match cmd {
        HostCommand::List { json } => {
            output::hosts(&api::call::<op::hosts>(&Session::new(db.clone()), NoInput {}).await?, json)
        }
    }
}

pub async fn source(db: &Database, cmd: SourceCommand) -> Result<(), Error> {
    let session = Session::new(db.clone());
    match cmd {
        SourceCommand::Add(add) => source_add(&session, *add).await,
        SourceCommand::List { json } => output::sources(&api::call::<op::sources>(&session, NoInput {}).await?, json),
        SourceCommand::Edit(e) => {
            let s = api::call::<op::source_update>(
                &session,
                SourceUpdateInput {
                    kind: e.kind,
                    name: e.name,
                    url: e.url,
                    identity: e.identity,
                    site: e.site,
                    driver: e.driver,
                    enabled: None,
                    trust: None,
                },
            )
            .await?;
            println!(
                "{} source {}: {} (TLS {}, identity {}, site {}).",
                s.kind.as_str(),
                s.name,
                s.url,
                s.tls,
                s.service_identity,
                s.site.as_deref().unwrap_or("none")
            );
            Ok(())
        }
        SourceCommand::Enable { kind, name } => set_enabled(&session, kind, name, true).await,
        SourceCommand::Disable { kind, name } => set_enabled(&session, kind, name, false).await,
        SourceCommand::Trust(t) => {
            let trust = trust_flags(t.mode.thumbprint, t.mode.insecure);
            let s = api::call::<op::source_update>(
                &session,
                SourceUpdateInput {
                    kind: t.kind,
                    name: t.name,
                    url: None,
                    identity: None,
                    site: None,
                    driver: None,
                    enabled: None,
                    trust: Some(trust),
                },
            )
            .await?;
            println!(
                "{} source {} now trusts {}.",
                s.kind.as_str(),
                s.name,
                match (s.tls, &s.thumbprint_sha256) {
                    (TlsMode::Pinned, Some(t)) => format!("exactly the certificate with SHA-256 {t}"),
                    (TlsMode::Insecure, _) => "any certificate (insecure: for labs only)".to_owned(),
                    _ => "certificates the system's roots verify".to_owned(),
                }
            );
            Ok(())
        }
        SourceCommand::Probe { kind, url, name, json } => {
            let p = api::call::<op::source_probe>(&session, SourceProbeInput { kind, url, name }).await?;
            output::probe(&p, json)
        }
        SourceCommand::Remove { kind, name, dry_run, json } => {
            let r = api::call::<op::source_remove>(&session, SourceRemoveInput { kind, name, dry_run }).await?;
            if json {
                return output::print_json(&r);
            }
            println!("{}", r.summary);
            Ok(())
        }
    }
}

async fn set_enabled(session: &Session, kind: SourceKind, name: String, enabled: bool) -> Result<(), Error> {
    let s = api::call::<op::source_update>(
        session,
        SourceUpdateInput {
            kind,
            name,
            url: None,
            identity: None,
            site: None,
            driver: None,
            enabled: Some(enabled),
            trust: None,
        },
    )
    .await?;
    println!(
        "{} source {} {}.",
        s.kind.as_str(),
        s.name,
        if s.enabled { "syncs again" } else { "is disabled: it is skipped, and its inventory stays as last synced" }
    );
    Ok(())
}

async fn source_add(session: &Session, add: SourceAdd) -> Result<(), Error> {
    let password = add.password.read()?;
    let new_identity = |name: Option<String>| -> Result<Option<NewIdentityInput>, Error> {
        match &add.username {
            None => Ok(None),
            Some(username) => Ok(Some(NewIdentityInput {
                name,
                username: username.clone(),
                password: password
                    .clone()
                    .ok_or_else(|| Error::invalid("give the password with --password-stdin or --password-env VAR"))?,
            })),
        }
    };
    let driver = Some(add.driver.clone()).filter(|d| d != "auto");
    let Some(path) = &add.csv else {
        let name = add.name.clone().ok_or_else(|| Error::invalid("--name is needed"))?;
        let source = api::call::<op::source_add>(
            session,
            SourceAddInput {
                kind: add.kind,
                name,
                url: add.url.clone().ok_or_else(|| Error::invalid("--url is needed"))?,
                identity: add.identity.clone(),
                new_identity: new_identity(add.identity_name.clone())?,
                trust: trust_flags(add.thumbprint.clone(), add.insecure),
                site: add.site.clone(),
                driver,
            },
        )
        .await?;
        println!(
            "Added {} source {} ({}, TLS {}, identity {}).",
            source.kind.as_str(),
            source.name,
            source.url,
            source.tls,
            source.service_identity
        );
        return Ok(());
    };
    if add.kind != SourceKind::Idrac {
        return Err(Error::invalid("--csv adds iDRACs only"));
    }
    let csv = std::fs::read_to_string(path).map_err(|e| Error::invalid(format!("{}: {e}", path.display())))?;
    let result = api::call::<op::source_import_idracs>(
        session,
        IdracImportInput {
            csv,
            identity: add.identity.clone(),
            new_identity: new_identity(add.identity_name.clone())?,
            site: add.site.clone(),
            driver,
            thumbprint: add.thumbprint.clone(),
            insecure: add.insecure,
            dry_run: add.preview,
        },
    )
    .await?;
    output::import(&result, &path.display().to_string(), add.json)?;
    if result.failed == 0 {
        return Ok(());
    }
    let e = Error::invalid(format!(
        "{} row(s) of {} {}",
        result.failed,
        path.display(),
        if result.dry_run { "would not be added" } else { "were not added" }
    ));
    Err(if add.json { e.with_source(output::AlreadyPrinted) } else { e })
}

/// `--thumbprint T` pins, `--insecure` accepts anything, neither verifies.
fn trust_flags(thumbprint: Option<String>, insecure: bool) -> TrustInput {
    match (thumbprint, insecure) {
        (Some(t), _) => TrustInput { mode: TlsMode::Pinned, thumbprint: Some(t) },
        (None, true) => TrustInput { mode: TlsMode::Insecure, thumbprint: None },
        (None, false) => TrustInput { mode: TlsMode::Verify, thumbprint: None },
    }
}

/// Build this machine's worker: its key decrypts the sources' identities.
pub async fn syncer(config: &Config, db: &Database, key_file: Option<&std::path::Path>) -> Result<Syncer, Error> {
    let key = keystore::load(&keystore::locate(config, key_file)).await?;
    Ok(Syncer::new(db.clone(), key, worker_name()))
}

pub fn worker_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").map(|s| s.trim().to_owned()).unwrap_or_default();
    format!("{}:{}", if host.is_empty() { "eio" } else { &host }, std::process::id())
}

/// `eio sync`: a full sync of every enabled source (or those selected), as this machine's
/// worker. Fails (exit 1) when any source failed, after syncing all the others.
pub async fn sync(
    config: &Config,
    db: &Database,
    key_file: Option<&std::path::Path>,
    args: SyncArgs,
) -> Result<(), Error> {
    let syncer = syncer(config, db, key_file).await?;
    let wants = |k: SourceKind| args.kind.is_none_or(|want| want == k);
    let mut reports: Vec<RunReport> = Vec::new();
    let named = args.source.as_deref();
    let all = sources::list(db).await?;
    let has = |k: SourceKind| all.iter().any(|s| s.kind == k && named.is_none_or(|n| n == s.name));
    if named.is_some() && !all.iter().any(|s| Some(s.name.as_str()) == named && wants(s.kind)) {
        return Err(Error::not_found(format!("no source named \"{}\"", named.unwrap_or_default())));
    }
    if wants(SourceKind::Ome) && has(SourceKind::Ome) {
        reports.extend(dell::sync_omes(&syncer, named).await?);
    }
    if wants(SourceKind::Vcenter) && has(SourceKind::Vcenter) {
        reports.extend(vcenter::sync_vcenters(&syncer, named).await?);
    }
    if wants(SourceKind::Idrac) && has(SourceKind::Idrac) {
        reports.extend(dell::sync_idracs(&syncer, named).await?);
    }
    output::sync_reports(&reports, args.json)?;
    if args.watch {
        return watch(&syncer, named, args.json).await;
    }
    let failed = reports.iter().filter(|r| r.outcome == Outcome::Failed).count();
    if failed > 0 {
        Err(Error::new(
            eio_core::error::ErrorCode::Unavailable,
            format!("{failed} of {} source(s) failed to sync", reports.len()),
        ))
    } else {
        Ok(())
    }
}

/// Apply vCenter changes as they happen until Ctrl-C: one watcher per vCenter.
async fn watch(syncer: &Syncer, named: Option<&str>, json: bool) -> Result<(), Error> {
    let vcenters = eio_engine::sync::sources(&syncer.db, SourceKind::Vcenter, named).await?;
    if vcenters.is_empty() {
        return Err(Error::invalid("--watch follows vCenters, and none is selected"));
    }
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    for source in vcenters {
        let (syncer, stop) = (syncer.clone(), stop_rx.clone());
        eprintln!("watching {} for changes (Ctrl-C to stop)", source.name);
        tasks.spawn(async move { vcenter::watch(&syncer, &source, stop).await });
    }
    let _ = tokio::signal::ctrl_c().await;
    let _ = stop_tx.send(true);
    while let Some(done) = tasks.join_next().await {
        if let Ok(Ok(reports)) = done {
            output::sync_reports(&reports, json)?;
        }
    }
    Ok(())
}

pub async fn server(db: &Database, cmd: ServerCommand) -> Result<(), Error> {
    let session = Session::new(db.clone());
    match cmd {
        ServerCommand::List { json } => output::servers(&api::call::<op::servers>(&session, NoInput {}).await?, json),
        ServerCommand::Firmware { server, json } => {
            output::firmware(&api::call::<op::server_firmware>(&session, ServerNameInput { server }).await?, json)
        }
        ServerCommand::Baseline(BaselineCommand::List { json }) => {
            output::baselines(&api::call::<op::firmware_baselines>(&session, NoInput {}).await?, json)
        }
        ServerCommand::Baseline(BaselineCommand::Define { file, json }) => {
            let text =
                std::fs::read_to_string(&file).map_err(|e| Error::invalid(format!("{}: {e}", file.display())))?;
            let input: BaselineInput = serde_json::from_str(&text)
                .map_err(|e| Error::invalid(format!("{}: not a baseline: {e}", file.display())))?;
            let b = api::call::<op::firmware_baseline_define>(&session, input).await?;
            if json {
                return output::baselines(std::slice::from_ref(&b), true);
            }
            println!("Baseline {} defined: {} component(s).", b.name, b.components.len());
            Ok(())
        }
        ServerCommand::Baseline(BaselineCommand::Remove { name, json }) => {
            let left =
                api::call::<op::firmware_baseline_remove>(&session, BaselineNameInput { name: name.clone() }).await?;
            if json {
                return output::baselines(&left, true);
            }
            println!("Baseline {name} removed.");
            Ok(())
        }
    }
}

pub async fn mapping(db: &Database, cmd: MappingCommand) -> Result<(), Error> {
    let session = Session::new(db.clone());
    match cmd {
        MappingCommand::List { json } => {
            output::mappings(&api::call::<op::mappings>(&session, NoInput {}).await?, json)
        }
        MappingCommand::Set { server, host } => {
            let d = api::call::<op::mapping_set>(
                &session,
                ManualMappingInput { server: server.clone(), host: host.clone() },
            )
            .await?;
            let tag = d.server.service_tag.clone().unwrap_or(server);
            let mapped = d.server.esxi_host.clone().unwrap_or(host);
            println!("Mapped {tag} to {mapped} by hand.");
            Ok(())
        }
        MappingCommand::Refresh => {
            let done = api::call::<op::mappings_refresh>(&session, NoInput {}).await?;
            println!("Mappings: {}", done.counts);
            Ok(())
        }
    }
}
